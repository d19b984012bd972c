// The demo config at test size: 32-px crops, 8-px patches, a 2-block ViT, 2 local crops, every loss on by
// iteration 2 (prototypes from 1), checkpoints every 3 iterations.
export const TINY = [
  'train.max_iters=6', 'train.warmup_iters=2', 'train.batch_size=2', 'train.crop_size=32', 'train.local_crop_size=16', 'train.ncrops=4',
  'model.patch_size=8', 'model.embed_dim=32', 'model.depth=2', 'model.num_heads=2', 'model.aux_layer=-1', 'model.proj_hidden_dim=64', 'model.proj_out_dim=32',
  'seco.queue_size=16', 'seco.update_prototype=1', 'seco.cam2mask=4', 'cam.scales=[1,0.5]', 'data.workers=0',
  'loss.start.lil=2', 'loss.start.lig=2', 'loss.start.seg=2', 'loss.start.reg=2',
  'eval.interval=0', 'eval.size=32', 'eval.scales=[1]', 'log.interval=1', 'log.checkpoint_interval=3', 'log.keep_checkpoints=2',
];

/** TINY for the toco-demo preset: without SeCo's keys, CTC from iteration 0, a small CTC head. */
export const TINY_TOCO = [
  ...TINY.filter((s) => !/^(loss\.start\.(lil|lig)|seco\.)/.test(s)),
  'loss.start.ctc=0', 'toco.proj_bottleneck_dim=8', 'toco.proj_out_dim=16',
];
