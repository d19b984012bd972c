import { add, cat, flip, init, mul, noGrad, sum, type Tensor, tensor } from '@seco/tensor';
import { beforeAll, describe, expect, test } from 'vitest';
import { SecoNetwork } from '../src/seco/network.ts';
import { readStateDict } from '../src/vit.ts';
import { expectClose, expectTensor, fixturesDir, loadGroup, maxAbs, toTensor } from '../../../test/support/fixtures.ts';

const group = loadGroup('seco/cam_model.json');
const meta = group.meta.model as { embed_dim: number; depth: number; num_heads: number; num_fg_classes: number; aux_layer: number };
const MODEL = { rtol: 1e-3, atol: 1e-4 };
let net: SecoNetwork;

/** The fixture's tiny network; proj heads and the queue are small (the file does not hold them). */
function tinyNetwork(queueSize = 24): SecoNetwork {
  return new SecoNetwork({
    numClasses: meta.num_fg_classes + 1,
    backbone: { embedDim: meta.embed_dim, depth: meta.depth, numHeads: meta.num_heads, auxLayer: meta.aux_layer },
    projDim: meta.embed_dim,
    projHidden: 32,
    queueSize,
  });
}

beforeAll(async () => {
  await init();
  net = tinyNetwork();
  await net.loadWeights(await readStateDict(`${fixturesDir}seco/${group.meta.weights_file as string}`));
});

const host = async (t: Tensor) => Array.from(await t.data());

// Cases with upstream weights check network.forward; cases with the scale-1 cam_only maps check camOnly.
const forwardCases = group.cases.filter((k) => k.grad_weight && k.grads);
const camCases = group.cases.filter((k) => k.intermediates?.scale1_cam_only_cam);
const lastBlock = meta.depth - 1;

describe('SecoNetwork against model_seco.network (cam_model.json)', () => {
  test('the file holds cases of both kinds', () => {
    expect(forwardCases.length).toBeGreaterThan(0);
    expect(camCases.length).toBeGreaterThan(0);
  });

  for (const c of forwardCases) test(`${c.name}: cls, seg and cls_aux, and the gradients of Σ sum(out · grad_weight)`, async () => {
    const x = toTensor(c.inputs.image).requiresGrad_();
    net.zeroGrad();
    const made: Tensor[] = [x];
    try {
      const o = net.forward(x);
      const outs: Record<string, Tensor> = { cls: o.cls, seg: o.seg, cls_aux: o.clsAux };
      made.push(o.cls, o.seg, o.clsAux, o.x4, o.xAux, o.clsToken);
      // Token grid from the patch embedding's kernel in the weights file and the image's shape.
      const [B, , H, W] = c.inputs.image.shape;
      const p = net.encoder.patchEmbed.proj.weight.shape[3];
      expect(o.x4.shape).toEqual([B, meta.embed_dim, Math.floor(H / p), Math.floor(W / p)]);
      expect(o.clsToken.shape).toEqual([B, meta.embed_dim]);
      for (const [k, want] of Object.entries(c.outputs)) await expectTensor(outs[k], want, MODEL, k);
      let loss: Tensor | null = null;
      for (const [k, w] of Object.entries(c.grad_weight!)) {
        const wt = toTensor(w);
        const term = sum(mul(outs[k], wt));
        made.push(wt, term);
        loss = loss ? add(loss, term) : term;
        made.push(loss);
      }
      loss!.backward();
      const params = Object.fromEntries(net.namedParameters());
      for (const [k, want] of Object.entries(c.grads!)) {
        const g = k === 'image' ? x.grad : params[k]?.grad;
        expect(g, `grad ${k}`).toBeTruthy();
        await expectTensor(g!, want, { rtol: 1e-3, atol: 1e-3 * maxAbs(want) }, `grad ${k}`);
      }
      // The frozen teacher and the projection heads take no part in this forward.
      for (const [k, p] of Object.entries(params)) {
        if (/^(encoder_k|proj_head)/.test(k)) expect(p.grad, k).toBeNull();
      }
      expect(params['encoder_k.blocks.0.attn.qkv.weight'].requiresGrad).toBe(false);
    } finally {
      net.zeroGrad();
      x.grad?.dispose();
      for (const t of made) t.dispose();
    }
  });

  for (const c of camCases) test(`${c.name}: camOnly on [x, flip(x)] gives the scale-1 cam_only maps of multi_scale_cam2, without ReLU`, async () => {
    const x = toTensor(c.inputs.image);
    const both = cat([x, flip(x, 3)], 0);
    const { cam, camAux } = net.camOnly(both);
    try {
      expect(cam.requiresGrad).toBe(false);
      await expectTensor(cam, c.intermediates!.scale1_cam_only_cam, MODEL, 'cam');
      await expectTensor(camAux, c.intermediates!.scale1_cam_only_cam_aux, MODEL, 'cam_aux');
      expect((await host(cam)).some((v) => v < 0)).toBe(true);
    } finally {
      for (const t of [x, both, cam, camAux]) t.dispose();
    }
  });
});

