// The folder `npm run gpu:bundle` makes, run as on a machine without Node: a copy outside the repository, an
// empty environment, the bundled Vulkan loader, --quick. Building takes minutes (xz of ~140 MiB), so this runs
// on a bundle already built: SECO_GPU_BUNDLE=.gpu npx vitest run test/gpu-bundle.test.ts
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { GpuReport } from '../gpu-report/report.ts';

const built = process.env.SECO_GPU_BUNDLE;

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; out: string }> {
  return new Promise((done) => {
    execFile(cmd, args, { env, encoding: 'utf8', timeout: 600_000, maxBuffer: 64 << 20 }, (e, stdout, stderr) =>
      done({ status: e ? (typeof e.code === 'number' ? e.code : null) : 0, out: stdout + stderr }),
    );
  });
}

describe.skipIf(!built)('gpu:bundle (SECO_GPU_BUNDLE names a built bundle)', () => {
  test('run.sh unpacks its Node and runs the quick report with nothing from the repository', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'seco-bundle-')), 'bundle');
    cpSync(resolve(built!), dir, { recursive: true });
    const out = join(dir, '..', 'out');
    // Only PATH: no node_modules, no NODE_* settings, no tsx; the bundled loader even where the system has one.
    const env = { PATH: '/usr/bin:/bin', HOME: tmpdir(), SECO_VULKAN_LOADER: 'bundled' };
    expect((await run(join(dir, 'run.sh'), [], env)).status).toBe(2);

    const r = await run(join(dir, 'run.sh'), [out, '--quick'], env);
    expect(r.status, r.out.slice(-3000)).toBe(0);
    expect(r.out).toContain('unpacking runtime.tar.xz');
    expect(r.out).toContain('Vulkan loader from the bundle');
    expect(existsSync(join(dir, 'runtime', 'node'))).toBe(true);
    const json = readdirSync(out).find((f) => f.endsWith('-quick.json'))!;
    expect(readdirSync(out).sort()).toEqual([json, json.replace('.json', '.md'), 'report.log'].sort());
    const report = JSON.parse(readFileSync(join(out, json), 'utf8')) as GpuReport;
    for (const row of report.rows) expect(row.status, `${row.id}: ${row.error}`).toBe('ok');
    expect(report.host.node).toBe(readFileSync(join(dir, 'runtime.stamp'), 'utf8').match(/node (v[\d.]+)/)![1]);

    // A second run reuses the unpacked runtime.
    const again = await run(join(dir, 'run.sh'), [out, '--quick', '--only', 'adapter', '--no-torch'], env);
    expect(again.status, again.out.slice(-2000)).toBe(0);
    expect(again.out).not.toContain('unpacking');
  }, 900_000);
});
