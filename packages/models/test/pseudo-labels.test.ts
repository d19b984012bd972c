import { beforeAll, describe, expect, test } from 'vitest';
import { init, liveTensors, scope, setLeakTracking, type Tensor } from '@seco/tensor';
import { camToLabel, camToRoiMask, getValidCam, refineCamsWithBkg } from '../src/cam.ts';
import { par } from '../src/par.ts';
import { assignCscTags } from '../src/seco/tags.ts';
import { expectTensor, type FixtureCase, type FixtureTensor, loadGroup, TOL, toTensor } from '../../../test/support/fixtures.ts';

const group = loadGroup('seco/pseudo_labels.json');

beforeAll(async () => {
  await init();
});

async function expectExact(got: Tensor, want: FixtureTensor, label: string) {
  await expectTensor(got, want, TOL.exact, label);
  got.dispose();
}

function settings(c: FixtureCase) {
  const p = c.params as Record<string, number | number[]>;
  return {
    thresholds: { bkgThre: p.bkg_thre as number, highThre: p.high_thre as number, lowThre: p.low_thre as number, ignoreIndex: p.ignore_index as number },
    parOptions: { dilations: p.par_dilations as number[], iterations: p.par_num_iter as number },
    downScale: p.down_scale as number,
    imgBox: Array.from(c.inputs.img_box.data as number[]),
  };
}

describe('pseudo-label pipeline against SeCo utils/camutils.py', () => {
  for (const c of group.cases) {
    const s = settings(c);

    test(`${c.name}: label_no_box, valid_cam, pseudo_label, roi_mask`, async () => {
      const out = scope(() => {
        const cams = toTensor(c.inputs.cams);
        const cls = toTensor(c.inputs.cls_label);
        return {
          noBox: camToLabel(cams, cls, { bkgThre: s.thresholds.bkgThre }),
          withBox: camToLabel(cams, cls, { ...s.thresholds, imgBox: s.imgBox, ignoreMid: true }),
          roi: camToRoiMask(cams, cls, { ...s.thresholds, imgBox: s.imgBox, ignoreMid: true }),
          valid: getValidCam(cams, cls),
        };
      });
      await expectExact(out.noBox, c.outputs.label_no_box, 'label_no_box');
      await expectTensor(out.withBox.validCam, c.outputs.valid_cam, TOL.forward, 'valid_cam');
      await expectTensor(out.valid, c.outputs.valid_cam, TOL.forward, 'getValidCam');
      await expectExact(out.withBox.label, c.outputs.pseudo_label, 'pseudo_label');
      await expectExact(out.roi, c.outputs.roi_mask, 'roi_mask');
      out.withBox.validCam.dispose();
      out.valid.dispose();
    });

    test(`${c.name}: ignoreMid false keeps the bkgThre labels inside the box (label_no_box there, 255 outside)`, async () => {
      const out = scope(() => camToLabel(toTensor(c.inputs.cams), toTensor(c.inputs.cls_label), { ...s.thresholds, imgBox: s.imgBox, ignoreMid: false }));
      const [b, h, w] = c.outputs.label_no_box.shape;
      const noBox = c.outputs.label_no_box.data as number[];
      const want = noBox.map((v, p) => {
        const [i, r, col] = [Math.floor(p / (h * w)), Math.floor(p / w) % h, p % w];
        const [r0, r1, c0, c1] = s.imgBox.slice(4 * i, 4 * i + 4);
        return r >= r0 && r < r1 && col >= c0 && col < c1 ? v : s.thresholds.ignoreIndex;
      });
      expect(want.length).toBe(b * h * w);
      expect(Array.from(await out.label.data())).toEqual(want);
      out.label.dispose();
      out.validCam.dispose();
    });

    test(`${c.name}: refined_label (PAR at 1/${s.downScale}, high and low background)`, async () => {
      const label = scope(() => {
        const cams = toTensor(c.inputs.cams);
        const cls = toTensor(c.inputs.cls_label);
        const { validCam } = camToLabel(cams, cls, { ...s.thresholds, imgBox: s.imgBox, ignoreMid: true });
        return refineCamsWithBkg((i, m) => par(i, m, s.parOptions), toTensor(c.inputs.imgs01), validCam, cls, {
          imgBox: s.imgBox,
          highThre: s.thresholds.highThre,
          lowThre: s.thresholds.lowThre,
          ignoreIndex: s.thresholds.ignoreIndex,
          downScale: s.downScale,
        });
      });
      await expectExact(label, c.outputs.refined_label, 'refined_label');
    });
  }

  test('the whole step (labels, refinement, roi mask, tags, crops) leaves only what it returns', async () => {
    const c = group.cases[0];
    const s = settings(c);
    setLeakTracking(true);
    try {
      const before = liveTensors().length;
      const cams = toTensor(c.inputs.cams);
      const cls = toTensor(c.inputs.cls_label);
      const imgs = toTensor(c.inputs.imgs01);
      const { validCam, label } = camToLabel(cams, cls, { ...s.thresholds, imgBox: s.imgBox });
      const refined = refineCamsWithBkg(par, imgs, validCam, cls, { imgBox: s.imgBox });
      const roi = camToRoiMask(cams, cls, { ...s.thresholds, imgBox: s.imgBox });
      const [, , H, W] = c.inputs.imgs01.shape;
      const { crops, flags } = await assignCscTags(imgs, roi, { cropNum: 4, cropSize: Math.max(1, Math.floor(Math.min(H, W) / 4)) });
      const made = [cams, cls, imgs, validCam, label, refined, roi, flags, ...crops];
      expect(liveTensors().length - before).toBe(made.length);
      for (const t of made) t.dispose();
      expect(liveTensors().length).toBe(before);
    } finally {
      setLeakTracking(false);
    }
  });
});
