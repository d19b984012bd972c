import { beforeAll, describe, expect, test } from 'vitest';
import { full, init, ones, scope, zeros } from '@seco/tensor';
import { par, parPositionTerm } from '../src/par.ts';
import { expectTensor, type FixtureTensor, loadJson, TOL, toTensor } from '../../../test/support/fixtures.ts';

const fx = loadJson<Record<string, FixtureTensor>>('seco/seco_fixtures.json');

beforeAll(async () => {
  await init();
});

describe('PAR', () => {
  const [B, C, H, W] = fx['par.masks'].shape;
  // 1 B: one neighbour per gather; 5 neighbours' worth of the f32 masks: 5 per chunk (ragged last chunk); default: all 48.
  for (const [what, chunkBytes] of [['all 48 neighbours at once', undefined], ['5 neighbours per chunk', 5 * 4 * B * C * H * W], ['one neighbour per chunk', 1]] as const) {
    test(`par.out from par.img and par.masks (SeCo model/PAR.py, 6 dilations, 10 iterations), ${what}`, async () => {
      const out = scope(() => par(toTensor(fx['par.img']), toTensor(fx['par.masks']), { chunkBytes }));
      await expectTensor(out, fx['par.out'], TOL.forward, 'par.out');
      out.dispose();
    });
  }

  test('weights are not renormalised: a constant mask grows by 1.01 per iteration', async () => {
    const img = scope(() => toTensor(fx['par.img']));
    for (const iterations of [1, 3]) {
      const out = scope(() => par(img, full([B, 2, H, W], 0.5), { iterations }));
      const got = await out.data();
      const want = 0.5 * 1.01 ** iterations;
      for (const v of got) expect(v).toBeCloseTo(want, 5);
      out.dispose();
    }
    img.dispose();
  });

  test('the position term is w2·softmax over the constant neighbour distances', () => {
    const pos = parPositionTerm([1, 2, 4, 8, 12, 24], 0.3, 0.01);
    expect(pos.length).toBe(48);
    expect(pos.reduce((a, v) => a + v, 0)).toBeCloseTo(0.01, 7);
    // Nearer neighbours weigh more: the d=1 axis neighbour beats the d=24 diagonal.
    expect(pos[1]).toBeGreaterThan(pos[47]);
  });

  test('bad input names the op and shapes', () => {
    const img = ones([1, 3, 8, 8]);
    const masks = zeros([2, 4, 8, 8]);
    expect(() => par(img, masks)).toThrow(/par.*\[1, 3, 8, 8\].*\[2, 4, 8, 8\]/s);
    expect(() => par(img, zeros([1, 4, 8, 8]), { dilations: [0] })).toThrow(/dilations/);
    img.dispose();
    masks.dispose();
  });
});
