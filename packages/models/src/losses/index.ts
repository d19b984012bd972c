export { clsLoss } from './cls.ts';
export { ptcLoss } from './ptc.ts';
export { lilLoss, type LilOptions, type LilResult } from './lil.ts';
export { ligLoss, type LigOptions } from './lig.ts';
export { segLoss, upsampleLogits } from './seg.ts';
