// The config → @seco/models step settings (one place, so the trainer and the tests agree).
import type { SecoStepOptions, SharedStepOptions, TocoStepOptions } from '@seco/models';
import type { SecoConfig } from '../config/schema.ts';

/** The local crops both methods cut: ncrops counts the two global views too. */
type LocalCropOptions = Pick<SecoStepOptions & TocoStepOptions, 'cropNum' | 'localCropSize'>;

/** What every method's step reads: training CAMs, thresholds, PAR, the energy loss and the local crops' geometry. */
function sharedStepOptions(config: SecoConfig): SharedStepOptions & LocalCropOptions {
  const { cam, loss, train } = config;
  const e = loss.energy;
  return {
    camScales: cam.scales,
    bkgThre: cam.bkg_thre,
    highThre: cam.high_thre,
    lowThre: cam.low_thre,
    par: { dilations: config.par.dilations, iterations: config.par.iterations },
    parDownScale: config.par.down_scale,
    energy: { weight: e.weight, sigmaRgb: e.sigma_rgb, sigmaXy: e.sigma_xy, scaleFactor: e.scale_factor, ssePadding: e.sse_padding },
    cropNum: train.ncrops - 2,
    localCropSize: train.local_crop_size,
  };
}

export function stepOptions(config: SecoConfig): SecoStepOptions {
  const { seco } = config;
  return {
    ...sharedStepOptions(config),
    tagThreshold: seco.tag_threshold,
    protoM: seco.proto_m,
    tempLil: seco.temp_lil,
    tempLig: seco.temp_lig,
  };
}

export function tocoStepOptions(config: SecoConfig): TocoStepOptions {
  const { train, toco } = config;
  return {
    ...sharedStepOptions(config),
    cropThreshold: toco.crop_threshold,
    temperature: toco.temp,
    seed: train.seed,
  };
}
