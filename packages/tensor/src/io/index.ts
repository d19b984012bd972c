export { IoError } from './errors.ts';
export { type FileDType, ITEM_BYTES, engineDType, fileDTypeOf, decodeElements, encodeElements } from './dtypes.ts';
export { halfToFloat, floatToHalf } from './half.ts';
export { type ByteSource, type SourceInput, bytesSource, blobSource, withSource } from './source.ts';
export {
  type HostTensor,
  type TensorRecord,
  type HostArrayInput,
  type TensorInput,
  type HostTypedArray,
  isHostTensor,
  toHost,
  uploadTensors,
} from './host.ts';
export { type SafetensorsEntry, type SafetensorsHeader } from './safetensors-format.ts';
export {
  type SafetensorsFile,
  type ReadOptions,
  type WriteOptions,
  readSafetensorsHeader,
  readSafetensors,
  serializeSafetensors,
  writeSafetensors,
} from './safetensors.ts';
export { type PthOptions, readPth, readPthStateDict } from './pth.ts';
export { PickleError, PickleGlobal, PickleObject } from './pickle/index.ts';
export {
  type CheckpointInput,
  type CheckpointReadOptions,
  type Checkpoint,
  type JsonValue,
  CHECKPOINT_FORMAT_KEY,
  saveCheckpoint,
  loadCheckpoint,
  serializeCheckpoint,
} from './checkpoint.ts';
export { type KeyReport, compareKeys, formatKeyReport } from './compare.ts';
