// The page: WebGPU check, checkpoint, images, evaluation and the viewer, wired to the DOM of index.html.
import { type EvalOptions, type OpenedModel } from '@seco/models';
import { classNames } from './class-names.ts';
import { fromDrop, fromInput } from './drop.ts';
import { evaluateSamples, type FileProblem, isFileProblem, runSample } from './evaluation.ts';
import { type Picked, type PickedFile, type Sample, selectSamples, sortPicked } from './files.ts';
import { startGpu } from './gpu.ts';
import { openCheckpoint } from './model-loader.ts';
import { byId, el, ms } from './ui/dom.ts';
import { resetIou, updateIou } from './ui/iou-table.ts';
import { clearMessages, showNote, showProblem } from './ui/messages.ts';
import { showResult } from './ui/viewer.ts';

let gpuReady = false;
let opened: OpenedModel | null = null;
let lastCheckpoint: { source: Blob; name: string } | null = null;
let picked: Picked | null = null;
let busy = false;
let stopRequested = false;

const input = <T extends HTMLElement = HTMLInputElement>(id: string) => byId<T>(id) as T;

function refreshButtons(): void {
  input<HTMLButtonElement>('run').disabled = busy || !gpuReady || !opened || !picked || picked.images.size === 0;
  input<HTMLButtonElement>('stop').disabled = !busy;
  for (const id of ['ckpt-file', 'ckpt-url-load', 'heads-apply', 'images', 'folder']) input<HTMLInputElement>(id).disabled = busy;
}

/** Runs `task` with the page marked busy; any error becomes a message, and the page stays usable. */
async function exclusive(task: () => Promise<void>): Promise<void> {
  if (busy) return;
  busy = true;
  refreshButtons();
  try {
    await task();
  } catch (e) {
    showProblem(isFileProblem(e) ? e.message : (e as Error).message);
  } finally {
    busy = false;
    refreshButtons();
  }
}

// ---- checkpoint

function describeModel(o: OpenedModel): void {
  const c = o.model.config;
  const m = c.model;
  const source = o.configSource === 'checkpoint' ? 'seco checkpoint; network built from the config stored in it' : `${o.kind} state_dict; network shape inferred from the tensor shapes`;
  const info = byId('model-info');
  info.dataset.state = 'loaded';
  info.replaceChildren(
    el('div', {}, el('strong', { textContent: o.name }), ` (${source})`),
    el('div', { textContent: `ViT: ${m.depth} blocks of width ${m.embed_dim}, ${m.num_heads} heads, patch ${m.patch_size}, trained at ${c.train.crop_size} px; ${c.data.num_classes} classes + background` }),
    ...(o.assumed.length > 0 ? [el('ul', {}, ...o.assumed.map((a) => el('li', { textContent: `assumed: ${a}` })))] : []),
  );
  byId('heads-box').hidden = o.configSource !== 'inferred';
  input('heads').value = String(m.num_heads);
  setOptions(c.eval);
}

function setOptions(e: EvalOptions): void {
  input('opt-size').value = String(e.size);
  input('opt-scales').value = e.scales.join(', ');
  input('opt-flip').checked = e.flip;
  input('opt-crf').checked = e.crf;
}

async function loadCheckpoint(source: Blob, name: string, numHeads?: number): Promise<void> {
  if (!gpuReady) throw new Error(`${name}: cannot be loaded without WebGPU (see the message at the top of the page)`);
  const next = await openCheckpoint(source, name, numHeads);
  opened?.model.dispose();
  opened = next;
  lastCheckpoint = { source, name };
  describeModel(next);
  resetIou(classNames(next.model.config.data.num_classes));
}

// ---- images

function fillSelect(select: HTMLSelectElement, options: [string, string][]): void {
  select.replaceChildren(...options.map(([value, text]) => el('option', { value, textContent: text })));
}

