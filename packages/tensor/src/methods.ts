// Method sugar (x.add(y), x.sum(1)) over the op functions, installed once at import.
import { backward, type BackwardOptions } from './autograd/backward.ts';
import { requireGrad } from './autograd/graph.ts';
import type { DType } from './dtype.ts';
import { keep } from './memory.ts';
import * as E from './ops/elementwise.ts';
import * as R from './ops/reduce.ts';
import * as V from './ops/view.ts';
import { Tensor } from './tensor.ts';

type TL = E.TensorLike;

declare module './tensor.ts' {
  interface Tensor {
    add(b: TL): Tensor;
    sub(b: TL): Tensor;
    mul(b: TL): Tensor;
    div(b: TL): Tensor;
    pow(b: TL): Tensor;
    maximum(b: TL): Tensor;
    minimum(b: TL): Tensor;
    eq(b: TL): Tensor;
    ne(b: TL): Tensor;
    lt(b: TL): Tensor;
    le(b: TL): Tensor;
    gt(b: TL): Tensor;
    ge(b: TL): Tensor;
    exp(): Tensor;
    log(): Tensor;
    sqrt(): Tensor;
    rsqrt(): Tensor;
    abs(): Tensor;
    neg(): Tensor;
    relu(): Tensor;
    sigmoid(): Tensor;
    tanh(): Tensor;
    gelu(): Tensor;
    sin(): Tensor;
    cos(): Tensor;
    square(): Tensor;
    clamp(min: number | null, max: number | null): Tensor;
    cast(dtype: DType): Tensor;
    sum(axes?: R.Axes, keepdim?: boolean): Tensor;
    mean(axes?: R.Axes, keepdim?: boolean): Tensor;
    amax(axes?: R.Axes, keepdim?: boolean): Tensor;
    argmax(axis?: number | null, keepdim?: boolean): Tensor;
    argmin(axis?: number | null, keepdim?: boolean): Tensor;
    reshape(shape: readonly number[]): Tensor;
    flatten(startDim?: number, endDim?: number): Tensor;
    permute(dims: readonly number[]): Tensor;
    transpose(dim0?: number, dim1?: number): Tensor;
    expand(shape: readonly number[]): Tensor;
    squeeze(dim?: number | number[]): Tensor;
    unsqueeze(dim: number): Tensor;
    slice(specs: readonly V.SliceSpec[]): Tensor;
    contiguous(): Tensor;
    detach(): Tensor;
    clone(): Tensor;
    backward(gradient?: Tensor, options?: BackwardOptions): void;
    requiresGrad_(on?: boolean): Tensor;
    keep(): Tensor;
  }
}

const P = Tensor.prototype;
for (const name of ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const) {
  P[name] = function (this: Tensor, b: TL) {
    return E.binary(name, this, b);
  };
}
for (const name of ['exp', 'log', 'sqrt', 'rsqrt', 'abs', 'neg', 'relu', 'sigmoid', 'tanh', 'gelu', 'sin', 'cos', 'square'] as const) {
  P[name] = function (this: Tensor) {
    return E.unary(name, this);
  };
}
P.clamp = function (min, max) {
  return E.clamp(this, min, max);
};
P.cast = function (dtype) {
  return E.cast(this, dtype);
};
P.sum = function (axes, keepdim) {
  return R.sum(this, axes, keepdim);
};
P.mean = function (axes, keepdim) {
  return R.mean(this, axes, keepdim);
};
P.amax = function (axes, keepdim) {
  return R.amax(this, axes, keepdim);
};
P.argmax = function (axis, keepdim) {
  return R.argmax(this, axis, keepdim);
};
P.argmin = function (axis, keepdim) {
  return R.argmin(this, axis, keepdim);
};
P.reshape = function (shape) {
  return V.reshape(this, shape);
};
P.flatten = function (s, e) {
  return V.flatten(this, s, e);
};
P.permute = function (dims) {
  return V.permute(this, dims);
};
P.transpose = function (a, b) {
  return V.transpose(this, a, b);
};
P.expand = function (shape) {
  return V.expand(this, shape);
};
P.squeeze = function (dim) {
  return V.squeeze(this, dim);
};
P.unsqueeze = function (dim) {
  return V.unsqueeze(this, dim);
};
P.slice = function (specs) {
  return V.slice(this, specs);
};
P.contiguous = function () {
  return V.contiguous(this);
};
P.detach = function () {
  return V.detach(this);
};
P.clone = function () {
  return E.copy(this);
};
P.backward = function (gradient, options) {
  backward(this, gradient, options);
};
P.requiresGrad_ = function (on = true) {
  return requireGrad(this, on);
};
P.keep = function () {
  return keep(this);
};
