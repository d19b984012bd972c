import { add, copy, init, keep, mul, noGrad, requireGrad, sum, type Tensor } from '@seco/tensor';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, test } from 'vitest';
import { readStateDict, VisionTransformer, VIT_B16, type ViTConfig } from '../src/vit.ts';
import { expectClose, expectTensor, type FixtureCase, type FixtureTensor, fixturesDir, loadGroup, loadJson, maxAbs, toTensor } from '../../../test/support/fixtures.ts';
import { inOrder, shapeText } from './support/messages.ts';

const group = loadGroup('vit/vit.json');
const meta = group.meta.model as {
  img_size: number;
  embed_dim: number;
  depth: number;
  num_heads: number;
  patch_size: number;
  num_classes: number;
  weights_file: string;
  aux_layer: number;
};
const MODEL = { rtol: 1e-3, atol: 1e-4 };
const weightsFile = `${fixturesDir}vit/${meta.weights_file}`;
let vit: VisionTransformer;

beforeAll(async () => {
  await init();
  vit = await VisionTransformer.fromPretrained(weightsFile, { config: { numHeads: meta.num_heads, auxLayer: meta.aux_layer } });
});

function run(c: FixtureCase) {
  const inter: Record<string, Tensor> = {};
  const x = toTensor(c.inputs.image);
  const f = vit.forwardFeatures(x, (name, t) => (inter[name] = keep(noGrad(() => copy(t)))));
  return { x, f, inter };
}

describe('ViT against SeCo forward_features (vit.json)', () => {
  test('the weights load strictly and the shape is read off them', () => {
    const c = vit.config;
    expect([c.embedDim, c.depth, c.numHeads, c.patchSize, c.imgSize, c.numClasses]).toEqual([meta.embed_dim, meta.depth, meta.num_heads, meta.patch_size, meta.img_size, meta.num_classes]);
    expect(vit.posEmbed.requiresGrad).toBe(false);
    expect(vit.clsToken.requiresGrad).toBe(true);
  });

  for (const c of group.cases) {
    test(`${c.name}: cls, patch and aux tokens and the intermediates`, async () => {
      const { x, f, inter } = run(c);
      try {
        expect(f.grid).toEqual((c.params as { patch_grid_hw: number[] }).patch_grid_hw);
        await expectTensor(f.cls, c.outputs.cls, MODEL, `${c.name} cls`);
        await expectTensor(f.patchTokens, c.outputs.patch_tokens, MODEL, `${c.name} patch_tokens`);
        await expectTensor(f.auxTokens, c.outputs.aux_tokens, MODEL, `${c.name} aux_tokens`);
        for (const [k, want] of Object.entries(c.intermediates ?? {})) {
          if (!inter[k]) continue; // attention probabilities are not exposed (the fused kernel never forms them)
          await expectTensor(inter[k], want, MODEL, `${c.name} ${k}`);
        }
        expect(Object.keys(inter).length).toBe(2 + meta.depth);
      } finally {
        for (const t of [x, f.cls, f.patchTokens, f.auxTokens, ...Object.values(inter)]) t.dispose();
      }
    });
  }

  // With grad checkpointing (timm's set_grad_checkpointing) the blocks run again in backward: the same gradients.
  for (const ckpt of [false, true]) for (const c of group.cases.filter((k) => k.grads && k.grad_weight)) test(`${c.name}${ckpt ? ', grad checkpointing' : ''}: gradients of Σ sum(out · grad_weight) for the image and every parameter`, async () => {
    const all = c.all_param_grads_file ? await readStateDict(`${fixturesDir}vit/${c.all_param_grads_file as string}`) : {};
    vit.gradCheckpointing = ckpt;
    requireGrad(vit.posEmbed, true); // frozen in SeCo; unfrozen here only to check the bicubic backward
    const x = toTensor(c.inputs.image).requiresGrad_();
    vit.zeroGrad();
    try {
      const f = vit.forwardFeatures(x);
      const outs: Record<string, Tensor> = { cls: f.cls, patch_tokens: f.patchTokens, aux_tokens: f.auxTokens };
      const weights = Object.entries(c.grad_weight!).map(([k, w]) => [k, toTensor(w)] as const);
      const terms = weights.map(([k, w]) => sum(mul(outs[k], w)));
      const loss = terms.reduce((a, b) => add(a, b));
      loss.backward();
      for (const t of [...Object.values(outs), ...weights.map(([, w]) => w), ...terms, loss]) t.dispose();

      const params = Object.fromEntries(vit.namedParameters());
      const tol = (g: ArrayLike<number>) => ({ rtol: 1e-3, atol: 1e-3 * Array.from(g).reduce((m, v) => Math.max(m, Math.abs(v)), 0) });
      for (const [k, want] of Object.entries(c.grads!)) {
        const got = k === 'image' ? x.grad : params[k]?.grad;
        expect(got, `grad ${k}`).toBeTruthy();
        await expectTensor(got!, want, { rtol: 1e-3, atol: 1e-3 * maxAbs(want) }, `grad ${k}`);
      }
      for (const [k, want] of Object.entries(all)) {
        const got = params[k]?.grad;
        expect(got, `grad ${k}`).toBeTruthy();
        expect(got!.shape).toEqual(want.shape);
        expectClose(await got!.data(), want.data, tol(want.data), `all-params grad ${k}`);
      }
      // head.* is unused: it gets no gradient, and the file has none.
      const head = Object.keys(params).filter((k) => k.startsWith('head.'));
      for (const k of head) expect(params[k].grad, k).toBeNull();
      if (c.all_param_grads_file) expect(Object.keys(all).length).toBe(vit.namedParameters().length - head.length);
    } finally {
      vit.gradCheckpointing = false;
      requireGrad(vit.posEmbed, false);
      vit.zeroGrad();
      x.grad?.dispose();
      x.dispose();
    }
  });
});