async function setPicked(files: PickedFile[]): Promise<void> {
  picked = await sortPicked(files);
  const p = picked;
  const info = byId('data-info');
  info.dataset.state = p.images.size > 0 ? 'picked' : 'none';
  info.textContent = `${p.images.size} images, ${p.maskFolders.length} mask folder${p.maskFolders.length === 1 ? '' : 's'}, ${p.lists.length} list${p.lists.length === 1 ? '' : 's'}` + (p.ignored.length ? `; ignored: ${p.ignored.slice(0, 5).join(', ')}${p.ignored.length > 5 ? ', …' : ''}` : '');
  fillSelect(input<HTMLSelectElement>('mask-folder'), [...p.maskFolders.map((m, i): [string, string] => [String(i), `${m.folder} (${m.matches} of the images)`]), ['-1', 'none']]);
  // A list named val (SeCo's evaluation split) is the default set when there is one.
  const listOptions = p.lists.map((l, i): [string, string] => [String(i), `${l.path} (${l.ids.length} ids)`]);
  fillSelect(input<HTMLSelectElement>('list'), [['-1', `all images (${p.images.size})`], ...listOptions]);
  const val = p.lists.findIndex((l) => /(^|\/)val\.txt$/.test(l.path));
  input<HTMLSelectElement>('list').value = String(val);
  if (p.images.size === 0) showProblem(`no images among the ${files.length} picked files (JPEG or PNG outside a mask folder)`);
}

function chosenSamples(): Sample[] {
  const p = picked!;
  const mi = Number(input<HTMLSelectElement>('mask-folder').value);
  const li = Number(input<HTMLSelectElement>('list').value);
  const limit = Number(input('limit').value) || null;
  const { samples, missing } = selectSamples(p, { list: li >= 0 ? p.lists[li] : null, maskFolder: mi >= 0 ? p.maskFolders[mi] : null, limit });
  if (missing.length > 0) showNote(`${p.lists[li].path}: ${missing.length} ids have no image among the picked files (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''})`);
  return samples;
}

// ---- options and evaluation

function readOptions(): EvalOptions {
  const size = Number(input('opt-size').value);
  if (!(Number.isInteger(size) && size >= 16)) throw new Error(`size must be an integer >= 16, got "${input('opt-size').value}"`);
  const words = input('opt-scales').value.split(/[\s,]+/).filter(Boolean);
  const scales = words.map(Number);
  if (scales.length === 0 || scales.some((s) => !(s > 0))) throw new Error(`scales must be positive numbers separated by commas, got "${input('opt-scales').value}"`);
  return { size, scales, flip: input('opt-flip').checked, crf: input('opt-crf').checked };
}

function progress(done: number, total: number, state: string, text: string): void {
  const bar = input<HTMLProgressElement>('progress');
  bar.max = Math.max(1, total);
  bar.value = done;
  const t = byId('progress-text');
  t.dataset.state = state;
  t.textContent = text;
}

const CAM_SCALES = [1];

async function evaluate(): Promise<void> {
  const model = opened!.model;
  const names = classNames(model.config.data.num_classes);
  const options = { eval: readOptions(), camScales: input('opt-cams').checked ? CAM_SCALES : null };
  const samples = chosenSamples();
  if (samples.length === 0) throw new Error('no images in the chosen set');
  resetIou(names);
  byId('images-body').replaceChildren();
  stopRequested = false;
  const t0 = performance.now();
  progress(0, samples.length, 'running', `0 / ${samples.length}`);
  const state = await evaluateSamples(model, samples, options, {
    stopped: () => stopRequested,
    onProblem: (p: FileProblem, s) => {
      showProblem(`${p.message} (skipped)`);
      progress(s.done, s.total, 'running', `${s.done} / ${s.total}`);
    },
    onImage: async (r, s) => {
      updateIou(s.cm, names, s.scored);
      showResult(r, names);
      const sample = samples.find((x) => x.id === r.id)!;
      const row = el('tr', { dataset: { id: r.id } }, el('td', { textContent: r.id }), el('td', { textContent: `${r.image.width}×${r.image.height}` }), el('td', { textContent: ms(r.ms.segment) }), el('td', { textContent: r.cams ? ms(r.ms.cams) : '-' }));
      row.addEventListener('click', () => void exclusive(async () => showResult(await runSample(model, sample, options), names)));
      byId('images-body').append(row);
      progress(s.done, s.total, 'running', `${s.done} / ${s.total}`);
      // Let the page paint between images.
      await new Promise((res) => setTimeout(res, 0));
    },
  });
  const secs = (performance.now() - t0) / 1000;
  const how = stopRequested ? 'stopped' : 'done';
  progress(state.done, state.total, how, `${state.done} / ${state.total} ${how} in ${secs.toFixed(1)} s (${(secs / Math.max(1, state.done)).toFixed(2)} s per image)` + (state.problems.length ? `, ${state.problems.length} skipped` : ''));
}

