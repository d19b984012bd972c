import { TensorError } from '../errors.ts';
import type { Tensor } from '../tensor.ts';
import { type AnyModule, Module } from './module.ts';

export type TensorModule = Module<[Tensor], Tensor>;

/** torch.nn.Identity: the input itself, no parameters. */
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

/** torch.nn.Sequential: children named '0', '1', … applied in order. Intermediate results are freed. */
export class Sequential extends Module {
  private readonly layers: TensorModule[];

  constructor(...layers: TensorModule[]) {
    super();
    this.layers = layers.map((m, i) => this.registerModule(String(i), m));
  }

  get length(): number {
    return this.layers.length;
  }

  at(i: number): TensorModule {
    const m = this.layers[i < 0 ? this.layers.length + i : i];
    if (!m) throw new TensorError('Sequential', `no layer ${i} of ${this.layers.length}`);
    return m;
  }

  forward(x: Tensor): Tensor {
    let h = x;
    for (const layer of this.layers) {
      const next = layer.forward(h);
      // Autograd keeps its own handles, so an intermediate nobody else holds can go now.
      if (h !== x && next !== h) h.dispose();
      h = next;
    }
    return h;
  }
}

/** torch.nn.ModuleList: an indexable list of children named '0', '1', …; it has no forward of its own. */
export class ModuleList<M extends AnyModule = AnyModule> extends Module<never[], never> {
  private readonly items: M[] = [];

  constructor(modules: Iterable<M> = []) {
    super();
    for (const m of modules) this.push(m);
  }

  push(m: M): this {
    this.items.push(this.registerModule(String(this.items.length), m));
    return this;
  }

  get length(): number {
    return this.items.length;
  }

  at(i: number): M {
    const m = this.items[i < 0 ? this.items.length + i : i];
    if (!m) throw new TensorError('ModuleList', `no module ${i} of ${this.items.length}`);
    return m;
  }

  [Symbol.iterator](): IterableIterator<M> {
    return this.items[Symbol.iterator]();
  }

  forward(): never {
    throw new TensorError('ModuleList', 'has no forward; iterate over its modules');
  }
}
