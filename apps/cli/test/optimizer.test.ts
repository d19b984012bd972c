import * as T from '@seco/tensor';
import { beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../src/config/load.ts';
import { secoOptimizer } from '../src/trainer/optimizer.ts';
import { networkFromConfig } from '../src/trainer/seco-trainer.ts';
import { TINY } from './support/tiny-config.ts';

beforeAll(async () => {
  await T.init();
});

/** The lrs the optimizer itself applies at a 0-based step (a step with no gradients moves nothing). */
function lrsAt(name: 'voc' | 'demo', overrides: string[], step: number): number[] {
  const { config } = loadConfig(name, overrides);
  const net = networkFromConfig(config);
  const opt = secoOptimizer(net, config);
  opt.globalStep = step;
  opt.step();
  const lrs = opt.groups.map((g) => g.lr);
  opt.dispose();
  net.dispose();
  return lrs;
}

describe('learning rates: the optimizer is their one source', () => {
  test('VOC matches the official log (§2.6): 7.960e-06 at 200, 5.566e-05 at 1600; heads and decoder at 10x', () => {
    const small = ['model.embed_dim=32', 'model.depth=1', 'model.num_heads=2', 'model.aux_layer=-1', 'model.proj_hidden_dim=16', 'model.proj_out_dim=32', 'model.pretrained=null', 'seco.queue_size=48'];
    expect(lrsAt('voc', small, 199)[0].toExponential(3)).toBe('7.960e-6');
    const lrs = lrsAt('voc', small, 1599);
    expect(lrs[0].toExponential(3)).toBe('5.566e-5');
    expect(lrs[1]).toBe(lrs[0]);
    for (const g of [2, 3]) expect(lrs[g] / lrs[0]).toBeCloseTo(10, 12);
  });

  test('head_lr_mult 5: the heads take lr x 5 and really move 5x as far in an AdamW step', async () => {
    const { config } = loadConfig('demo', [...TINY, 'train.head_lr_mult=5', 'train.weight_decay=0']);
    const net = networkFromConfig(config);
    const opt = secoOptimizer(net, config);
    opt.globalStep = config.train.warmup_iters; // past warm-up: the poly branch
    const x = T.randn([1, 3, config.train.crop_size, config.train.crop_size], 0, 1, new T.Generator(3));
    const out = net.forward(x);
    const loss = T.add(T.sum(out.cls), T.sum(out.seg));
    loss.backward();
    const probe = { encoder: net.encoder.patchEmbed.proj.weight, head: net.classifier.weight, decoder: net.decoder.parameters()[0] };
    const before = Object.fromEntries(await Promise.all(Object.entries(probe).map(async ([k, p]) => [k, Float32Array.from(await p.data())] as const)));
    opt.step();
    const lrs = opt.groups.map((g) => g.lr);
    expect(lrs[2] / lrs[0]).toBeCloseTo(5, 12);
    expect(lrs[3] / lrs[0]).toBeCloseTo(5, 12);
    // A fresh AdamW's first step moves each element by lr·g/(|g| + eps·…) ≈ lr: the median step is the lr.
    const median = async (k: keyof typeof probe) => {
      const after = await probe[k].data();
      const d = Array.from(after, (v, i) => Math.abs(v - before[k][i])).filter((v) => v > 0).sort((a, b) => a - b);
      return d[d.length >> 1];
    };
    const [e, h, dec] = [await median('encoder'), await median('head'), await median('decoder')];
    expect(e / lrs[0]).toBeCloseTo(1, 2);
    expect(h / e).toBeCloseTo(5, 1);
    expect(dec / e).toBeCloseTo(5, 1);
    for (const t of [x, loss, out.cls, out.seg, out.clsAux, out.x4, out.xAux, out.clsToken]) t.dispose();
    opt.dispose();
    net.dispose();
  });
});
