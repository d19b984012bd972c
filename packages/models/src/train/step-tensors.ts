// What a training step holds while it runs: the tensors it made, freed when it ends however it ends, and the
// energy loss whose host part may still be running when the step fails.
import type { Tensor } from '@seco/tensor';

export class StepTensors {
  private readonly owned: Tensor[] = [];
  private energy: Promise<Tensor> | null = null;

  /** Frees `t` (if any) when the step ends; returns it. */
  readonly own = <T extends Tensor | null>(t: T): T => {
    if (t) this.owned.push(t);
    return t;
  };

  /** Keeps the pending energy loss (or none) until the step takes it. */
  holdEnergy(pending: Promise<Tensor> | null): void {
    this.energy = pending;
    pending?.catch(() => {}); // taken later; a step that fails before then must not crash the process
  }

  /** The energy loss once its host part is done, owned from then on; null when none was started. */
  async takeEnergy(): Promise<Tensor | null> {
    const pending = this.energy;
    if (!pending) return null;
    this.energy = null;
    return this.own(await pending);
  }

  /** Frees everything; an energy loss not yet taken is freed once its host part is done. */
  dispose(): void {
    for (const t of this.owned) if (!t.disposed) t.dispose();
    void this.energy?.then((t) => t.dispose(), () => {});
  }
}
