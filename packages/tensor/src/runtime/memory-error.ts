import { TensorError } from '../errors.ts';
import { formatShape } from '../shape.ts';

/** What an allocation is for: the op asking and, for a tensor, its shape and dtype (for error messages). */
export interface AllocationRequest {
  op: string;
  shape?: readonly number[];
  dtype?: string;
  /** What is asked for, where it is not one tensor (e.g. "the AdamW moments of 86M parameters"). */
  what?: string;
}

/** A buffer held live, as a GpuMemoryError lists it. */
export interface LiveAllocation extends AllocationRequest {
  bytes: number;
}

/**
 * Why memory ran out: the budget would be passed, one tensor exceeds the device's largest buffer, or the device
 * itself reported out-of-memory when the buffer was created.
 */
export type MemoryFailureKind = 'budget' | 'buffer-limit' | 'device';

export interface MemoryFailure {
  kind: MemoryFailureKind;
  request: AllocationRequest;
  /** Bytes of the buffer asked for (the pool's bucket, at least the tensor's bytes). */
  bytesAsked: number;
  /** Bytes of buffers handed out and not yet released when it failed. */
  liveBytes: number;
  /** The budget for 'budget' and 'device' (Infinity when unlimited), the device's largest buffer for 'buffer-limit'. */
  limitBytes: number;
  /** The largest live buffers, largest first. */
  largest: readonly LiveAllocation[];
  /** Where the budget came from (e.g. 'SECO_MEMORY_BUDGET'). */
  budgetSource?: string;
  /** Dawn's words, for 'device'. */
  deviceMessage?: string;
}

/**
 * An allocation the device cannot hold. Thrown before any GPU call where the engine can tell (budget, buffer
 * limit), else in place of Dawn's out-of-memory error at the next sync or read. A TensorError, so code that
 * reports TensorErrors reports these too.
 */
export class GpuMemoryError extends TensorError implements MemoryFailure {
  readonly kind: MemoryFailureKind;
  readonly request: AllocationRequest;
  readonly bytesAsked: number;
  readonly liveBytes: number;
  readonly limitBytes: number;
  readonly largest: readonly LiveAllocation[];
  readonly budgetSource?: string;
  readonly deviceMessage?: string;
  /** The message without the advice at its end, for callers that give their own (the CLI names its settings). */
  readonly summary: string;

  constructor(f: MemoryFailure) {
    const { summary, hint } = describeMemoryFailure(f);
    super(f.request.op, `${summary}${hint ? ` ${hint}` : ''}`);
    this.summary = `${f.request.op}: ${summary}`;
    this.name = 'GpuMemoryError';
    this.kind = f.kind;
    this.request = f.request;
    this.bytesAsked = f.bytesAsked;
    this.liveBytes = f.liveBytes;
    this.limitBytes = f.limitBytes;
    this.largest = f.largest;
    this.budgetSource = f.budgetSource;
    this.deviceMessage = f.deviceMessage;
  }

  /** Bytes the allocation could still have had: the budget less what is live (Infinity when unlimited). */
  get availableBytes(): number {
    return this.kind === 'buffer-limit' ? this.limitBytes : Math.max(0, this.limitBytes - this.liveBytes);
  }
}

/** "1610612736 bytes (1.50 GiB)": exact for whoever sets a budget from it, and readable. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return 'unlimited';
  const human = humanBytes(bytes);
  return human ? `${bytes} bytes (${human})` : `${bytes} bytes`;
}

/** "1.50 GiB", or '' below 1 KiB. */
function humanBytes(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u < 0 ? '' : `${v.toFixed(2)} ${units[u]}`;
}

function describeRequest(r: AllocationRequest): string {
  if (r.what) return r.what;
  return r.shape ? `tensor of shape ${formatShape(r.shape)}${r.dtype ? ` (${r.dtype})` : ''}` : 'buffer';
}

function describeLive(a: LiveAllocation): string {
  return `${a.op}${a.shape ? ` ${formatShape(a.shape)}` : ''}${a.dtype ? ` ${a.dtype}` : ''} ${humanBytes(a.bytes) || `${a.bytes} bytes`}`;
}

/** What failed and the numbers (summary), then what to do about it (hint). */
export function describeMemoryFailure(f: MemoryFailure): { summary: string; hint: string } {
  const what = describeRequest(f.request);
  if (f.kind === 'buffer-limit') {
    return {
      summary:
        `${what} needs ${f.bytesAsked} bytes, more than the device's largest buffer (${f.limitBytes} bytes): ` +
        `${humanBytes(f.bytesAsked)} asked, maxBufferSize is ${humanBytes(f.limitBytes)}.`,
      hint: 'No tensor can be that large on this device; use a smaller batch or input.',
    };
  }
  const dawn = `(Dawn: ${oneLine(f.deviceMessage ?? '')})`;
  const head =
    f.kind === 'budget'
      ? `out of GPU memory: ${f.request.what ? '' : 'a '}${what} needs ${formatBytes(f.bytesAsked)}`
      : f.bytesAsked > 0
        ? `the device ran out of memory creating ${f.request.what ? '' : 'a '}${what} of ${formatBytes(f.bytesAsked)} ${dawn}`
        : `the device ran out of memory ${dawn}`; // outside the pool: what was asked is not known
  const budget = Number.isFinite(f.limitBytes)
    ? `the budget is ${formatBytes(f.limitBytes)}${f.budgetSource ? ` (from ${f.budgetSource})` : ''}, ${formatBytes(Math.max(0, f.limitBytes - f.liveBytes))} available`
    : 'no budget is set';
  const held = `${formatBytes(f.liveBytes)} is held by live tensors and ${budget}`;
  const largest = f.largest.length ? ` Largest live tensors: ${f.largest.map(describeLive).join('; ')}.` : '';
  const hint = 'Free tensors sooner (dispose, tidy), use a smaller batch or input, or change the budget (SECO_MEMORY_BUDGET, engine().setMemoryBudget).';
  return { summary: `${head}; ${held}.${largest}`, hint };
}

function oneLine(s: string): string {
  return s.split('\n')[0].trim();
}
