// @seco/tensor/pickle: the GPU-free unpickler shared by the engine's .pth reader and @seco/data's .npy reader.
export { PickleError, type PickleWhere } from './error.ts';
export type { PickleFormat } from './format.ts';
export { callable, PickleGlobal, PickleObject, type PickleBuildable, type PickleCallable } from './values.ts';
export { unpickle, type UnpickleSource } from './vm.ts';
