// f64 CPU reference of ToCo's CTCLoss_neg, transcribed loop for loop from the original (model/losses.py).
import type { ND } from '../../../test/support/gradcheck.ts';

/** student (n·b, K), teacher (2·b, K), flags (b·n) row-major; temperature T. */
export function ctcRef(student: ND, teacher: ND, flags: readonly number[], b: number, T: number): ND {
  const K = student.shape[1];
  const n = flags.length / b;
  // student_output.reshape(ncrops, b, -1).permute(1, 0, 2): view j of image i is row j·b + i.
  const s = (i: number, j: number, k: number) => student.data[(j * b + i) * K + k];
  const t = (i: number, v: number, k: number) => teacher.data[(v * b + i) * K + k];
  const logits = (i: number, v: number, j: number) => {
    let d = 0;
    for (let k = 0; k < K; k++) d += t(i, v, k) * s(i, j, k);
    return Math.exp(d / T);
  };
  let total = 0;
  for (let i = 0; i < b; i++) {
    const pos: number[] = [];
    for (let j = 0; j < n; j++) if (flags[i * n + j] !== 0) pos.push(j);
    let loss = 0; // loss.sum() over both teacher views
    for (let v = 0; v < 2; v++) {
      let neg = 0;
      for (let j = 0; j < n; j++) if (flags[i * n + j] === 0) neg += logits(i, v, j);
      for (const j of pos) {
        const p = logits(i, v, j);
        loss += -Math.log(p / (p + neg + 1e-4));
      }
      // the for-else branch: runs once after the loop
      loss += -Math.log(1 / (1 + neg + 1e-4));
    }
    total += loss / 2 / (pos.length + 1e-4);
  }
  return { data: Float64Array.of(total / b), shape: [] };
}
