import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadConfig, validateConfig } from '../src/config/load.ts';
import { PRESETS } from '../src/config/presets.ts';
import { stepOptions } from '../src/trainer/step-options.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'seco-cli-config-'));
const writeJson = (dir: string, name: string, v: unknown) => {
  const f = join(dir, name);
  writeFileSync(f, typeof v === 'string' ? v : JSON.stringify(v));
  return f;
};

describe('presets', () => {
  test.each(Object.keys(PRESETS))('%s validates', (name) => {
    expect(loadConfig(name).config).toEqual(PRESETS[name as keyof typeof PRESETS]);
  });

  test('voc holds SeCo VOC settings (§3.7)', () => {
    const c = PRESETS.voc;
    expect(c.train).toMatchObject({ max_iters: 20000, warmup_iters: 1500, lr: 6e-5, head_lr_mult: 10, batch_size: 4, crop_size: 448, local_crop_size: 64, ncrops: 12, seed: 0 });
    expect(c.loss.weights).toEqual({ cls: 1, cls_aux: 1, ptc: 0.3, lil: 0.5, lig: 0.5, seg: 0.12, reg: 0.05 });
    expect(c.cam).toEqual({ scales: [1.0, 0.5, 0.75, 1.5], bkg_thre: 0.5, high_thre: 0.7, low_thre: 0.25 });
    expect(c.seco).toMatchObject({ momentum: 0.999, proto_m: 0.9, queue_size: 4608, update_prototype: 600, cam2mask: 10000, temp_lil: 0.08, temp_lig: 0.1 });
    expect(c.eval.interval).toBe(2000);
    expect(c.log.interval).toBe(200);
  });

  test('coco differs as §3.8 says', () => {
    const c = PRESETS.coco;
    expect(c.train.max_iters).toBe(80000);
    expect(c.data.num_classes).toBe(80);
    expect(c.loss.weights).toMatchObject({ ptc: 0.2, lil: 0.3, lig: 0.5 });
    expect(c.cam).toEqual({ scales: [1.0, 0.5, 0.75, 1.25, 1.5], bkg_thre: 0.45, high_thre: 0.65, low_thre: 0.25 });
    expect(c.seco).toMatchObject({ proto_m: 0.99, update_prototype: 6000, cam2mask: 50000, seg_mask_source: 12000 });
  });

  test('demo is a tiny ViT', () => {
    expect(PRESETS.demo.model.embed_dim).toBeLessThanOrEqual(128);
    expect(PRESETS.demo.model.depth).toBeLessThanOrEqual(4);
    expect(PRESETS.demo.model.pretrained).toBeNull();
    expect(PRESETS.demo.data.synthetic).toMatchObject({ images: 2000, cooccurrence: 0.8 });
    expect(PRESETS.voc.data.synthetic).toBeNull();
  });
});

