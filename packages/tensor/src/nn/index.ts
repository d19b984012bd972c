export { Module, type AnyModule, type HostArray, type LoadResult, type StateRecord, type StateValue } from './module.ts';
export { Linear, type LinearOptions } from './linear.ts';
export { LayerNorm, type LayerNormOptions } from './layer-norm.ts';
export { GELU } from './activation.ts';
export { Dropout } from './dropout.ts';
export { Identity, ModuleList, Sequential, type TensorModule } from './containers.ts';
export { biasUniform, fanIn, kaimingUniform } from './init.ts';
export { Conv2d, type Conv2dModuleOptions } from './conv.ts';