describe('SecoNetwork state: names, teachers, buffers, EMA', () => {
  test('state_dict names match SeCo; the fixture loads; teachers start as copies of their students', async () => {
    const keys = Object.keys(net.stateDict());
    const tops = [...new Set(keys.map((k) => k.split('.')[0]))];
    // torch order: the module's own buffers, then the children in registration order.
    expect(tops).toEqual(['prototypes', 'queue', 'queue_label_flag', 'queue_ptr', 'encoder', 'encoder_k', 'proj_head', 'proj_head_t', 'decoder', 'classifier', 'aux_classifier']);
    expect(keys).toContain('decoder.c3.bias');
    expect(keys).toContain('proj_head.mlp.4.weight');
    const sd = net.stateDict();
    expect(await host(sd[`encoder_k.blocks.${lastBlock}.mlp.fc1.weight`])).toEqual(await host(sd[`encoder.blocks.${lastBlock}.mlp.fc1.weight`]));
    expect(await host(sd['proj_head_t.mlp.2.weight'])).toEqual(await host(sd['proj_head.mlp.2.weight']));
  });

  test('queue columns are unit-norm (the dim=0 quirk), flags 0, pointer 0, prototypes raw randn', async () => {
    const n = tinyNetwork(24);
    try {
      const [Q, D] = n.queue.shape;
      const q = await host(n.queue);
      for (const col of [0, D - 1]) {
        let s = 0;
        for (let r = 0; r < Q; r++) s += q[r * D + col] ** 2;
        expect(Math.sqrt(s)).toBeCloseTo(1, 5);
      }
      let row0 = 0;
      for (let c = 0; c < D; c++) row0 += q[c] ** 2;
      expect(Math.abs(Math.sqrt(row0) - 1)).toBeGreaterThan(0.05); // rows are not normalised
      expect((await host(n.queueLabelFlag)).every((v) => v === 0)).toBe(true);
      expect(n.queuePtr).toBe(0);
      const p = await host(n.prototypes);
      expect(n.prototypes.shape).toEqual([meta.num_fg_classes, D]);
      expect(Math.abs(Math.hypot(...p.slice(0, D)) - 1)).toBeGreaterThan(0.05);
    } finally {
      n.dispose();
    }
  });

  test('updatePrototype runs the sequential update in label order, then L2-normalises every row', async () => {
    const n = tinyNetwork(24);
    try {
      const [C, D] = n.prototypes.shape;
      const labels = [Math.min(2, C), -1, Math.min(2, C), C, Math.min(2, C), -1];
      const feats = Array.from({ length: labels.length * D }, (_, i) => Math.sin(i * 0.37) * 2);
      const proto = await host(n.prototypes);
      const m = 0.9;
      for (let i = 0; i < labels.length; i++) {
        if (labels[i] === -1) continue;
        const r = labels[i] - 1;
        for (let d = 0; d < D; d++) proto[r * D + d] = Math.fround(Math.fround(proto[r * D + d] * m) + Math.fround((1 - m) * feats[i * D + d]));
      }
      for (let r = 0; r < C; r++) {
        const nr = Math.hypot(...proto.slice(r * D, r * D + D));
        for (let d = 0; d < D; d++) proto[r * D + d] /= nr;
      }
      const f = tensor(feats, [labels.length, D]);
      const out = n.updatePrototype(f, labels, m);
      expectClose(await host(n.prototypes), proto, { rtol: 1e-5, atol: 1e-6 }, 'prototypes');
      expectClose(await host(out), proto, { rtol: 1e-5, atol: 1e-6 }, 'returned copy');
      expect(out).not.toBe(n.prototypes);
      expect(() => n.updatePrototype(f, [0, -1, -1, -1, -1, -1], m)).toThrow(`label 0 at 0 is neither -1 nor a class id in 1..${meta.num_fg_classes}`);
      expect(() => n.updatePrototype(f, [1, 2], m)).toThrow(/needs feats/);
      out.dispose();
      f.dispose();
    } finally {
      n.dispose();
    }
  });

  test('enqueue writes keys and flags at the pointer and wraps; K must divide the queue size', async () => {
    const n = tinyNetwork(24);
    try {
      const D = n.queue.shape[1];
      const before = await host(n.queue);
      const k1 = tensor(Array.from({ length: 8 * D }, (_, i) => i), [8, D]);
      n.enqueue(k1, [1, -1, 2, 3, 0, 0, 4, 1]);
      expect(n.queuePtr).toBe(8);
      const q = await host(n.queue);
      expect(q.slice(0, 8 * D)).toEqual(Array.from({ length: 8 * D }, (_, i) => i));
      expect(q.slice(8 * D)).toEqual(before.slice(8 * D));
      expect((await host(n.queueLabelFlag)).slice(0, 9)).toEqual([1, -1, 2, 3, 0, 0, 4, 1, 0]);
      n.enqueue(k1, new Array(8).fill(2));
      n.enqueue(k1, new Array(8).fill(3));
      expect(n.queuePtr).toBe(0);
      expect(await host(n.stateDict().queue_ptr)).toEqual([0]);
      n.enqueue(k1, new Array(8).fill(4));
      expect(await host(n.stateDict().queue_ptr)).toEqual([8]);
      expect((await host(n.queueLabelFlag)).slice(0, 9)).toEqual([4, 4, 4, 4, 4, 4, 4, 4, 2]);
      const k5 = tensor(new Array(5 * D).fill(0), [5, D]);
      expect(() => n.enqueue(k5, [0, 0, 0, 0, 0])).toThrow(/queue size 24 is not divisible by 5 keys/);
      k1.dispose();
      k5.dispose();
    } finally {
      n.dispose();
    }
  });

  test('EMA: encoder_k and proj_head_t move by (1 − m) toward their students', async () => {
    const n = tinyNetwork(24);
    try {
      const sd = n.stateDict();
      const proj = `blocks.${lastBlock}.attn.proj.weight`;
      const k0 = await host(sd[`encoder_k.${proj}`]);
      const t0 = await host(sd['proj_head_t.mlp.0.bias']);
      // Move the students away from the teachers.
      noGrad(() => {
        for (const key of [`encoder.${proj}`, 'proj_head.mlp.0.bias']) {
          const p = sd[key];
          const moved = add(p, 0.5);
          n.loadStateDict({ [key]: moved }, { strict: false });
          moved.dispose();
        }
      });
      n.momentumUpdateEncoder();
      n.emaUpdateProjHead();
      const m = 0.999;
      const q = await host(sd[`encoder.${proj}`]);
      expectClose(await host(sd[`encoder_k.${proj}`]), k0.map((k, i) => k * m + q[i] * (1 - m)), { rtol: 1e-6, atol: 1e-7 }, 'encoder_k');
      const s = await host(sd['proj_head.mlp.0.bias']);
      expectClose(await host(sd['proj_head_t.mlp.0.bias']), t0.map((k, i) => k * m + s[i] * (1 - m)), { rtol: 1e-6, atol: 1e-7 }, 'proj_head_t');
      expect(Math.abs(q[0] - k0[0])).toBeCloseTo(0.5, 5);
    } finally {
      n.dispose();
    }
  });

  test('parameter groups follow get_param_groups: encoder / encoder norms / classifiers + proj_head / decoder', () => {
    const groups = net.paramGroups();
    const enc = net.encoder.namedParameters();
    expect(groups.map((g) => g.params.length)).toEqual([
      enc.filter(([k]) => !k.includes('norm')).length,
      enc.filter(([k]) => k.includes('norm')).length,
      2 + net.projHead.parameters().length,
      8,
    ]);
    [6e-5, 6e-5, 6e-4, 6e-4].forEach((lr, i) => expect(groups[i].lr).toBeCloseTo(lr, 12));
    expect(groups[0].params).toContain(net.encoder.posEmbed);
    const all = new Set(groups.flatMap((g) => g.params));
    for (const p of [...net.encoderK.parameters(), ...net.projHeadT.parameters()]) expect(all.has(p)).toBe(false);
  });

  test('loadWeights of a full training state restores the queue, its flags and the host pointer', async () => {
    const a = tinyNetwork(24);
    const b = tinyNetwork(24);
    try {
      const D = a.queue.shape[1];
      const keys = tensor(Array.from({ length: 8 * D }, (_, i) => i / 100), [8, D]);
      a.enqueue(keys, [3, 3, 3, 3, -1, -1, 1, 2]);
      keys.dispose();
      await b.loadWeights(a.stateDict());
      expect(b.queuePtr).toBe(8);
      expect(await host(b.queue)).toEqual(await host(a.queue));
      expect(await host(b.queueLabelFlag)).toEqual(await host(a.queueLabelFlag));
      expect(await host(b.stateDict()['encoder_k.norm.weight'])).toEqual(await host(a.stateDict()['encoder_k.norm.weight']));
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  test('loadWeights names missing, unexpected and mis-shaped keys and loads nothing then', async () => {
    const sd = await readStateDict(`${fixturesDir}seco/${group.meta.weights_file as string}`);
    const { ['decoder.c2.weight']: _gone, ...rest } = sd;
    const n = tinyNetwork(24);
    try {
      const before = await host(n.classifier.weight);
      await expect(n.loadWeights({ ...rest, 'decoder.c4.weight': sd['decoder.c2.weight'] })).rejects.toThrow(/missing 1: decoder\.c2\.weight; unexpected 1: decoder\.c4\.weight/);
      const want = sd['classifier.weight'].shape;
      const wrong = [want[0] + 1, ...want.slice(1)];
      await expect(n.loadWeights({ ...sd, 'classifier.weight': { ...sd['classifier.weight'], shape: wrong } })).rejects.toThrow(
        `classifier.weight [${wrong.join(', ')}] vs expected [${want.join(', ')}]`,
      );
      expect(await host(n.classifier.weight)).toEqual(before);
    } finally {
      n.dispose();
    }
  });
});
