// The WSSS methods this package trains and evaluates, by the name a config's `method` gives.
import { SECO_METHOD } from './seco/method.ts';
import { TOCO_METHOD } from './toco/method.ts';
import type { WsssMethod, WsssNetwork } from './train/method.ts';

export const METHODS = { seco: SECO_METHOD, toco: TOCO_METHOD } as const;
export type MethodName = keyof typeof METHODS;
export const METHOD_NAMES = Object.keys(METHODS) as MethodName[];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyMethod = WsssMethod<WsssNetwork, string, any, any>;

/** The method a config names (absent: 'seco'); an unknown name is refused naming the key and the choices. */
export function methodOf(config: { method?: string }): AnyMethod {
  const name = config.method ?? 'seco';
  if (!Object.hasOwn(METHODS, name)) throw new Error(`config method: got ${JSON.stringify(name)}, expected one of ${METHOD_NAMES.map((n) => JSON.stringify(n)).join(', ')}`);
  return METHODS[name as MethodName] as unknown as AnyMethod;
}

/** The method whose checkpoints carry `format`, or null. */
export function methodOfCheckpointFormat(format: string): AnyMethod | null {
  return (Object.values(METHODS) as unknown as AnyMethod[]).find((m) => m.checkpointFormat === format) ?? null;
}
