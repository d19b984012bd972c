// The frozen teachers that follow a student module (SeCo's encoder_k and proj_head_t, ToCo's proj_head_t): a copy
// of the student at the start, then an EMA of it every step.
import { ema, type nn, type Tensor } from '@seco/tensor';

/** teacher ← student, frozen (the originals' init copies). */
export function copyToTeacher(teacher: nn.AnyModule, student: nn.AnyModule): void {
  teacher.loadStateDict(student.stateDict());
  teacher.requiresGrad_(false);
}

/**
 * teacher ← m·teacher + (1−m)·student, every parameter. `read` gives the value a student parameter is read as
 * (its f32 master under mixed precision); absent or undefined, the parameter itself.
 */
export function emaToTeacher(teacher: nn.AnyModule, student: nn.AnyModule, m: number, read?: ((param: Tensor) => Tensor | undefined) | null): void {
  const sources = Object.fromEntries(student.namedParameters().map(([n, p]) => [n, read?.(p) ?? p]));
  ema(Object.fromEntries(teacher.namedParameters()), sources, m);
}
