// The tag a `seco train` checkpoint carries in its safetensors __metadata__ (key CHECKPOINT_FORMAT_KEY).
// Byte-identical to the tag the engine used to write, so checkpoints saved before the move still load.
export const SECO_CHECKPOINT_FORMAT = 'seco-checkpoint/1';
