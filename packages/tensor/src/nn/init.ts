import { rand } from '../ops/creation.ts';
import { defaultGenerator, type Generator } from '../random.ts';
import type { Shape } from '../shape.ts';
import type { Tensor } from '../tensor.ts';

/** fan_in as torch.nn.init: dim 1 times the receptive field (weight [out, in, ...kernel]). */
export function fanIn(shape: Shape): number {
  if (shape.length < 2) throw new Error(`fan_in needs a weight of at least 2 dimensions, got [${shape.join(', ')}]`);
  return shape.slice(1).reduce((a, b) => a * b, 1);
}

/** torch.nn.init.kaiming_uniform_ (fan_in mode, leaky_relu gain); nn.Linear/Conv use a = √5, i.e. bound 1/√fan_in. */
export function kaimingUniform(shape: Shape, a = Math.sqrt(5), gen: Generator = defaultGenerator): Tensor {
  const gain = Math.sqrt(2 / (1 + a * a));
  const bound = gain * Math.sqrt(3 / fanIn(shape));
  return rand(shape, -bound, bound, gen);
}

/** The bias init of nn.Linear/Conv: U(−1/√fan_in, 1/√fan_in). */
export function biasUniform(shape: Shape, fan: number, gen: Generator = defaultGenerator): Tensor {
  const bound = fan > 0 ? 1 / Math.sqrt(fan) : 0;
  return rand(shape, -bound, bound, gen);
}
