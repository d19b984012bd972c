// A tiny SeCo network (2-block ViT of width 32, patch 16) for runs of the seco-step plumbing at test size.
export const TINY_STEP_SETS = [
  'model.embed_dim=32', 'model.depth=2', 'model.num_heads=2', 'model.aux_layer=-1', 'model.proj_hidden_dim=64', 'model.proj_out_dim=32',
  'train.local_crop_size=32', 'train.ncrops=4', 'seco.queue_size=16', 'cam.scales=[1,0.5]',
] as const;