describe('config files', () => {
  test('extends a preset and overrides nested keys only', () => {
    const d = tmp();
    const f = writeJson(d, 'c.json', { extends: 'voc', train: { max_iters: 100, warmup_iters: 10 }, cam: { scales: [1] } });
    const { config, source } = loadConfig(f);
    expect(source).toBe(f);
    expect(config.train.max_iters).toBe(100);
    expect(config.train.lr).toBe(6e-5);
    expect(config.cam.scales).toEqual([1]);
    expect(config.cam.bkg_thre).toBe(0.5);
  });

  test('extends another file relative to it, chains resolve in order', () => {
    const d = tmp();
    writeJson(d, 'base.json', { extends: 'coco', train: { seed: 7 } });
    const f = writeJson(d, 'child.json', { extends: './base.json', train: { batch_size: 2 }, seco: { queue_size: 4800 } });
    const { config } = loadConfig(f);
    expect(config.data.dataset).toBe('coco');
    expect(config.train).toMatchObject({ seed: 7, batch_size: 2 });
  });

  test('a cycle of extends is an error naming the files', () => {
    const d = tmp();
    writeJson(d, 'a.json', { extends: './b.json' });
    writeJson(d, 'b.json', { extends: './a.json' });
    expect(() => loadConfig(join(d, 'a.json'))).toThrow(/extends itself through .*a\.json -> .*b\.json/);
  });

  test('unknown key names its path and suggests the near one', () => {
    const d = tmp();
    const f = writeJson(d, 'c.json', { extends: 'voc', train: { max_iter: 5 } });
    expect(() => loadConfig(f)).toThrow('config train.max_iter: unknown key (did you mean "max_iters"?)');
    const g = writeJson(d, 'g.json', { extends: 'voc', bogus: 1 });
    expect(() => loadConfig(g)).toThrow(/config bogus: unknown key \(allowed here: method, data, model/);
  });

  test('bad values name key, value and what is allowed', () => {
    const bad = (patch: object) => () => validateConfig({ ...structuredClone(PRESETS.voc), ...patch });
    expect(bad({ train: { ...PRESETS.voc.train, lr: -1 } })).toThrow('config train.lr: got -1, expected a number > 0');
    expect(bad({ train: { ...PRESETS.voc.train, max_iters: 2.5 } })).toThrow('config train.max_iters: got 2.5, expected an integer >= 1');
    expect(bad({ data: { ...PRESETS.voc.data, dataset: 'ade' } })).toThrow('config data.dataset: got "ade", expected one of "voc", "coco", "synthetic"');
    expect(bad({ cam: { ...PRESETS.voc.cam, scales: [1, 'x'] } })).toThrow('config cam.scales[1]: got "x", expected a number > 0');
    expect(bad({ train: { ...PRESETS.voc.train, betas: [0.9] } })).toThrow('config train.betas: got [0.9], expected a list of exactly 2');
    expect(bad({ eval: { ...PRESETS.voc.eval, crf: 'yes' } })).toThrow('config eval.crf: got "yes", expected true or false');
    expect(bad({ train: { ...PRESETS.voc.train, precision: 'f16' } })).toThrow('config train.precision: got "f16", expected one of "f32", "mixed"');
  });

  test('a missing key is named', () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a config made invalid on purpose
    const c = structuredClone(PRESETS.voc) as Record<string, any>;
    delete c.seco.temp_lil;
    expect(() => validateConfig(c)).toThrow('config seco.temp_lil: missing (a number > 0)');
  });

  test('relations between keys are checked', () => {
    expect(() => loadConfig('voc', ['seco.queue_size=4600'])).toThrow('seco.queue_size (4600) must be divisible by train.batch_size × train.ncrops (48)');
    expect(() => loadConfig('voc', ['cam.low_thre=0.6'])).toThrow(/cam\.low_thre \(0\.6\) <= cam\.bkg_thre \(0\.5\)/);
    expect(() => loadConfig('voc', ['train.crop_size=450'])).toThrow('train.crop_size (450) must be a multiple of model.patch_size (16)');
    expect(() => loadConfig('demo', ['data.synthetic.object_size=[0.6,0.4]'])).toThrow('data.synthetic.object_size [0.6, 0.4] must be [min, max]');
    expect(() => loadConfig('demo', ['data.synthetic.context_only=1.5'])).toThrow(/data\.synthetic\.context_only/);
  });

  test('--set overrides parse JSON values and reach validation', () => {
    const { config } = loadConfig('demo', ['train.max_iters=50', 'cam.scales=[1,0.5]', 'model.pretrained=weights/vit.pth', 'eval.crf=true']);
    expect(config.train.max_iters).toBe(50);
    expect(config.cam.scales).toEqual([1, 0.5]);
    expect(config.model.pretrained).toBe('weights/vit.pth');
    expect(config.eval.crf).toBe(true);
    expect(() => loadConfig('demo', ['train.max_iters=abc'])).toThrow('config train.max_iters: got "abc", expected an integer >= 1');
    expect(() => loadConfig('demo', ['train.lr=1e400'])).toThrow(/config train.lr: got Infinity, expected a finite number/);
    expect(() => loadConfig('demo', ['nokey'])).toThrow('--set nokey: expected key.path=value');
  });

  test("loss.energy.sse_padding: rloss' x86 padding in every preset, switchable, handed to the step", () => {
    for (const name of Object.keys(PRESETS)) expect(stepOptions(loadConfig(name).config).energy.ssePadding, name).toBe(true);
    expect(stepOptions(loadConfig('voc', ['loss.energy.sse_padding=false']).config).energy.ssePadding).toBe(false);
    expect(() => loadConfig('voc', ['loss.energy.sse_padding=1'])).toThrow(/config loss\.energy\.sse_padding/);
  });

  test('bad JSON and missing files are named', () => {
    const d = tmp();
    const f = writeJson(d, 'bad.json', '{ "train": ');
    expect(() => loadConfig(f)).toThrow(`config file ${f}: not valid JSON`);
    expect(() => loadConfig(join(d, 'none.json'))).toThrow(/none\.json: cannot read \(ENOENT\)/);
  });
});
