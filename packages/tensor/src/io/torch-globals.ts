// The torch.save pickle format: the torch (and a few standard-library and numpy) globals a .pth refers to, its
// allowlist. Tensors are recorded as pending views on storages; pth.ts reads the storages and fills them in
// after unpickling. Other globals (e.g. argparse.Namespace in a training checkpoint) stay inert data.
import type { FileDType } from './dtypes.ts';
import type { HostTensor } from './host.ts';
import { callable as fn, type PickleCallable, type PickleFormat, PickleObject } from './pickle/index.ts';

const STORAGE_DTYPES: Record<string, FileDType> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
  UntypedStorage: 'U8',
};

const TORCH_DTYPES = new Set(['float32', 'float', 'float16', 'half', 'bfloat16', 'float64', 'double', 'int64', 'long', 'int32', 'int', 'int16', 'int8', 'uint8', 'bool']);

class StorageType {
  constructor(readonly dtype: FileDType) {}
}

export interface StorageRef {
  key: string;
  dtype: FileDType;
  numel: number;
}

/** A tensor whose data is filled in once its storage has been read. */
export interface PendingTensor {
  tensor: HostTensor;
  storage: StorageRef;
  offset: number;
  strides: number[];
}

function intList(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || !v.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new Error(`${what} must be a tuple of non-negative ints, got ${JSON.stringify(v)}`);
  return v as number[];
}

/** numpy scalars (e.g. a best-mIoU float64 saved in a checkpoint) become numbers. */
function numpyScalar(args: unknown[]): unknown {
  const [dt, bytes] = args;
  const code = dt instanceof PickleObject ? String(dt.args[0]) : '';
  if (!(bytes instanceof Uint8Array)) return new PickleObject('numpy.core.multiarray.scalar', args);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const read: Record<string, () => number | boolean> = {
    f8: () => v.getFloat64(0, true), f4: () => v.getFloat32(0, true), i8: () => Number(v.getBigInt64(0, true)),
    i4: () => v.getInt32(0, true), u8: () => Number(v.getBigUint64(0, true)), u4: () => v.getUint32(0, true),
    i2: () => v.getInt16(0, true), u2: () => v.getUint16(0, true), i1: () => v.getInt8(0), u1: () => v.getUint8(0), b1: () => v.getUint8(0) !== 0,
  };
  const r = Object.hasOwn(read, code) ? read[code] : undefined;
  return r !== undefined && bytes.byteLength >= Number(code.slice(1)) ? r() : new PickleObject('numpy.core.multiarray.scalar', args);
}

export function torchFormat(): { format: PickleFormat; storages: Map<string, StorageRef>; pending: PendingTensor[] } {
  const storages = new Map<string, StorageRef>();
  const pending: PendingTensor[] = [];

  const rebuildTensor = (args: unknown[]) => {
    const [storage, offset, size, stride] = args;
    if (typeof storage !== 'object' || storage === null || !('key' in storage)) throw new Error('_rebuild_tensor: first argument is not a storage');
    if (!Number.isSafeInteger(offset) || (offset as number) < 0) throw new Error(`_rebuild_tensor: bad storage offset ${String(offset)}`);
    const shape = intList(size, 'tensor size');
    const strides = intList(stride, 'tensor stride');
    if (strides.length !== shape.length) throw new Error(`tensor size ${JSON.stringify(shape)} and stride ${JSON.stringify(strides)} differ in length`);
    const ref = storage as StorageRef;
    const tensor: HostTensor = { dtype: ref.dtype, shape: [...shape], data: new Float32Array(0) };
    pending.push({ tensor, storage: ref, offset: offset as number, strides: [...strides] });
    return tensor;
  };

  const globals: Record<string, unknown> = {
    'torch._utils._rebuild_tensor_v2': fn(rebuildTensor),
    'torch._utils._rebuild_tensor': fn(rebuildTensor),
    'torch._utils._rebuild_parameter': fn((a) => a[0]),
    'torch._utils._rebuild_parameter_with_state': fn((a) => a[0]),
    'torch._tensor._rebuild_from_type_v2': fn((a) => {
      const [inner, , innerArgs] = a;
      if (!(typeof inner === 'object' && inner !== null && 'call' in inner) || !Array.isArray(innerArgs)) throw new Error('_rebuild_from_type_v2: bad arguments');
      return (inner as PickleCallable).call(innerArgs);
    }),
    'collections.OrderedDict': fn((a) => {
      const d: Record<string, unknown> = {};
      if (Array.isArray(a[0])) for (const kv of a[0]) if (Array.isArray(kv)) Object.defineProperty(d, String(kv[0]), { value: kv[1], enumerable: true, writable: true, configurable: true });
      return d;
    }),
    'torch.Size': fn((a) => [...((a[0] as unknown[]) ?? [])]),
    'torch.device': fn((a) => a.join(':')),
    '_codecs.encode': fn((a) => Uint8Array.from(String(a[0]), (c) => c.charCodeAt(0) & 0xff)),
    'numpy.core.multiarray.scalar': fn(numpyScalar),
    'numpy._core.multiarray.scalar': fn(numpyScalar),
  };

  const format: PickleFormat = {
    name: 'torch.save',
    unlisted: 'inert',
    dicts: 'object',
    global(module, name) {
      const full = `${module}.${name}`;
      if (Object.hasOwn(globals, full)) return globals[full];
      if (module === 'torch' && Object.hasOwn(STORAGE_DTYPES, name)) return new StorageType(STORAGE_DTYPES[name]);
      if (module === 'torch' && TORCH_DTYPES.has(name)) return full;
      if (module.startsWith('torch') && name.startsWith('_rebuild')) throw new Error(`${full} is not supported (quantized, sparse or other special tensors)`);
      return undefined;
    },
    persistentLoad(pid) {
      if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) throw new Error(`unknown persistent id ${JSON.stringify(pid)}`);
      const [, type, key, , numel] = pid;
      if (!(type instanceof StorageType)) throw new Error(`storage '${String(key)}' has unsupported storage type ${String(type)}`);
      if (typeof key !== 'string' || !Number.isSafeInteger(numel) || (numel as number) < 0) throw new Error(`bad storage id ${String(key)} (${String(numel)} elements)`);
      let ref = storages.get(key);
      if (!ref) storages.set(key, (ref = { key, dtype: type.dtype, numel: numel as number }));
      else if (ref.dtype !== type.dtype) throw new Error(`storage '${key}' is used as both ${ref.dtype} and ${type.dtype}, which is not supported`);
      return ref;
    },
  };
  return { format, storages, pending };
}