// ---- wiring

async function start(): Promise<void> {
  const status = byId('gpu-status');
  const gpu = await startGpu();
  if (gpu.ok) {
    gpuReady = true;
    status.dataset.state = 'ok';
    status.textContent = `WebGPU adapter: ${gpu.adapter}${gpu.f16 ? ' (shader-f16)' : ' (no shader-f16; f32 throughout)'}`;
  } else {
    status.dataset.state = 'missing';
    status.textContent = gpu.message;
  }
  refreshButtons();
}

input('ckpt-file').addEventListener('change', () => {
  const f = input('ckpt-file').files?.[0];
  if (f) void exclusive(() => loadCheckpoint(f, f.name));
});
input('ckpt-url-load').addEventListener('click', () => {
  const url = input('ckpt-url').value.trim();
  if (url) void exclusive(async () => loadCheckpoint(await fetchBlob(url), url));
});
input('heads-apply').addEventListener('click', () => {
  if (lastCheckpoint) void exclusive(() => loadCheckpoint(lastCheckpoint!.source, lastCheckpoint!.name, Number(input('heads').value)));
});
for (const id of ['images', 'folder']) input(id).addEventListener('change', () => void exclusive(() => setPicked(fromInput(input(id)))));
input('run').addEventListener('click', () => {
  clearMessages();
  void exclusive(evaluate);
});
input('stop').addEventListener('click', () => (stopRequested = true));

async function fetchBlob(url: string): Promise<Blob> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new Error(`${url}: cannot fetch (${(e as Error).message})`);
  }
  if (!res.ok) throw new Error(`${url}: cannot fetch (HTTP ${res.status} ${res.statusText})`);
  return res.blob();
}

// Drag and drop: a checkpoint file loads as the model; anything else (images, masks, lists, folders) as images.
const hint = byId('drop-hint');
window.addEventListener('dragover', (e) => {
  e.preventDefault();
  hint.hidden = false;
});
window.addEventListener('dragleave', (e) => {
  if (e.relatedTarget === null) hint.hidden = true;
});
window.addEventListener('drop', (e) => {
  e.preventDefault();
  hint.hidden = true;
  if (!e.dataTransfer) return;
  const dt = e.dataTransfer;
  void exclusive(async () => {
    const files = await fromDrop(dt);
    const ck = files.filter((f) => /\.(safetensors|pth|pt)$/i.test(f.path));
    if (ck.length > 0) await loadCheckpoint(ck[0].file, ck[0].path);
    const rest = files.filter((f) => !ck.includes(f));
    if (rest.length > 0) await setPicked(rest);
  });
});

// ?checkpoint=URL loads a checkpoint when the page opens (e.g. a link to a released model).
const preset = new URLSearchParams(location.search).get('checkpoint');
void start().then(() => {
  if (preset) {
    input('ckpt-url').value = preset;
    return exclusive(async () => loadCheckpoint(await fetchBlob(preset), preset));
  }
});
