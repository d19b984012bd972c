import { describe, expect, test } from 'vitest';
import { denseCrf, SECO_CRF } from '../src/crf/densecrf.ts';
import { expectClose, type FixtureCase, loadGroup } from '../../../test/support/fixtures.ts';

const group = loadGroup('crf/dense_crf.json');

function run(c: FixtureCase, iterations: number) {
  const p = c.params as { num_classes: number; height: number; width: number; iter_max: number };
  return denseCrf(
    Uint8Array.from(c.inputs.image_hwc_uint8.data as number[]),
    Float32Array.from(c.inputs.prob.data as number[]),
    p.num_classes,
    p.height,
    p.width,
    { ...SECO_CRF, iterations },
  );
}

describe('DenseCRF against pydensecrf', () => {
  for (const c of group.cases) {
    test(`${c.name}: Q after 1 and 10 iterations within 1e-3, labels where the margin is clear`, () => {
      const one = run(c, 1);
      expectClose(one.q, c.outputs.Q_after_1_iter.data, { rtol: 0, atol: 1e-3 }, 'Q after 1 iteration');
      const full = run(c, (c.params as { iter_max: number }).iter_max);
      expectClose(full.q, c.outputs.Q.data, { rtol: 0, atol: 1e-3 }, 'Q');
      const margin = c.outputs.pred_margin_top1_minus_top2.data as number[];
      const want = c.outputs.pred.data as number[];
      let compared = 0;
      full.labels.forEach((l, i) => {
        if (margin[i] > 1e-3) {
          expect(l, `pixel ${i}`).toBe(want[i]);
          compared++;
        }
      });
      expect(compared).toBeGreaterThan(want.length * 0.9);
    });
  }

  test('shape mismatches are named', () => {
    expect(() => denseCrf(new Uint8Array(12), new Float32Array(7), 2, 2, 2)).toThrow(/probabilities hold 7 values, expected 2x2x2/);
  });
});
