import { describe, expect, test } from 'vitest';
import { loadConfig } from '../src/config/load.ts';
import { PRESETS } from '../src/config/presets.ts';
import { lossWeights, secoSchedulePoint as schedulePoint, totalLoss } from '../src/schedule.ts';

describe('loss schedule', () => {
  test('VOC (§3.7): cls+aux+0.3 ptc to 1000, + lig/lil to 2000, then + seg/reg', () => {
    const w = (i: number) => lossWeights(PRESETS.voc, i);
    expect(w(0)).toEqual({ cls: 1, cls_aux: 1, ptc: 0.3, lil: 0, lig: 0, seg: 0, reg: 0 });
    expect(w(1000)).toEqual({ cls: 1, cls_aux: 1, ptc: 0.3, lil: 0, lig: 0, seg: 0, reg: 0 });
    expect(w(1001)).toEqual({ cls: 1, cls_aux: 1, ptc: 0.3, lil: 0.5, lig: 0.5, seg: 0, reg: 0 });
    expect(w(2000)).toMatchObject({ lil: 0.5, seg: 0, reg: 0 });
    expect(w(2001)).toEqual({ cls: 1, cls_aux: 1, ptc: 0.3, lil: 0.5, lig: 0.5, seg: 0.12, reg: 0.05 });
    expect(w(19999)).toEqual(w(2001));
  });

  test('COCO (§3.8): PTC 0 until 8000, then 0.2; lig 0.5/lil 0.3 after 12000; seg/reg after 16000', () => {
    const w = (i: number) => lossWeights(PRESETS.coco, i);
    expect(w(8000)).toEqual({ cls: 1, cls_aux: 1, ptc: 0, lil: 0, lig: 0, seg: 0, reg: 0 });
    expect(w(8001)).toMatchObject({ ptc: 0.2, lil: 0, lig: 0 });
    expect(w(12000)).toMatchObject({ ptc: 0.2, lil: 0, lig: 0 });
    expect(w(12001)).toMatchObject({ ptc: 0.2, lil: 0.3, lig: 0.5, seg: 0 });
    expect(w(16000)).toMatchObject({ seg: 0, reg: 0 });
    expect(w(16001)).toEqual({ cls: 1, cls_aux: 1, ptc: 0.2, lil: 0.3, lig: 0.5, seg: 0.12, reg: 0.05 });
  });

  test('follows a config that moves the switch-on points', () => {
    const { config } = loadConfig('voc', ['loss.start.seg=10', 'loss.weights.seg=2']);
    expect(lossWeights(config, 9).seg).toBe(0);
    expect(lossWeights(config, 10).seg).toBe(2);
  });

  test('switches: ROI source at cam2mask, seg source at seg_mask_source, prototypes from update_prototype', () => {
    expect(schedulePoint(PRESETS.voc, 9999).roiSource).toBe('aux');
    expect(schedulePoint(PRESETS.voc, 10000).roiSource).toBe('final');
    expect(schedulePoint(PRESETS.voc, 0).segSource).toBe('final');
    expect(schedulePoint(PRESETS.coco, 11999).segSource).toBe('aux');
    expect(schedulePoint(PRESETS.coco, 12000).segSource).toBe('final');
    expect(schedulePoint(PRESETS.voc, 599).updatePrototypes).toBe(false);
    expect(schedulePoint(PRESETS.voc, 600).updatePrototypes).toBe(true);
  });

  test('total is the weighted sum; an inactive term does not count even if NaN', () => {
    const w = lossWeights(PRESETS.voc, 0);
    expect(totalLoss({ cls: 0.5, cls_aux: 0.25, ptc: 1, lil: NaN, lig: NaN, seg: NaN, reg: NaN }, w)).toBeCloseTo(0.5 + 0.25 + 0.3, 12);
    expect(totalLoss({ cls: 0.5 }, w)).toBeNaN();
  });
});
