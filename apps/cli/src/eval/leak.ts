// Co-occurrence leak on the synthetic set: of the pixels that show a class's context (water for boats, rails for
// trains...; background in the ground truth), the share predicted as that co-occurring class.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeIndexPng } from '@seco/data';

export class CooccurrenceLeak {
  private readonly hits: Float64Array;
  private readonly pixels: Float64Array;
  constructor(readonly numClasses: number) {
    this.hits = new Float64Array(numClasses + 1);
    this.pixels = new Float64Array(numClasses + 1);
  }

  /** context: 0, or the 1-based class whose context covers the pixel; pred: class ids, both at the image's size. */
  add(context: Uint8Array, pred: Uint8Array): void {
    if (context.length !== pred.length) throw new Error(`context mask of ${context.length} pixels, prediction of ${pred.length}`);
    for (let i = 0; i < context.length; i++) {
      const k = context[i];
      if (k === 0) continue;
      this.pixels[k]++;
      if (pred[i] === k) this.hits[k]++;
    }
  }

  /** Over every context pixel of every class (NaN when there is none). */
  share(): number {
    let h = 0;
    let n = 0;
    for (let k = 1; k <= this.numClasses; k++) [h, n] = [h + this.hits[k], n + this.pixels[k]];
    return h / n;
  }

  /** Per foreground class (index 0 is class 1), null where its context never appears. */
  perClass(): (number | null)[] {
    return Array.from({ length: this.numClasses }, (_, i) => (this.pixels[i + 1] ? this.hits[i + 1] / this.pixels[i + 1] : null));
  }
}

/** ContextMasks/<id>.png written by generateSynthetic. */
export async function readContextMask(root: string, id: string): Promise<Uint8Array> {
  const file = join(root, 'ContextMasks', `${id}.png`);
  return decodeIndexPng(await readFile(file), file).data;
}
