// A SegModel from weights: the network built from a config and loaded strictly, or, for a file alone, from the
// config the checkpoint stores or the shape its tensors show.
import type { SourceInput, TensorRecord } from '@seco/tensor';
import { methodOf } from '../methods.ts';
import type { WsssNetwork } from '../train/method.ts';
import { type InferenceConfig, inferenceConfigFrom, inferInferenceConfig, unusedParts } from './config.ts';
import { createSegModel, type SegModel } from './seg-model.ts';
import { type NetworkWeights, readNetworkWeights, sourceName } from './weights.ts';

/**
 * The network of `config` (its method's: SeCo's unless config.method says otherwise) holding `tensors`, loaded
 * strictly: missing, unexpected and mis-shaped keys are named (with `name`) and nothing is loaded. For SeCo the
 * shapes of the parts no forward uses (timm's head, DINOHead's last_layer) follow the tensors, so SeCo's released
 * checkpoints and ours both fit.
 */
export function loadSegNetwork(tensors: TensorRecord, config: InferenceConfig, name: string): WsssNetwork {
  const method = methodOf(config);
  const shaped = method.name === 'seco' ? { ...config, model: { ...config.model, ...unusedParts(tensors) } } : config;
  const net = method.createNetwork(shaped);
  try {
    net.loadStateDict(tensors, { strict: true });
  } catch (e) {
    net.dispose();
    throw new Error(`${name}: does not fit the config's model (${(e as Error).message})`, { cause: e });
  }
  return net;
}

export function segModelFromWeights(tensors: TensorRecord, config: InferenceConfig, name: string): SegModel {
  return createSegModel(loadSegNetwork(tensors, config, name), config);
}

export interface OpenedModel {
  model: SegModel;
  name: string;
  kind: NetworkWeights['kind'];
  /** 'checkpoint': the config stored with it; 'inferred': read from the tensor shapes (see `assumed`). */
  configSource: 'checkpoint' | 'inferred';
  /** What the shape inference had to assume (empty for a checkpoint's own config). */
  assumed: string[];
}

/** Opens a weights file with no config at hand (the browser page): the stored config, else the inferred shape. */
export async function openSegModel(input: SourceInput, options: { name?: string; numHeads?: number } = {}): Promise<OpenedModel> {
  const name = options.name ?? sourceName(input);
  let weights: NetworkWeights;
  try {
    weights = await readNetworkWeights(input, name);
  } catch (e) {
    const msg = (e as Error).message;
    throw new Error(msg.includes(name) ? msg : `${name}: ${msg}`, { cause: e });
  }
  if (weights.config !== null) {
    // The tag names the method, also for a stored config from before configs named one.
    const config = { ...inferenceConfigFrom(weights.config, name), ...(weights.method ? { method: weights.method as InferenceConfig['method'] } : {}) };
    return { model: segModelFromWeights(weights.tensors, config, name), name, kind: weights.kind, configSource: 'checkpoint', assumed: [] };
  }
  const { config, assumed } = inferInferenceConfig(weights.tensors, name, { numHeads: options.numHeads });
  return { model: segModelFromWeights(weights.tensors, config, name), name, kind: weights.kind, configSource: 'inferred', assumed };
}
