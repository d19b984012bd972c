// What the GPU report measures, each case with a time budget (a case over it is killed and reported as such).
// Full: SeCo's real sizes, budgets summing to 7.6 minutes with PyTorch. Quick: small shapes that run on lavapipe.
import { VIT_B16, type ViTConfig } from '@seco/models';
import type { SecoStepOptions } from '../seco-step/config.ts';
import { TINY_STEP_SETS } from '../seco-step/tiny.ts';
import { D as HEAD_DIM, H as HEADS } from '../suites/attention.ts';
import { type MatmulShape, matmulShapeLabel, SHAPES } from '../suites/matmul.ts';

interface Base {
  id: string;
  /** Seconds the case may take, process start included. */
  budgetS: number;
}
export type ReportCase = Base &
  (
    | { kind: 'adapter' }
    | { kind: 'fma' }
    | { kind: 'matmul'; shape: MatmulShape }
    | { kind: 'attention'; B: number; N: number; backward: boolean; dtype?: 'f32' | 'f16' }
    | { kind: 'vit'; config: ViTConfig; batch: number; size: number; backward: boolean }
    | { kind: 'seco-step'; step: Omit<SecoStepOptions, 'dataDir'> }
  );

/** The PyTorch process (import, CUDA start-up and every torch case). */
export const TORCH_BUDGET_S = 60;
/** The whole report stops starting cases past this (8 minutes less a margin for the last one's clean-up). */
export const REPORT_DEADLINE_S = 465;

const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

const TINY_VIT: ViTConfig = { ...VIT_B16, embedDim: 64, depth: 2, numHeads: 2, auxLayer: -1 };

function fullCases(): ReportCase[] {
  const matmuls = SHAPES.filter((s) => s.dtype === undefined);
  return [
    { id: 'adapter', kind: 'adapter', budgetS: 15 },
    { id: 'fma', kind: 'fma', budgetS: 20 },
    ...matmuls.map((shape): ReportCase => ({ id: `matmul-${slug(shape.name)}-${shape.M}x${shape.K}x${shape.N}`, kind: 'matmul', shape, budgetS: 12 })),
    { id: 'attention-fwd', kind: 'attention', B: 4, N: 785, backward: false, budgetS: 20 },
    { id: 'attention-fwd-bwd', kind: 'attention', B: 4, N: 785, backward: true, budgetS: 20 },
    // f16 storage, f32 arithmetic; skipped where the adapter lacks shader-f16
    { id: 'attention-f16-fwd-bwd', kind: 'attention', B: 4, N: 785, backward: true, dtype: 'f16', budgetS: 15 },
    { id: 'vit-b16-fwd', kind: 'vit', config: VIT_B16, batch: 4, size: 448, backward: false, budgetS: 40 },
    { id: 'vit-b16-fwd-bwd', kind: 'vit', config: VIT_B16, batch: 4, size: 448, backward: true, budgetS: 40 },
    { id: 'seco-step-voc', kind: 'seco-step', step: { preset: 'voc', iterations: 2 }, budgetS: 130 },
  ];
}

function quickCases(): ReportCase[] {
  return [
    { id: 'adapter', kind: 'adapter', budgetS: 30 },
    { id: 'fma', kind: 'fma', budgetS: 60 },
    { id: 'matmul-square-256', kind: 'matmul', shape: { name: 'square', batch: 1, M: 256, K: 256, N: 256 }, budgetS: 60 },
    { id: 'matmul-qkt-2x65x64x65', kind: 'matmul', shape: { name: 'q·kᵀ, 2 heads', batch: 2, M: 65, K: 64, N: 65, transposeB: true }, budgetS: 60 },
    { id: 'attention-fwd', kind: 'attention', B: 1, N: 65, backward: false, budgetS: 90 },
    { id: 'attention-fwd-bwd', kind: 'attention', B: 1, N: 65, backward: true, budgetS: 90 },
    { id: 'vit-tiny-fwd-bwd', kind: 'vit', config: TINY_VIT, batch: 1, size: 64, backward: true, budgetS: 90 },
    { id: 'seco-step-tiny', kind: 'seco-step', step: { preset: 'voc', crop: 64, batch: 1, iterations: 1, sets: TINY_STEP_SETS }, budgetS: 120 },
  ];
}

export const reportCases = (quick: boolean): ReportCase[] => (quick ? quickCases() : fullCases());

/** The case's shape in words, as the tables show it. */
export function caseLabel(c: ReportCase): { name: string; shape: string } {
  switch (c.kind) {
    case 'adapter':
      return { name: 'adapter', shape: '–' };
    case 'fma':
      return { name: 'FMA ceiling', shape: '4 vec4 chains per invocation' };
    case 'matmul':
      return { name: `matmul ${c.shape.name}`, shape: matmulShapeLabel(c.shape) };
    case 'attention':
      return { name: `attention ${c.dtype === 'f16' ? 'f16 ' : ''}${c.backward ? 'fwd+bwd' : 'fwd'}`, shape: `${c.B}x${HEADS}x${c.N}x${HEAD_DIM}` };
    case 'vit':
      return { name: `ViT ${c.config === VIT_B16 ? 'B/16' : `d${c.config.embedDim}x${c.config.depth}`} ${c.backward ? 'fwd+bwd' : 'fwd'}`, shape: `${c.batch}x3x${c.size}x${c.size}` };
    case 'seco-step':
      return { name: `SeCo iteration (${c.step.preset} preset)`, shape: c.step.crop ? `${c.step.batch}x3x${c.step.crop}x${c.step.crop}` : 'the preset\'s' };
  }
}
