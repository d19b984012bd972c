export { clsLoss } from './cls.ts';
export { ptcLoss } from './ptc.ts';
export { segLoss, upsampleLogits } from './seg.ts';
export { energyLoss, energyLossWithParts, type EnergyLossOptions, type EnergyLossParts, type ImageBoxes } from './energy.ts';
export { bilateralFeatures, bilateralFilter, EXACT_MAX_PIXELS, ssePadding, type BilateralFilterKind } from './bilateral.ts';
export { energyHost, type EnergyHostInputs, type EnergyHostOptions, type EnergyHostResult } from './energy-host.ts';
