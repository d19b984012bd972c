import { beforeAll, describe, expect, test } from 'vitest';
import { avgPool2d, init, matmul, permute, scope, type Tensor, tensor } from '@seco/tensor';
import { type CamModel, multiScaleCam } from '../src/cam.ts';
import { SecoNetwork } from '../src/seco/network.ts';
import { readStateDict } from '../src/vit.ts';
import { expectClose, expectTensor, fixturesDir, loadGroup, TOL, toTensor } from '../../../test/support/fixtures.ts';

beforeAll(async () => {
  await init();
});

// A stand-in for network.camOnly: 8×8 average pooling (a "patch grid") and a 1×1 linear map per head, with
// negative weights so the ReLU after fusing matters. The reference below recomputes everything in f64.
const C = 3;
const PATCH = 8;
const W_CAM = [0.9, -0.4, 0.3, -0.6, 1.1, 0.2, 0.25, 0.5, -1.0];
const W_AUX = [-0.3, 0.8, 0.6, 0.7, -0.2, 0.4, 1.2, -0.9, 0.1];

class StandIn implements CamModel {
  calls: number[][] = [];
  camOnly(x: Tensor) {
    this.calls.push([...x.shape]);
    return scope(() => {
      const p = permute(avgPool2d(x, { kernelSize: PATCH }), [0, 2, 3, 1]);
      const head = (w: number[]) => permute(matmul(p, tensor(w, [C, 3]).transpose()), [0, 3, 1, 2]).contiguous();
      return { cam: head(W_CAM), camAux: head(W_AUX) };
    });
  }
}

