/** Everything a worker needs to load one sample; plain data so it crosses thread boundaries. */
export interface SampleRef {
  id: string;
  image: string;
  /** Mask path, or null where the split has none (test) or masks are not wanted. */
  mask: string | null;
  /** 0-based classes, or null when they must be derived from the mask (the warned fallback). */
  labels: number[] | null;
}

export interface Dataset {
  readonly name: string;
  readonly numClasses: number;
  readonly classNames: readonly string[];
  readonly ids: readonly string[];
  sample(index: number): SampleRef;
}

export type OnBadSample = 'error' | 'skip';

export type Warn = (message: string) => void;
export const defaultWarn: Warn = (m) => console.warn(`[@seco/data] ${m}`);
