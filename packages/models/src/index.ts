export { ConfusionMatrix, type Scores } from './metrics.ts';
export { PermutohedralLattice } from './crf/lattice.ts';
export { denseCrf, SECO_CRF, type DenseCrfOptions, type DenseCrfResult } from './crf/densecrf.ts';
