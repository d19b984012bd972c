// npm run gpu:bundle [-- --out DIR]: the GPU report as a folder that runs on a Linux x86-64 machine with a GPU
// driver and nothing else (no Node, no npm, no Vulkan loader): run.sh, runtime.tar.xz (this Node binary, the
// report bundled by esbuild into report.mjs plus the loader's worker.js, dawn.node for linux-x64 only, sharp's
// linux-x64 binaries, Debian's libvulkan1) and the VOC sample's training images for the SeCo iteration.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { sharedDataDir } from '../shared-data.ts';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const MARK = '.seco-gpu-bundle';
/** The folder must stay well under this (it is copied to the GPU machine). */
const MAX_MIB = 60;

/** Packages the bundle loads at run time from node_modules: native code, or required by a computed name. */
const RUNTIME_PACKAGES: { name: string; keep: string[] }[] = [
  { name: 'webgpu', keep: ['package.json', 'index.js', 'LICENSE.md', 'dist/linux-x64'] },
  { name: 'sharp', keep: ['package.json', 'dist', 'LICENSE'] },
  { name: '@img/sharp-linux-x64', keep: ['.'] },
  { name: '@img/sharp-libvips-linux-x64', keep: ['.'] },
  { name: '@img/colour', keep: ['.'] },
  { name: 'detect-libc', keep: ['.'] },
  { name: 'semver', keep: ['.'] },
  // @seco/data's PNG codec requires pngjs' internals by path (createRequire), which esbuild leaves to Node.
  { name: 'pngjs', keep: ['.'] },
];

const sh = (cmd: string, args: string[], cwd?: string) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'] });
const say = (msg: string) => process.stderr.write(`[gpu:bundle] ${msg}\n`);

/** Removes a previous bundle, but never a folder this script did not make. */
function freshDir(dir: string): void {
  if (existsSync(dir) && readdirSync(dir).length) {
    if (!existsSync(join(dir, MARK))) throw new Error(`${dir} exists and is not a GPU bundle (no ${MARK}); choose another --out`);
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, MARK), 'made by npm run gpu:bundle\n');
}

async function bundleReport(runtime: string): Promise<void> {
  await build({
    entryPoints: {
      report: join(repo, 'benchmarks/gpu-report/main.ts'),
      // @seco/data's loader starts its workers from ./worker.js beside the bundle.
      worker: join(repo, 'packages/data/src/loader/worker.ts'),
    },
    outdir: runtime,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    conditions: ['source'],
    external: ['webgpu', 'sharp', '@tensorflow/*'],
    // Bundled CommonJS dependencies call require() for Node's built-ins.
    banner: { js: "import { createRequire as __secoRequire } from 'node:module'; const require = __secoRequire(import.meta.url);" },
    logLevel: 'warning',
  });
  writeFileSync(join(runtime, 'package.json'), '{ "type": "module" }\n');
  copyFileSync(join(repo, 'benchmarks/gpu-report/torch_cases.py'), join(runtime, 'torch_cases.py'));
}

/** A package's folder as Node finds it from `dir`: node_modules/<name> there or in a folder above. */
function packageDir(name: string, dir: string): string {
  for (let d = dir; ; d = dirname(d)) {
    const p = join(d, 'node_modules', name);
    if (existsSync(join(p, 'package.json'))) return realpathSync(p);
    if (dirname(d) === d) throw new Error(`${name} is not installed (looked from ${dir} up); run npm install`);
  }
}

function copyPackages(runtime: string): void {
  // Found from @seco/data, which depends on sharp and pngjs (webgpu sits beside them), so the versions match.
  for (const p of RUNTIME_PACKAGES) {
    const from = packageDir(p.name, join(repo, 'packages/data'));
    const to = join(runtime, 'node_modules', p.name);
    for (const k of p.keep) cpSync(join(from, k), join(to, k), { recursive: true });
  }
}

/** Debian's Vulkan loader: apt-get download, then dpkg -x, keeping libvulkan.so.1. */
function vulkanLoader(runtime: string): void {
  const tmp = mkdtempSync(join(tmpdir(), 'seco-libvulkan-'));
  try {
    sh('apt-get', ['download', 'libvulkan1'], tmp);
    const deb = readdirSync(tmp).find((f) => f.startsWith('libvulkan1_') && f.endsWith('.deb'));
    if (!deb) throw new Error('apt-get download libvulkan1 left no .deb');
    sh('dpkg', ['-x', deb, 'x'], tmp);
    const lib = join(tmp, 'x/usr/lib/x86_64-linux-gnu/libvulkan.so.1');
    mkdirSync(join(runtime, 'lib'), { recursive: true });
    copyFileSync(realpathSync(lib), join(runtime, 'lib/libvulkan.so.1'));
    writeFileSync(join(runtime, 'lib/libvulkan1.txt'), `${deb}\n`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The VOC sample's training images and lists and SeCo's image-level labels, in ../shared/data's layout. */
function vocSample(dataDir: string, out: string): void {
  const voc = join(dataDir, 'voc-sample');
  const ids = readFileSync(join(voc, 'lists/train.txt'), 'utf8').split('\n').map((s) => s.trim()).filter(Boolean);
  for (const list of ['train.txt', 'val.txt']) cpSync(join(voc, 'lists', list), join(out, 'voc-sample/lists', list));
  for (const id of ids) cpSync(join(voc, 'VOC2012/JPEGImages', `${id}.jpg`), join(out, 'voc-sample/VOC2012/JPEGImages', `${id}.jpg`));
  const labels = 'voc-full-labels/cls_labels_from_seco_npy.json';
  cpSync(join(dataDir, labels), join(out, labels));
}

function folderBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) n += statSync(join(e.parentPath, e.name)).size;
  return n;
}

async function main(): Promise<void> {
  if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error(`the bundle is for Linux x86-64 and takes this machine's Node; this is ${process.platform}-${process.arch}`);
  const { values } = parseArgs({ options: { out: { type: 'string' }, data: { type: 'string' } }, strict: true });
  const out = resolve(values.out ?? join(repo, '.gpu'));
  freshDir(out);
  const staging = mkdtempSync(join(tmpdir(), 'seco-gpu-runtime-'));
  try {
    say('bundling the report with esbuild');
    await bundleReport(staging);
    copyPackages(staging);
    say('Vulkan loader: apt-get download libvulkan1');
    vulkanLoader(staging);
    copyFileSync(process.execPath, join(staging, 'node'));
    chmodSync(join(staging, 'node'), 0o755);
    say(`compressing ${(folderBytes(staging) / 2 ** 20).toFixed(0)} MiB into runtime.tar.xz (a minute or two)`);
    sh('tar', ['-c', '-I', 'xz -T0 -6', '-f', join(out, 'runtime.tar.xz'), '-C', staging, '.']);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  // run.sh unpacks again when this changes.
  writeFileSync(join(out, 'runtime.stamp'), `${new Date().toISOString()} node ${process.version}\n`);
  copyFileSync(join(repo, 'benchmarks/bundle/run.sh'), join(out, 'run.sh'));
  chmodSync(join(out, 'run.sh'), 0o755);
  vocSample(values.data ?? sharedDataDir(), join(out, 'data'));
  const mib = folderBytes(out) / 2 ** 20;
  if (mib > MAX_MIB) throw new Error(`the bundle is ${mib.toFixed(1)} MiB, over ${MAX_MIB} MiB`);
  say(`${out}: ${mib.toFixed(1)} MiB. On the GPU machine: ./run.sh OUT_DIR [--quick]`);
}

main().catch((e) => {
  console.error(`gpu:bundle: ${(e as Error).message}`);
  process.exit(1);
});
