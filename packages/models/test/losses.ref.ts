// f64 CPU references of SeCo's losses, written from the spec (§3.6), for finite-difference checks.
import type { ND } from '../../../test/support/gradcheck.ts';

const scalarND = (v: number): ND => ({ data: Float64Array.of(v), shape: [] });

/** get_seg_loss on logits (B, C, H, W) and labels (B·H·W) without resizing. */
export function segRef(pred: ND, label: readonly number[], ignore = 255): ND {
  const [B, C, H, W] = pred.shape;
  const S = H * W;
  let bg = 0;
  let fg = 0;
  let nbg = 0;
  let nfg = 0;
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < S; s++) {
      const t = label[b * S + s];
      if (t === ignore) continue;
      const x = (c: number) => pred.data[(b * C + c) * S + s];
      let m = -Infinity;
      for (let c = 0; c < C; c++) m = Math.max(m, x(c));
      let z = 0;
      for (let c = 0; c < C; c++) z += Math.exp(x(c) - m);
      const ce = m + Math.log(z) - x(t);
      if (t === 0) {
        bg += ce;
        nbg++;
      } else {
        fg += ce;
        nfg++;
      }
    }
  }
  return scalarND(0.5 * (bg / (nbg + 1e-6) + fg / (nfg + 1e-6)));
}

/** get_masked_ptc_loss on fmap (B, C, h, w) and aff (B·n·n). */
export function ptcRef(fmap: ND, aff: readonly number[]): ND {
  const [B, C, h, w] = fmap.shape;
  const n = h * w;
  let sp = 0;
  let sn = 0;
  let np = 0;
  let nn = 0;
  for (let b = 0; b < B; b++) {
    const unit: number[][] = [];
    for (let i = 0; i < n; i++) {
      const v = Array.from({ length: C }, (_, c) => fmap.data[(b * C + c) * n + i]);
      const norm = Math.max(Math.hypot(...v), 1e-8);
      unit.push(v.map((x) => x / norm));
    }
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const a = aff[(b * n + i) * n + j];
        const cos = Math.abs(unit[i].reduce((s, x, c) => s + x * unit[j][c], 0));
        if (a === 1) {
          sp += cos;
          np++;
        } else if (a === 0) {
          sn += cos;
          nn++;
        }
      }
    }
  }
  return scalarND(0.5 * (1 - sp / (np + 1)) + (0.5 * sn) / (nn + 1));
}

const dot = (a: ND, i: number, b: ND, j: number, D: number) => {
  let s = 0;
  for (let d = 0; d < D; d++) s += a.data[i * D + d] * b.data[j * D + d];
  return s;
};

/** LIG_Loss on q (b, D), prototypes (C, D) and flags (b). */
export function ligRef(q: ND, protos: ND, flags: readonly number[], T: number): ND {
  const [b, D] = q.shape;
  const C = protos.shape[0];
  const present = new Set(flags.filter((f) => f >= 1 && f <= C));
  let total = 0;
  let nPos = 0;
  for (let i = 0; i < b; i++) {
    let Z = 0;
    const s = Array.from({ length: C }, (_, c) => dot(q, i, protos, c, D) / T);
    for (let c = 0; c < C; c++) if (present.has(c + 1) && s[c] !== 0) Z += Math.exp(s[c]);
    for (let c = 0; c < C; c++) {
      if (flags[i] !== c + 1) continue;
      nPos++;
      if (Z > 0 && s[c] !== 0) total += s[c] - Math.log(Z + 1e-12);
    }
  }
  return scalarND(-total / (nPos > 0 ? nPos : b));
}

/** LIL_Loss on q (b, D), keys (N, D) = queue_all[b:], flags (b) and key flags (N): loss and revised flags. */
export function lilRef(q: ND, keys: ND, flags: readonly number[], keyFlags: readonly number[], T: number): { loss: number; flags: number[] } {
  const [b, D] = q.shape;
  const N = keys.shape[0];
  const revised = [...flags];
  const lp: number[][] = [];
  const l: number[][] = [];
  for (let i = 0; i < b; i++) {
    const s = Array.from({ length: N }, (_, j) => dot(q, i, keys, j, D) / T);
    const m = Math.max(...s);
    const row = s.map((v) => (flags[i] === -1 ? 0 : v - m));
    const pos = row.map((v, j) => (flags[i] !== -1 && flags[i] === keyFlags[j] ? v : 0));
    const mean = pos.reduce((a, v) => a + v, 0) / N;
    const below = pos.filter((v) => v < mean).length;
    const above = pos.filter((v) => v >= mean).length;
    if (below / (above + 1e-6) > 10) {
      revised[i] = 0;
      pos.fill(0);
    }
    lp.push(pos);
    l.push(row.map((v, j) => (keyFlags[j] === -1 ? 0 : v)));
  }
  const nnz = lp.flat().filter((v) => v !== 0).length;
  let total = 0;
  for (let i = 0; i < b; i++) {
    const Z = l[i].reduce((a, v) => a + (v !== 0 ? Math.exp(v) : 0), 0);
    const rowSum = lp[i].reduce((a, v) => a + v, 0) - N * Math.log(Z + 1e-12);
    if (nnz > 0 && Z > 0 && rowSum < 0) total += rowSum / nnz;
  }
  return { loss: -total / b, flags: revised };
}
