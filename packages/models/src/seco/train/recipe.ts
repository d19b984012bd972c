// SeCo's fixed training numbers that the engine used to carry: the VOC lr schedule and the teachers' EMA momentum.
import type { PolyWarmupConfig } from '@seco/tensor';

/** SeCo's VOC schedule: warm-up 1500 iterations from 1e-6×, poly 0.9 to 20000. */
export const SECO_POLY_WARMUP: PolyWarmupConfig = { warmupIter: 1500, maxIter: 20000, warmupRatio: 1e-6, power: 0.9 };

/** SeCo's momentum for encoder→encoder_k and proj_head→proj_head_t: constant, no schedule. */
export const SECO_EMA_MOMENTUM = 0.999;
