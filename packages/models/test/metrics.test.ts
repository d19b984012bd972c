import { describe, expect, test } from 'vitest';
import { ConfusionMatrix } from '../src/metrics.ts';
import { expectClose, type FixtureTensor, loadJson } from '../../../test/support/fixtures.ts';

interface MiouCase {
  name: string;
  inputs: { gts: FixtureTensor[]; preds: FixtureTensor[] };
  params: { num_classes: number };
  outputs: {
    confusion: FixtureTensor;
    iou: FixtureTensor;
    valid: FixtureTensor;
    miou: number | FixtureTensor;
    pAcc: number | FixtureTensor;
    mAcc: number | FixtureTensor;
  };
}

const scalar = (v: number | FixtureTensor) => (typeof v === 'number' ? v : (v.data[0] as number));
const cases = loadJson<{ cases: MiouCase[] }>('metrics/miou.json').cases;

describe('mIoU against SeCo utils/evaluate.py', () => {
  for (const c of cases) {
    test(c.name, () => {
      const cm = new ConfusionMatrix(c.params.num_classes);
      c.inputs.gts.forEach((gt, i) => cm.add(gt.data as number[], c.inputs.preds[i].data as number[], `image ${i}`));
      expectClose(cm.hist, c.outputs.confusion.data, { rtol: 0, atol: 0 }, 'confusion');
      const s = cm.scores();
      expectClose(s.iou, c.outputs.iou.data, { rtol: 1e-9, atol: 0 }, 'iou');
      expect(s.valid).toEqual(c.outputs.valid.data.map(Boolean));
      expect(s.miou).toBeCloseTo(scalar(c.outputs.miou), 12);
      expect(s.pixelAccuracy).toBeCloseTo(scalar(c.outputs.pAcc), 12);
      expect(s.meanAccuracy).toBeCloseTo(scalar(c.outputs.mAcc), 12);
    });
  }

  test('bad input names the image and the pixel', () => {
    const cm = new ConfusionMatrix(3);
    expect(() => cm.add([0, 1], [0], 'a.png')).toThrow(/a.png has 2 ground-truth pixels but 1 predicted/);
    expect(() => cm.add([0, 1], [0, 7], 'b.png')).toThrow(/b.png predicts class 7 at pixel 1/);
  });
});
