// Matmul tiles tuned on the training step's own shapes: the first iteration records its matmul and conv
// geometries, then every shape class without tiles for this adapter is timed (the warm-start record keeps the
// winners, so later runs on the adapter skip this).
import { engine, startMatmulRecording, type TuneReport, tuneRecordedMatmuls } from '@seco/tensor';

export type AutotuneSetting = 'auto' | 'on' | 'off';

export class FirstStepTuning {
  private pending: boolean;
  private lines: string[] = [];

  constructor(setting: AutotuneSetting) {
    // CPU rasterizers would spend minutes per class at real size, for tiles that the heuristic already measured.
    this.pending = setting === 'on' || (setting === 'auto' && !engine().isCpu);
  }

  before(): void {
    if (this.pending) startMatmulRecording();
  }

  async after(): Promise<void> {
    if (!this.pending) return;
    this.pending = false;
    this.lines.push(describe(await tuneRecordedMatmuls()));
  }

  /** What tuning chose, once. */
  take(): string[] {
    const out = this.lines;
    this.lines = [];
    return out;
  }
}

function describe(r: TuneReport): string {
  if (r.classes.length === 0) return `matmul tiles: all ${r.skipped} shapes of the step already tuned for this adapter`;
  const gain = r.classes.map((c) => c.worstMs / Math.max(c.bestMs, 1e-6));
  return `matmul tiles tuned for ${r.classes.length} shape classes in ${(r.ms / 1000).toFixed(1)} s (best candidate up to ${Math.max(...gain).toFixed(1)}x faster than the worst)`;
}
