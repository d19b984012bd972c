import { beforeAll, describe, expect, test } from 'vitest';
import { init, ones, scope, type Tensor, tensor, zeros } from '@seco/tensor';
import { camToLabel, camToRoiMask, denormalizeImage, imgBoxMask, labelToAffMask, refineCamsWithBkg } from '../src/cam.ts';
import { par } from '../src/par.ts';
import { expectTensor, type FixtureTensor, loadJson, TOL, toTensor } from '../../../test/support/fixtures.ts';
import { inOrder } from './support/messages.ts';

const fx = loadJson<Record<string, FixtureTensor>>('seco/seco_fixtures.json');
// seco_fixtures.json (the older format) holds tensors only; its README gives these thresholds.
const T = { bkgThre: 0.5, highThre: 0.7, lowThre: 0.25, ignoreIndex: 255 };
const inputs = () => ({ cams: toTensor(fx['cam.cams']), cls: toTensor(fx['cam.cls_label']), box: toTensor(fx['cam.img_box'], 'i32') });

beforeAll(async () => {
  await init();
});

async function expectExact(got: Tensor, want: FixtureTensor, label: string) {
  await expectTensor(got, want, TOL.exact, label);
  got.dispose();
}

describe('cam_to_label / cam_to_roi_mask on seco_fixtures cam.*', () => {

  test('cam.pseudo_label: ignore_mid with img_box (box given as a tensor)', async () => {
    const out = scope(() => {
      const { cams, cls, box } = inputs();
      return camToLabel(cams, cls, { ...T, imgBox: box, ignoreMid: true });
    });
    out.validCam.dispose();
    await expectExact(out.label, fx['cam.pseudo_label'], 'cam.pseudo_label');
  });

  test('cam.roi_mask: −1 in the uncertain band (box given as host rows)', async () => {
    const rows = Array.from({ length: fx['cam.img_box'].shape[0] }, (_, i) => (fx['cam.img_box'].data as number[]).slice(4 * i, 4 * i + 4));
    const out = scope(() => {
      const { cams, cls } = inputs();
      return camToRoiMask(cams, cls, { ...T, imgBox: rows });
    });
    await expectExact(out, fx['cam.roi_mask'], 'cam.roi_mask');
  });
});

describe('refine_cams_with_bkg_v2 on seco_fixtures cam.*', () => {
  // Refining only the channels of classes some image of the batch holds gives the same labels.
  const [B, K] = fx['cam.cls_label'].shape;
  const cls = fx['cam.cls_label'].data as number[];
  const present = Array.from({ length: K }, (_, k) => k).filter((k) => Array.from({ length: B }, (_, b) => cls[b * K + k]).some((v) => v > 0));
  for (const classes of [undefined, present]) {
    test(`cam.refined_label, ${classes ? `only the batch classes [${classes.join(', ')}] refined` : 'all class channels'}`, async () => {
      const label = scope(() => {
        const { cams, cls, box } = inputs();
        const { validCam } = camToLabel(cams, cls, { ...T, imgBox: box, ignoreMid: true });
        return refineCamsWithBkg((i, m) => par(i, m), toTensor(fx['cam.imgs01']), validCam, cls, { imgBox: box, ...T, classes });
      });
      await expectExact(label, fx['cam.refined_label'], 'cam.refined_label');
    });
  }

  test('bad classes and shapes are named', () => {
    const { cams, cls, box } = scope(() => inputs());
    const [B, K, H, W] = cams.shape;
    const img = zeros([B, 3, H >> 1, W >> 1]);
    expect(() => refineCamsWithBkg(par, img, cams, cls, { imgBox: box })).toThrow(inOrder('refineCamsWithBkg', img.shape, cams.shape, cls.shape));
    const img64 = zeros([B, 3, H, W]);
    expect(() => refineCamsWithBkg(par, img64, cams, cls, { imgBox: box, classes: [K] })).toThrow(`classes must be channel indices below ${K}`);
    for (const t of [cams, cls, box, img, img64]) t.dispose();
  });
});

describe('denormalizeImage', () => {
  test('uint8 truncation of x·std + mean, as SeCo denormalize_img (§8 #10)', async () => {
    const mean = [123.675, 116.28, 103.53];
    const std = [58.395, 57.12, 57.375];
    const u8 = Array.from({ length: 3 * 256 }, (_, i) => i % 256);
    // The dataset's normalisation in f32: (u8/255 − mean/255) / (std/255).
    const f = Math.fround;
    const norm = u8.map((v, i) => {
      const c = Math.floor(i / 256);
      return f(f(f(v / 255) - f(mean[c] / 255)) / f(std[c] / 255));
    });
    const x = tensor(norm, [1, 3, 16, 16]);
    const truncated = await denormalizeImage(x).data();
    const exact = await denormalizeImage(x, { truncate: false }).data();
    let dropped = 0;
    norm.forEach((v, i) => {
      const c = Math.floor(i / 256);
      const want = Math.floor(Math.min(255, Math.max(0, f(f(v * f(std[c])) + f(mean[c])))));
      expect(truncated[i]).toBe(f(want / 255));
      expect(Math.abs(exact[i] - u8[i] / 255)).toBeLessThan(1e-5);
      if (want !== u8[i]) dropped++;
    });
    // The quirk is real: some values come back one grey level low.
    expect(dropped).toBeGreaterThan(0);
    x.dispose();
  });
});

describe('label_to_aff_mask', () => {
  test('ptc.aff_mask from ptc.label', async () => {
    const label = toTensor(fx['ptc.label'], 'i32');
    await expectExact(labelToAffMask(label), fx['ptc.aff_mask'], 'ptc.aff_mask');
    label.dispose();
  });

  test('255 rows and columns and the diagonal are ignored; background pairs are positive', async () => {
    const label = tensor([0, 0, 255, 2], [1, 2, 2], 'i32');
    const aff = labelToAffMask(label);
    // prettier-ignore
    expect(Array.from(await aff.data())).toEqual([
      255, 1, 255, 0,
      1, 255, 255, 0,
      255, 255, 255, 255,
      0, 0, 255, 255,
    ]);
    aff.dispose();
    label.dispose();
  });
});

describe('img_box and bad input', () => {
  test('a 448-pixel box applied to a small map selects what the Python slice would (§8 #1)', async () => {
    const m = imgBoxMask([[10, 448, 0, 448], [40, 448, 0, 448]], 2, 28, 28);
    const d = await m.data();
    const rowsInside = (i: number) => Array.from({ length: 28 }, (_, r) => d[i * 784 + r * 28]).filter((v) => v).length;
    expect([rowsInside(0), rowsInside(1)]).toEqual([18, 0]);
    m.dispose();
  });

  test('shape mismatches name the op and shapes', () => {
    const cam = zeros([2, 4, 8, 8]);
    const cls = ones([2, 3]);
    expect(() => camToLabel(cam, cls)).toThrow(inOrder('camToLabel', cam.shape, cls.shape));
    const cls4 = ones([2, 4]);
    expect(() => camToRoiMask(cam, cls4, { imgBox: [0, 8, 0, 8] })).toThrow(`imgBox needs ${cam.shape[0]} rows of 4`);
    expect(() => labelToAffMask(cam)).toThrow(inOrder('labelToAffMask', cam.shape));
    for (const t of [cam, cls, cls4]) t.dispose();
  });
});
