// One image: the input, per-class CAMs as a heat map with class toggles, the segmentation overlay with a
// legend, the ground truth where there is one, and the timings.
import type { ImageResult } from '../evaluation.ts';
import { classesIn, colorOf, drawCamOverlay, drawImage, drawLabelOverlay, drawLabels } from '../render.ts';
import { byId, el, ms } from './dom.ts';

let current: ImageResult | null = null;
let names: readonly string[] = [];
/** Foreground classes (0-based) whose CAM is shown. */
let shown = new Set<number>();

function swatch(c: number): HTMLElement {
  const [r, g, b] = colorOf(c);
  const s = el('span', { className: 'swatch' });
  s.style.background = `rgb(${r}, ${g}, ${b})`;
  return s;
}

function drawCams(): void {
  if (!current?.cams) return;
  drawCamOverlay(byId<HTMLCanvasElement>('cv-cam'), current.image, current.cams, [...shown]);
}

export function showResult(r: ImageResult, classNames: readonly string[]): void {
  current = r;
  names = classNames;
  byId('viewer').hidden = false;
  byId('viewer-id').textContent = `${r.id} (${r.image.width}×${r.image.height})`;
  drawImage(byId<HTMLCanvasElement>('cv-image'), r.image);
  drawLabelOverlay(byId<HTMLCanvasElement>('cv-pred'), r.image, r.pred);
  const predicted = classesIn(r.pred);
  byId('legend').replaceChildren(...predicted.map((c) => el('li', {}, swatch(c), `${c} ${names[c] ?? '?'}`)));
  const gtBox = byId('gt-box');
  gtBox.hidden = !r.gt;
  if (r.gt) drawLabels(byId<HTMLCanvasElement>('cv-gt'), r.gt);
  const camBox = byId('cam-box');
  camBox.hidden = !r.cams;
  if (r.cams) {
    // Start with the classes the model predicts (else all): the heat map is the max over the ticked ones.
    const fg = predicted.filter((c) => c > 0).map((c) => c - 1);
    shown = new Set(fg.length > 0 ? fg : Array.from({ length: r.cams.numClasses }, (_, i) => i));
    byId('cam-toggles').replaceChildren(
      ...Array.from({ length: r.cams.numClasses }, (_, k) => {
        const box = el('input', { type: 'checkbox', checked: shown.has(k), dataset: { cls: String(k + 1) } });
        box.addEventListener('change', () => {
          if (box.checked) shown.add(k);
          else shown.delete(k);
          drawCams();
        });
        return el('label', {}, box, swatch(k + 1), names[k + 1] ?? `class ${k + 1}`);
      }),
    );
    drawCams();
  }
  const t = r.ms;
  byId('timings').textContent = `decode ${ms(t.decode)} · segment ${ms(t.segment)}` + (r.cams ? ` · CAMs ${ms(t.cams)}` : '') + ` · total ${ms(t.decode + t.segment + t.cams)}`;
}
