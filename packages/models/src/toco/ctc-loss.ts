// ToCo's class-token contrast, CTCLoss_neg (ToCo model/losses.py), as the code computes it.
import { add, cast, div, eq, exp, log, matmul, mul, ne, permute, reshape, scope, sum, type Tensor, where } from '@seco/tensor';
import { expectFloat, expectRank, fail } from '../losses/check.ts';

export interface CtcLossOptions {
  /** ToCo's --temp: 0.5. */
  temperature?: number;
}

/**
 * CTCLoss_neg(student, teacher, flags) with n = flags.shape[1] views per image (2 global + the local crops):
 *   s (b, n, K) and t (b, 2, K) from the crop-major rows [view0 of every image; view1 …];
 *   e = exp(t · sᵀ / T) (b, 2, n); N_i = Σ_{j: flag_ij = 0} e_i·j (per teacher view);
 *   L_i = [ Σ_{j: flag_ij ≠ 0} −log(e_ij / (e_ij + N_i + 1e-4)) + log(1 + N_i + 1e-4) ] summed over both teacher
 *         views / 2 / (#{j: flag_ij ≠ 0} + 1e-4);
 *   L = mean_i L_i.
 * The log(1 + N + 1e-4) term is the original's `for … else` branch, which runs once after every loop (no
 * break), so it is added once per image; the global views carry flag 1 and count as positives, as in ToCo.
 *
 * student (n·b, K) and teacher (2·b, K) are the projection heads' outputs (the teacher without gradient);
 * flags (b, n), f32 or i32: 0 marks a negative (background) crop.
 */
export function ctcLoss(student: Tensor, teacher: Tensor, flags: Tensor, options: CtcLossOptions = {}): Tensor {
  const op = 'ctcLoss';
  const T = options.temperature ?? 0.5;
  expectRank(op, 'student', student, 2, '(n·b, K)');
  expectRank(op, 'teacher', teacher, 2, '(2·b, K)');
  expectRank(op, 'flags', flags, 2, '(b, n)');
  expectFloat(op, 'student', student);
  expectFloat(op, 'teacher', teacher);
  const [b, n] = flags.shape;
  const K = student.shape[1];
  if (student.shape[0] !== n * b || teacher.shape[0] !== 2 * b || teacher.shape[1] !== K) {
    fail(op, `student must be (n·b, K) = (${n * b}, K) and teacher (2·b, K) = (${2 * b}, ${K}) for flags (${b}, ${n})`, student.shape, teacher.shape, flags.shape);
  }
  if (!(T > 0)) fail(op, `temperature must be > 0, got ${T}`);
  return scope(() => {
    const s = permute(reshape(student, [n, b, K]), [1, 0, 2]);
    const t = permute(reshape(teacher, [2, b, K]), [1, 0, 2]);
    const e = exp(div(matmul(t, s, { transposeB: true }), T));
    const f = reshape(flags, [b, 1, n]);
    const pos = ne(f, 0);
    const negSum = sum(where(eq(f, 0), e, 0), 2, true);
    const denom = add(negSum, 1e-4);
    const posTerms = sum(where(pos, log(div(e, add(e, denom))).neg(), 0), [1, 2]);
    const elseTerms = sum(log(add(denom, 1)), [1, 2]);
    const npos = add(cast(sum(reshape(pos, [b, n]), 1), 'f32'), 1e-4);
    const perImage = div(div(add(posTerms, elseTerms), 2), npos);
    return mul(sum(perImage), 1 / b);
  });
}
