// multi_scale_cam2 (SeCo utils/camutils.py): flip + multi-scale CAMs, min-max normalised per channel.
import { add, amax, concat, div, flip, interpolate, maximum, narrow, noGrad, relu, scope, shapeError, type Tensor, TensorError } from '@seco/tensor';

/** Anything with SeCo's `cam_only=True` forward: class maps of the last layer and of the auxiliary block. */
export interface CamModel {
  camOnly(x: Tensor): { cam: Tensor; camAux: Tensor };
}

/** One scale: CAMs of [x, flip(x)] resized to h×w, the flipped half flipped back, elementwise max, ReLU. */
function camsAt(model: CamModel, x: Tensor, b: number, h: number, w: number): [Tensor, Tensor] {
  const out = model.camOnly(concat([x, flip(x, 3)], 0));
  const fuse = (c: Tensor, name: string) => {
    if (c.rank !== 4 || c.shape[0] !== 2 * b) throw shapeError('multiScaleCam', `model.camOnly returned ${name} without 2·B=${2 * b} maps`, c.shape);
    const up = interpolate(c, { size: [h, w], mode: 'bilinear', alignCorners: false });
    return relu(maximum(narrow(up, 0, 0, b), flip(narrow(up, 0, b, b), 3)));
  };
  return [fuse(out.cam, 'cam'), fuse(out.camAux, 'camAux')];
}

/** cam − min_hw(cam), then / (max_hw + 1e-5), per image and channel (the adaptive_max_pool2d pair). */
function minMax(cam: Tensor): Tensor {
  const shifted = add(cam, amax(cam.neg(), [2, 3], true));
  return div(shifted, add(amax(shifted, [2, 3], true), 1e-5));
}

/**
 * Σ over scales of the fused CAMs, min-max normalised, for the final and the auxiliary head: (B, C, H, W) in
 * [0, 1]. Scale 1 always runs first on the input as is; every other scale s ≠ 1 resizes the input to
 * (int(s·H), int(s·W)) bilinearly (align_corners=False). No gradient.
 */
export function multiScaleCam(model: CamModel, inputs: Tensor, scales: readonly number[] = [1.0, 0.5, 0.75, 1.5]): { cam: Tensor; camAux: Tensor } {
  if (inputs.rank !== 4) throw shapeError('multiScaleCam', 'needs inputs (B, 3, H, W)', inputs.shape);
  if (scales.some((s) => !(s > 0))) throw new TensorError('multiScaleCam', `scales must be positive, got [${scales.join(', ')}]`);
  const [b, , h, w] = inputs.shape;
  return noGrad(() =>
    scope(() => {
      let [cam, camAux] = scope(() => camsAt(model, inputs, b, h, w));
      for (const s of scales) {
        if (s === 1.0) continue;
        [cam, camAux] = scope(() => {
          const x = interpolate(inputs, { size: [Math.trunc(s * h), Math.trunc(s * w)], mode: 'bilinear', alignCorners: false });
          const [c, a] = camsAt(model, x, b, h, w);
          return [add(cam, c), add(camAux, a)];
        });
      }
      return { cam: minMax(cam), camAux: minMax(camAux) };
    }),
  );
}
