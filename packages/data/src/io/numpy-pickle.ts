// The numpy pickle format (SeCo's cls_labels_onehot.npy: a dict id -> float32[C] that np.save pickled): the
// allowlist is only what rebuilding numpy arrays needs, so a hostile pickle cannot do more than fail. The VM is
// @seco/tensor's one unpickler.
import { callable, type PickleBuildable, type PickleFormat, unpickle } from '@seco/tensor/pickle';

export class PickledArray implements PickleBuildable {
  shape: number[] = [];
  dtype = '';
  fortran = false;
  raw: Uint8Array = new Uint8Array(0);
  /** Items of an object array (dtype 'O'), e.g. the dict inside a 0-d array that np.save wrote. */
  objects: unknown[] | null = null;

  /** numpy's ndarray.__setstate__: (version, shape, dtype, is_fortran, rawdata). */
  setState(state: unknown): void {
    const st = state as unknown[];
    this.shape = (st[1] as number[]).map(Number);
    const dt = st[2] as PickledDtype;
    // numpy pickles dtype('f4') plus its byte order ('<', '>', '|' or '=' for native, i.e. little here).
    const kind = /^[<>|=]/.test(dt.str) ? dt.str.slice(1) : dt.str;
    this.dtype = (dt.order === '>' ? '>' : '<') + kind;
    this.fortran = Boolean(st[3]);
    const raw = st[4];
    if (Array.isArray(raw)) {
      this.objects = raw;
      return;
    }
    if (!(raw instanceof Uint8Array)) throw new Error('ndarray state without raw bytes (object arrays are not supported)');
    this.raw = raw;
  }
}

class PickledDtype implements PickleBuildable {
  order = '|';
  constructor(readonly str: string) {}

  /** numpy's dtype.__setstate__: (version, byte order, ...). */
  setState(state: unknown): void {
    const st = state as unknown[];
    if (typeof st[1] === 'string') this.order = st[1];
  }
}

const reconstruct = callable(() => new PickledArray());

const GLOBALS: Record<string, unknown> = {
  'numpy.core.multiarray._reconstruct': reconstruct,
  'numpy._core.multiarray._reconstruct': reconstruct,
  // Only ever an argument of _reconstruct (the array's type); never called.
  'numpy.ndarray': callable(() => {
    throw new Error('numpy.ndarray is only allowed as an argument of _reconstruct');
  }),
  'numpy.dtype': callable((args) => new PickledDtype(String(args[0]))),
  '_codecs.encode': callable((args) => {
    const s = String(args[0]);
    const enc = String(args[1] ?? 'utf-8');
    if (enc !== 'latin1' && enc !== 'latin-1') throw new Error(`_codecs.encode with ${enc}`);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }),
};

/** Dicts stay Maps (their keys as pickled); globals outside GLOBALS are refused. */
export const NUMPY_PICKLE: PickleFormat = {
  name: 'numpy',
  unlisted: 'refuse',
  dicts: 'map',
  global: (module, name) => (Object.hasOwn(GLOBALS, `${module}.${name}`) ? GLOBALS[`${module}.${name}`] : undefined),
};

/** Unpickles a numpy object pickle; failures are PickleErrors naming `file`. */
export function unpickleNumpy(bytes: Uint8Array, file?: string): unknown {
  return unpickle(bytes, NUMPY_PICKLE, { file });
}
