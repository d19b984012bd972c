// The running per-class IoU table, mIoU and confusion matrix (scores as SeCo's evaluate.py computes them).
import type { ConfusionMatrix } from '@seco/models';
import { byId, el, pct } from './dom.ts';

export function resetIou(names: readonly string[]): void {
  byId('miou').textContent = '-';
  byId('iou-body').replaceChildren(...names.map((n, c) => el('tr', { dataset: { cls: String(c) } }, el('td', { textContent: String(c) }), el('td', { textContent: n }), el('td', { className: 'num', textContent: '-' }))));
  byId('confusion').replaceChildren();
}

export function updateIou(cm: ConfusionMatrix, names: readonly string[], scored: number): void {
  const s = cm.scores();
  byId('miou').textContent = scored > 0 ? `${pct(s.miou)}%` : '-';
  byId('miou').dataset.value = String(s.miou);
  byId('pixel-acc').textContent = scored > 0 ? `pixel accuracy ${pct(s.pixelAccuracy)}%, mean accuracy ${pct(s.meanAccuracy)}%, ${scored} images with ground truth` : '';
  const rows = byId('iou-body').children;
  for (let c = 0; c < names.length; c++) {
    const row = rows[c] as HTMLTableRowElement;
    const cell = row.cells[2];
    const iou = Number.isNaN(s.iou[c]) ? null : s.iou[c];
    cell.textContent = pct(iou) + (s.valid[c] || iou === null ? '' : ' (absent)');
    row.classList.toggle('absent', !s.valid[c]);
  }
  // Row = ground truth, column = prediction, pixels.
  const n = cm.numClasses;
  const head = el('tr', {}, el('th', { textContent: 'gt \\ pred' }), ...names.map((_, c) => el('th', { textContent: String(c) })));
  const body = names.map((_, g) => el('tr', {}, el('th', { textContent: String(g) }), ...names.map((_, p) => el('td', { textContent: String(cm.hist[g * n + p]) }))));
  byId('confusion').replaceChildren(el('thead', {}, head), el('tbody', {}, ...body));
}