type Img = { data: Float64Array; n: number; c: number; h: number; w: number };
const at = (t: Img, n: number, c: number, y: number, x: number) => t.data[((n * t.c + c) * t.h + y) * t.w + x];
const make = (n: number, c: number, h: number, w: number, f: (n: number, c: number, y: number, x: number) => number): Img => {
  const data = new Float64Array(n * c * h * w);
  for (let a = 0; a < n; a++) for (let b = 0; b < c; b++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[((a * c + b) * h + y) * w + x] = f(a, b, y, x);
  return { data, n, c, h, w };
};

/** PyTorch bilinear, align_corners=False (fixtures README §4). */
function bilinear(t: Img, oh: number, ow: number): Img {
  const tap = (o: number, inS: number, outS: number) => {
    const s = Math.max(0, ((o + 0.5) * inS) / outS - 0.5);
    const i0 = Math.floor(s);
    return [i0, Math.min(i0 + 1, inS - 1), s - i0] as const;
  };
  return make(t.n, t.c, oh, ow, (n, c, y, x) => {
    const [y0, y1, ly] = tap(y, t.h, oh);
    const [x0, x1, lx] = tap(x, t.w, ow);
    const row = (yy: number) => (1 - lx) * at(t, n, c, yy, x0) + lx * at(t, n, c, yy, x1);
    return (1 - ly) * row(y0) + ly * row(y1);
  });
}

function standInRef(x: Img, w: number[]): Img {
  const gh = Math.floor(x.h / PATCH);
  const gw = Math.floor(x.w / PATCH);
  return make(x.n, C, gh, gw, (n, c, y, xx) => {
    let s = 0;
    for (let k = 0; k < 3; k++) {
      let m = 0;
      for (let dy = 0; dy < PATCH; dy++) for (let dx = 0; dx < PATCH; dx++) m += at(x, n, k, y * PATCH + dy, xx * PATCH + dx);
      s += w[c * 3 + k] * (m / PATCH ** 2);
    }
    return s;
  });
}

/** multi_scale_cam2 for one head, written out plainly. */
function reference(img: Img, scales: number[], w: number[]): Float64Array {
  const { n, h, w: wd } = img;
  const acc = new Float64Array(n * C * h * wd);
  for (const s of [1, ...scales.filter((v) => v !== 1)]) {
    const x = s === 1 ? img : bilinear(img, Math.trunc(s * h), Math.trunc(s * wd));
    const both = make(2 * n, 3, x.h, x.w, (a, c, y, xx) => (a < n ? at(x, a, c, y, xx) : at(x, a - n, c, y, x.w - 1 - xx)));
    const cam = bilinear(standInRef(both, w), h, wd);
    const fused = make(n, C, h, wd, (a, c, y, xx) => Math.max(0, Math.max(at(cam, a, c, y, xx), at(cam, a + n, c, y, wd - 1 - xx))));
    fused.data.forEach((v, i) => (acc[i] += v));
  }
  const hw = h * wd;
  for (let k = 0; k < n * C; k++) {
    const plane = acc.subarray(k * hw, (k + 1) * hw);
    const lo = Math.min(...plane);
    for (let i = 0; i < hw; i++) plane[i] -= lo;
    const hi = Math.max(...plane);
    for (let i = 0; i < hw; i++) plane[i] /= hi + 1e-5;
  }
  return acc;
}

describe('multiScaleCam (multi_scale_cam2) with a stand-in model', () => {
  test('flip + scales [1, 0.5, 0.75, 1.5] on 2×3×32×40 against an f64 reference, both heads', async () => {
    const img = make(2, 3, 32, 40, (n, c, y, x) => Math.sin(0.37 * x + 0.21 * y * (c + 1) + n) + 0.3 * Math.cos(0.11 * x * y + c));
    const scales = [1.0, 0.5, 0.75, 1.5];
    const model = new StandIn();
    const x = tensor(Float32Array.from(img.data), [2, 3, 32, 40]);
    const out = multiScaleCam(model, x, scales);
    const f32 = make(2, 3, 32, 40, (n, c, y, xx) => Math.fround(at(img, n, c, y, xx)));
    expectClose(await out.cam.data(), reference(f32, scales, W_CAM), TOL.forward, 'cam');
    expectClose(await out.camAux.data(), reference(f32, scales, W_AUX), TOL.forward, 'camAux');
    // Scale 1 first on the input as is, then int(s·H) × int(s·W) for the others, each with its flip.
    expect(model.calls).toEqual([[4, 3, 32, 40], [4, 3, 16, 20], [4, 3, 24, 30], [4, 3, 48, 60]]);
    for (const t of [x, out.cam, out.camAux]) t.dispose();
  });

  test('a model returning the wrong batch is named', () => {
    const x = tensor(new Float32Array(2 * 3 * 16 * 16), [2, 3, 16, 16]);
    const bad: CamModel = { camOnly: (v) => ({ cam: v.slice([[0, 1]]), camAux: v }) };
    expect(() => multiScaleCam(bad, x)).toThrow(/multiScaleCam.*2·B=4.*\[1, 3, 16, 16\]/);
    x.dispose();
  });
});

describe('multiScaleCam with SecoNetwork (cam_model.json multi_scale_cam2)', () => {
  const group = loadGroup('seco/cam_model.json');
  // The multi-scale cases are the ones that give their scales.
  const cases = group.cases.filter((k) => Array.isArray((k.params as { scales?: number[] }).scales));
  test('the file holds multi-scale cases', () => expect(cases.length).toBeGreaterThan(0));
  for (const c of cases) test(`${c.name}: cam and cam_aux of the tiny SeCo network at the whole-model tolerance`, async () => {
    const meta = group.meta.model as { embed_dim: number; depth: number; num_heads: number; num_fg_classes: number; aux_layer: number };
    const net = new SecoNetwork({
      numClasses: meta.num_fg_classes + 1,
      backbone: { embedDim: meta.embed_dim, depth: meta.depth, numHeads: meta.num_heads, auxLayer: meta.aux_layer },
      projDim: meta.embed_dim,
      projHidden: 32,
      queueSize: 24,
    });
    await net.loadWeights(await readStateDict(`${fixturesDir}seco/${group.meta.weights_file as string}`));
    const x = toTensor(c.inputs.image);
    const out = multiScaleCam(net, x, (c.params as { scales: number[] }).scales);
    const MODEL = { rtol: 1e-3, atol: 1e-4 };
    await expectTensor(out.cam, c.outputs.cam, MODEL, 'cam');
    await expectTensor(out.camAux, c.outputs.cam_aux, MODEL, 'cam_aux');
    for (const t of [x, out.cam, out.camAux]) t.dispose();
    net.dispose();
  });
});
