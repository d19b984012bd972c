import { add, type Generator, matmul, nn, pad, reshape, scope, slice, stack, type Tensor, TensorError } from '@seco/tensor';

/**
 * Stride-1 conv2d with zero padding and dilation, NCHW × OIHW, composed as im2col + matmul: the k·k shifted
 * views of the padded input are stacked to (B, C·k·k, H'·W') in the weight's (c, ky, kx) order.
 * TODO(conv2d): switch to the fused conv2d once ops/conv.ts lands.
 */
export function conv2dStride1(x: Tensor, weight: Tensor, bias: Tensor | null, padding: number, dilation: number): Tensor {
  if (x.rank !== 4 || weight.rank !== 4 || x.shape[1] !== weight.shape[1]) {
    throw new TensorError('conv2d', `input [${x.shape.join(', ')}] and weight [${weight.shape.join(', ')}] do not fit NCHW × OIHW`);
  }
  const [B, C, H, W] = x.shape;
  const [O, , kh, kw] = weight.shape;
  const Ho = H + 2 * padding - dilation * (kh - 1);
  const Wo = W + 2 * padding - dilation * (kw - 1);
  if (Ho <= 0 || Wo <= 0) throw new TensorError('conv2d', `output would be ${Ho}×${Wo} for input ${H}×${W}`);
  return scope(() => {
    const xp = padding > 0 ? pad(x, [padding, padding, padding, padding]) : x;
    const taps: Tensor[] = [];
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) taps.push(slice(xp, [null, null, [ky * dilation, ky * dilation + Ho], [kx * dilation, kx * dilation + Wo]]));
    }
    const cols = reshape(stack(taps, 2), [B, C * kh * kw, Ho * Wo]);
    let y = matmul(reshape(weight, [O, C * kh * kw]), cols);
    if (bias) y = add(y, reshape(bias, [O, 1]));
    return reshape(y, [B, O, Ho, Wo]);
  });
}

export interface ConvOptions {
  padding?: number;
  dilation?: number;
  bias?: boolean;
  generator?: Generator;
}

/** nn.Conv2d (stride 1) with torch's names and default init (kaiming-uniform a = √5, bias U(±1/√fan_in)). */
export class Conv2d extends nn.Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly padding: number;
  readonly dilation: number;

  constructor(inChannels: number, outChannels: number, kernel: number, options: ConvOptions = {}) {
    super();
    this.padding = options.padding ?? 0;
    this.dilation = options.dilation ?? 1;
    const shape = [outChannels, inChannels, kernel, kernel];
    this.weight = this.registerParameter('weight', nn.kaimingUniform(shape, Math.sqrt(5), options.generator));
    const fan = inChannels * kernel * kernel;
    this.bias = this.registerParameter('bias', options.bias === false ? null : nn.biasUniform([outChannels], fan, options.generator));
  }

  forward(x: Tensor): Tensor {
    return conv2dStride1(x, this.weight, this.bias, this.padding, this.dilation);
  }
}