describe('ViT bad input', () => {
  test('weights of another architecture name the keys', async () => {
    const sd = await readStateDict(weightsFile);
    const dropped = `blocks.${meta.depth - 1}.mlp.fc2.bias`;
    const { [dropped]: _dropped, ...rest } = sd;
    const extra = { ...rest, 'blocks.0.attn.q_norm.weight': sd['norm.weight'] };
    const cfg = { numHeads: meta.num_heads, depth: meta.depth };
    expect(() => VisionTransformer.fromStateDict(extra, cfg)).toThrow(inOrder(`missing 1: ${dropped}`, 'unexpected 1: blocks.0.attn.q_norm.weight'));
    // A narrower width that the heads still divide.
    const narrower = meta.embed_dim - meta.num_heads;
    const have = sd['patch_embed.proj.weight'].shape;
    expect(() => VisionTransformer.fromStateDict(sd, { ...cfg, embedDim: narrower })).toThrow(
      inOrder('shape mismatch', `patch_embed.proj.weight ${shapeText(have)} vs expected ${shapeText([narrower, ...have.slice(1)])}`),
    );
  });

  test('bytes load like the file; a .pth of something else names its keys', async () => {
    const fromBytes = await VisionTransformer.fromPretrained(readFileSync(weightsFile), { config: { numHeads: meta.num_heads } });
    try {
      expect(await fromBytes.blocks.at(meta.depth - 1).mlp.fc1.weight.data()).toEqual(await vit.blocks.at(meta.depth - 1).mlp.fc1.weight.data());
    } finally {
      fromBytes.dispose();
    }
    // io/state_dict.pth is a torch.save'd dict of a few ViT-named tensors and unrelated ones (io/expected.json lists
    // them): read through the .pth path, then refused, the keys outside a ViT's modules named as unexpected.
    const pth = `${fixturesDir}io/state_dict.pth`;
    const io = loadJson<{ tensors: Record<string, FixtureTensor> }>('io/expected.json').tensors;
    const vitModules = new Set(Object.keys(vit.stateDict()).map((k) => k.split('.')[0]));
    const foreign = Object.keys(io).filter((k) => !vitModules.has(k.split('.')[0]));
    expect(foreign.length).toBeGreaterThan(0);
    const refused = VisionTransformer.fromPretrained(pth, { config: { numHeads: 1, auxLayer: 0 } }).then(
      () => '',
      (e: Error) => e.message,
    );
    expect(await refused).toMatch(/weights do not fit a ViT.*missing \d+: /s);
    expect(await refused).toMatch(inOrder('missing ', `unexpected ${foreign.length}: ${foreign.join(', ')}`));
    // Without numHeads the shape inferred from the file may be impossible (a width SeCo's 12 heads do not divide):
    // said before any key check.
    const width = io['patch_embed.proj.weight'].shape[0];
    if (width % VIT_B16.numHeads !== 0) {
      await expect(VisionTransformer.fromPretrained(pth)).rejects.toThrow(
        inOrder(`weights do not fit a ViT (ViT config: embedDim ${width} is not divisible by numHeads ${VIT_B16.numHeads}`, `the record has ${Object.keys(io)[0]}`),
      );
    }
  });

  test('a class-count mismatch names head.weight and head.bias', () => {
    return readStateDict(weightsFile).then((sd) => {
      const [classes, width] = sd['head.weight'].shape;
      expect(() => VisionTransformer.fromStateDict(sd, { numHeads: meta.num_heads, numClasses: classes + 1 } as Partial<ViTConfig>)).toThrow(
        inOrder(`head.weight ${shapeText([classes, width])} vs expected ${shapeText([classes + 1, width])}`, 'head.bias'),
      );
    });
  });

  test('a prefix that matches nothing says what the file has', async () => {
    const first = Object.keys(await readStateDict(weightsFile))[0];
    await expect(VisionTransformer.fromPretrained(weightsFile, { prefix: 'encoder.' })).rejects.toThrow(`no weights under the prefix 'encoder.' (the file has ${first}`);
  });

  test('images of the wrong rank, channels or smaller than a patch are refused', () => {
    const p = meta.patch_size;
    for (const shape of [[3, 2 * p, 2 * p], [1, 4, 2 * p, 2 * p], [1, 3, p >> 1, 4 * p]]) {
      const x = toTensor({ shape, dtype: 'float32', data: new Array(shape.reduce((a, b) => a * b)).fill(0) });
      expect(() => vit.forwardFeatures(x)).toThrow(/ViT/);
      x.dispose();
    }
  });

  test('a size that is not a multiple of the patch drops the remainder as PyTorch, warns once, or is refused', async () => {
    // The smallest case, plus rows and columns of noise short of a patch, must give that case's outputs exactly.
    const pixels = (k: FixtureCase) => k.inputs.image.shape.reduce((a, b) => a * b);
    const base = group.cases.reduce((a, b) => (pixels(b) < pixels(a) ? b : a));
    const p = meta.patch_size;
    const [dr, dc] = [Math.ceil(p / 3), p - 1];
    const [B, C, H, W] = base.inputs.image.shape;
    const src = base.inputs.image.data as number[];
    const data: number[] = [];
    for (let b = 0; b < B; b++) for (let ch = 0; ch < C; ch++) for (let y = 0; y < H + dr; y++) for (let xx = 0; xx < W + dc; xx++) {
      data.push(y < H && xx < W ? src[((b * C + ch) * H + y) * W + xx] : Math.sin(y * 31 + xx));
    }
    const x = toTensor({ shape: [B, C, H + dr, W + dc], dtype: 'float32', data });
    const warn = console.warn;
    const seen: string[] = [];
    console.warn = (m: string) => void seen.push(m);
    try {
      for (let i = 0; i < 2; i++) {
        const f = noGrad(() => vit.forwardFeatures(x));
        await expectTensor(f.patchTokens, base.outputs.patch_tokens, MODEL, 'patch tokens with a remainder');
        for (const t of [f.cls, f.patchTokens, f.auxTokens]) t.dispose();
      }
      expect(seen.length).toBe(1);
      expect(seen[0]).toMatch(inOrder(`${H + dr}×${W + dc} `, `last ${dr} rows and ${dc} columns`));
      vit.remainder = 'error';
      expect(() => vit.forwardFeatures(x)).toThrow(`not a multiple of the ${p}-pixel patch`);
    } finally {
      vit.remainder = 'warn';
      console.warn = warn;
      x.dispose();
    }
  });
});

