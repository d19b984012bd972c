/**
 * Dataset-level confusion-matrix scores, as SeCo's utils/evaluate.py `scores`: pixels with 0 <= gt < nc count
 * (255 is ignored), IoU_c = hist_cc / (row_c + col_c - hist_cc), and mIoU averages only classes present in the
 * ground truth (a class predicted but absent from the GT is excluded).
 */
export interface Scores {
  /** Per class; NaN where the class is absent from both GT and prediction. */
  iou: number[];
  /** Classes present in the ground truth (row sum > 0). */
  valid: boolean[];
  miou: number;
  pixelAccuracy: number;
  meanAccuracy: number;
}

type Labels = ArrayLike<number>;

export class ConfusionMatrix {
  /** Row = ground truth, column = prediction. */
  readonly hist: Float64Array;

  constructor(readonly numClasses: number) {
    if (!Number.isInteger(numClasses) || numClasses < 2) throw new Error(`ConfusionMatrix: numClasses must be an integer >= 2, got ${numClasses}`);
    this.hist = new Float64Array(numClasses * numClasses);
  }

  /** Adds one image (flat label maps of equal length). Predictions outside 0..nc-1 are an error, not a skip. */
  add(gt: Labels, pred: Labels, name = 'image'): this {
    if (gt.length !== pred.length) {
      throw new Error(`ConfusionMatrix.add: ${name} has ${gt.length} ground-truth pixels but ${pred.length} predicted`);
    }
    const nc = this.numClasses;
    for (let i = 0; i < gt.length; i++) {
      const g = gt[i];
      if (g < 0 || g >= nc) continue;
      const p = pred[i];
      if (!(p >= 0 && p < nc)) throw new Error(`ConfusionMatrix.add: ${name} predicts class ${p} at pixel ${i}, outside 0..${nc - 1}`);
      this.hist[g * nc + p]++;
    }
    return this;
  }

  merge(other: ConfusionMatrix): this {
    if (other.numClasses !== this.numClasses) throw new Error('ConfusionMatrix.merge: class counts differ');
    for (let i = 0; i < this.hist.length; i++) this.hist[i] += other.hist[i];
    return this;
  }

  scores(): Scores {
    const nc = this.numClasses;
    const iou: number[] = [];
    const valid: boolean[] = [];
    const accs: number[] = [];
    let diag = 0;
    let total = 0;
    for (let c = 0; c < nc; c++) {
      let row = 0;
      let col = 0;
      for (let k = 0; k < nc; k++) {
        row += this.hist[c * nc + k];
        col += this.hist[k * nc + c];
      }
      const tp = this.hist[c * nc + c];
      diag += tp;
      total += row;
      const union = row + col - tp;
      iou.push(union === 0 ? NaN : tp / union);
      valid.push(row > 0);
      if (row > 0) accs.push(tp / row);
    }
    const validIou = iou.filter((v, c) => valid[c] && !Number.isNaN(v));
    return {
      iou,
      valid,
      miou: nanMean(validIou),
      pixelAccuracy: total === 0 ? NaN : diag / total,
      meanAccuracy: nanMean(accs),
    };
  }
}

function nanMean(xs: number[]): number {
  const v = xs.filter((x) => !Number.isNaN(x));
  return v.length === 0 ? NaN : v.reduce((a, b) => a + b, 0) / v.length;
}