describe('ViT in f16', () => {
  test('module.to(f16) runs the forward (patch conv, pos-embed resize, concat, attention, layerNorm) close to f32', async () => {
    const T = await import('@seco/tensor');
    if (!T.engine().supportsF16) return; // the adapter lacks shader-f16: f16 is refused elsewhere, tested in tensor
    const m = new VisionTransformer({ imgSize: 32, patchSize: 16, embedDim: 32, depth: 2, numHeads: 2, numClasses: 0, auxLayer: -1 }, new T.Generator(1));
    m.to('f16');
    const f16 = m.stateDict();
    const m32 = new VisionTransformer({ imgSize: 32, patchSize: 16, embedDim: 32, depth: 2, numHeads: 2, numClasses: 0, auxLayer: -1 });
    m32.loadStateDict(f16); // the same half-rounded weights in f32: only arithmetic precision differs
    const xv = T.rand([1, 3, 48, 32], -1, 1, new T.Generator(2)); // 3x2 grid: the pos embed is resized
    const x16 = T.cast(xv, 'f16');
    const x32 = T.cast(x16, 'f32');
    const a = T.noGrad(() => m.forward(x16));
    const b = T.noGrad(() => m32.forward(x32));
    for (const k of ['cls', 'patchTokens', 'auxTokens'] as const) {
      expect(a[k].dtype, k).toBe('f16');
      const got = await a[k].data();
      const want = await b[k].data();
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i]), `${k}[${i}]`).toBeLessThan(2e-2 + 1e-2 * Math.abs(want[i]));
    }
    m.dispose();
    m32.dispose();
  });
});
