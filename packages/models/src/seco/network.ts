import {
  compareKeys,
  copyInto,
  formatKeyReport,
  detach,
  matmul,
  mul,
  nn,
  noGrad,
  normalize,
  randn,
  scope,
  slice,
  type Tensor,
  tensor,
  TensorError,
  zeros,
} from '@seco/tensor';
import type { HeadOutputs, StudentNetworkConfig } from '../cam-seg-forward.ts';
import type { ASPP } from '../heads/aspp.ts';
import type { Classifier1x1 } from '../heads/classifier.ts';
import { DINOHead } from '../heads/dino-head.ts';
import { type InferenceConfig, sharedNetworkConfig } from '../inference/config.ts';
import { copyToTeacher, emaToTeacher } from '../teacher.ts';
import { ProjectedNetwork } from '../projected-network.ts';
import { SECO_EMA_MOMENTUM } from './train/recipe.ts';
import { VisionTransformer } from '../vit.ts';

export interface SecoNetworkConfig extends StudentNetworkConfig {
  /** --ctc-dim: the projection (and queue, prototype) width; 768. */
  projDim?: number;
  projHidden?: number;
  /** out_dim of the projection heads' unused last_layer (SeCo: 768, the projection width). */
  projLastDim?: number;
  /** --moco_queue: 4608. */
  queueSize?: number;
  /** init_momentum for both EMAs: 0.999. */
  momentum?: number;
}

/** The structural config of a SeCo run (the CLI's config, or one inferred from a checkpoint) as a SecoNetworkConfig. */
export function networkConfig(config: InferenceConfig): SecoNetworkConfig {
  const m = config.model;
  return {
    ...sharedNetworkConfig(config),
    projDim: m.proj_out_dim,
    projHidden: m.proj_hidden_dim,
    ...(m.proj_last_dim !== undefined ? { projLastDim: m.proj_last_dim } : {}),
    queueSize: config.seco.queue_size,
    momentum: config.seco.momentum,
  };
}

/** SeCo's forward outputs: the shared heads' (cam-seg-forward.ts). */
export type SecoOutputs = HeadOutputs;

/**
 * SeCo's `network` (model/model_seco.py, spec §2.5/§3.5) with its state_dict names: encoder, encoder_k (momentum
 * copy, frozen), proj_head, proj_head_t (teacher copy, frozen), decoder (ASPP), classifier, aux_classifier, and
 * buffers prototypes, queue, queue_label_flag, queue_ptr. Single device: the all-gathers are identities and the
 * DDP batch shuffles are dropped (no BatchNorm anywhere).
 */
export class SecoNetwork extends ProjectedNetwork {
  readonly momentum: number;
  readonly queueSize: number;
  readonly encoder: VisionTransformer;
  readonly encoderK: VisionTransformer;
  readonly projHead: DINOHead;
  readonly projHeadT: DINOHead;
  readonly decoder: ASPP;
  readonly classifier: Classifier1x1;
  readonly auxClassifier: Classifier1x1;
  /** Host copy of queue_ptr (the buffer mirrors it for checkpoints). */
  private ptr = 0;

  constructor(config: SecoNetworkConfig) {
    super('SecoNetwork', config.numClasses);
    const g = config.generator;
    this.momentum = config.momentum ?? SECO_EMA_MOMENTUM;
    this.queueSize = config.queueSize ?? 4608;
    const projDim = config.projDim ?? 768;
    this.encoder = this.registerModule('encoder', new VisionTransformer(config.backbone, g));
    this.encoderK = this.registerModule('encoder_k', new VisionTransformer(config.backbone, g));
    const D = this.encoder.embedDim;
    const head = () => new DINOHead(D, { hiddenDim: config.projHidden ?? 2048, bottleneckDim: projDim, outDim: config.projLastDim ?? projDim, generator: g });
    ({ projHead: this.projHead, projHeadT: this.projHeadT, decoder: this.decoder, classifier: this.classifier, auxClassifier: this.auxClassifier } = this.registerHeads(D, head, config.asppRates, g));
    this.syncTeachers();
    this.registerBuffer('prototypes', randn([this.numClasses - 1, projDim], 0, 1, g));
    // The quirk kept on purpose: F.normalize(randn(Q, dim), dim=0) normalises columns, not rows.
    this.registerBuffer('queue', scope(() => normalize(randn([this.queueSize, projDim], 0, 1, g), { dim: 0 })));
    this.registerBuffer('queue_label_flag', zeros([this.queueSize, 1], 'i32'));
    this.registerBuffer('queue_ptr', zeros([1], 'i32'));
  }

  get prototypes(): Tensor {
    return this.buffer('prototypes');
  }
  get queue(): Tensor {
    return this.buffer('queue');
  }
  get queueLabelFlag(): Tensor {
    return this.buffer('queue_label_flag');
  }
  get queuePtr(): number {
    return this.ptr;
  }

  private buffer(name: string): Tensor {
    return this.namedBuffers().find(([n]) => n === name)![1];
  }

  /** encoder_k ← encoder and proj_head_t ← proj_head, both frozen (SeCo's init copies). */
  syncTeachers(): void {
    copyToTeacher(this.encoderK, this.encoder);
    copyToTeacher(this.projHeadT, this.projHead);
  }

  /** _momentum_update_key_encoder: encoder_k ← m·encoder_k + (1−m)·encoder, every parameter (pos_embed and head too). */
  momentumUpdateEncoder(m = this.momentum): void {
    emaToTeacher(this.encoderK, this.encoder, m, this.masterOf);
  }

  /** _EMA_update_encoder_teacher: proj_head_t ← m·proj_head_t + (1−m)·proj_head. */
  emaUpdateProjHead(m = this.momentum): void {
    emaToTeacher(this.projHeadT, this.projHead, m, this.masterOf);
  }

  /**
   * update_prototype (§3.5.2): for each (feat, label) in order with label ≠ −1,
   * proto[label−1] = m·proto[label−1] + (1−m)·feat; then every prototype is L2-normalised. The sequential loop
   * is folded into one product: row r becomes m^k·proto[r] + Σ_j (1−m)·m^(k−1−j)·feat_j over its k feats in
   * order. Returns a detached copy. Labels are host numbers: −1, or a class id 1..C−1.
   */
  updatePrototype(feats: Tensor, labels: ArrayLike<number>, protoM: number): Tensor {
    const C = this.numClasses - 1;
    const N = feats.shape[0];
    if (feats.rank !== 2 || labels.length !== N || feats.shape[1] !== this.prototypes.shape[1]) {
      throw new TensorError('updatePrototype', `needs feats (N, ${this.prototypes.shape[1]}) and N labels, got [${feats.shape.join(', ')}] and ${labels.length}`);
    }
    const scale = new Float64Array(C).fill(1);
    const coef = new Float64Array(C * N);
    for (let i = 0; i < N; i++) {
      const l = labels[i];
      if (l === -1) continue;
      // SeCo would index proto[-1] for label 0 (Python wraps); 0 is never a foreground id, so it is refused.
      if (!Number.isInteger(l) || l < 1 || l > C) throw new TensorError('updatePrototype', `label ${l} at ${i} is neither -1 nor a class id in 1..${C}`);
      const r = l - 1;
      scale[r] *= protoM;
      for (let j = 0; j < N; j++) coef[r * N + j] *= protoM;
      coef[r * N + i] += 1 - protoM;
    }
    return noGrad(() =>
      scope(() => {
        const mixed = mul(this.prototypes, tensor(Float32Array.from(scale), [C, 1]));
        const next = normalize(mixed.add(matmul(tensor(Float32Array.from(coef), [C, N]), detach(feats))), { dim: 1 });
        copyInto(this.prototypes, next);
        return next;
      }),
    );
  }

  /** Re-reads the host queue pointer from the queue_ptr buffer, after a state dict was loaded into it (resume). */
  async syncQueuePtr(): Promise<void> {
    this.ptr = (await this.buffer('queue_ptr').data())[0];
  }

  /** WsssNetwork: after a resumed state dict, the host queue pointer follows the loaded buffer. */
  afterStateLoad(): Promise<void> {
    return this.syncQueuePtr();
  }

  /** _dequeue_and_enqueue: queue[ptr:ptr+K] = keys, flags likewise, ptr = (ptr + K) mod Q; K must divide Q. */
  enqueue(keys: Tensor, flags: ArrayLike<number>): void {
    const K = keys.shape[0];
    const Q = this.queueSize;
    if (keys.rank !== 2 || keys.shape[1] !== this.queue.shape[1] || flags.length !== K) {
      throw new TensorError('enqueue', `needs keys (K, ${this.queue.shape[1]}) and K flags, got [${keys.shape.join(', ')}] and ${flags.length}`);
    }
    if (K === 0 || Q % K !== 0) throw new TensorError('enqueue', `queue size ${Q} is not divisible by ${K} keys (SeCo asserts this)`);
    const p = this.ptr;
    noGrad(() =>
      scope(() => {
        copyInto(slice(this.queue, [[p, p + K]]), detach(keys));
        copyInto(slice(this.queueLabelFlag, [[p, p + K]]), tensor(Int32Array.from(flags), [K, 1], 'i32'));
        this.ptr = (p + K) % Q;
        copyInto(this.buffer('queue_ptr'), tensor([this.ptr], [1], 'i32'));
      }),
    );
  }

  /**
   * Loads a SeCo state dict. encoder, classifier, aux_classifier and decoder must all be present (an inference
   * checkpoint has only these); the training state (encoder_k, proj heads, buffers) loads when present, and an
   * absent encoder_k / proj_head_t is re-copied from its student. Unexpected or mis-shaped keys throw, naming
   * them, before anything is loaded.
   */
  async loadWeights(record: nn.StateRecord): Promise<void> {
    const entries = record instanceof Map ? [...record] : Object.entries(record as Record<string, nn.StateValue>);
    const shapes = Object.fromEntries(entries.map(([k, v]) => [k, { shape: v.shape }]));
    const report = compareKeys(shapes, Object.entries(this.stateDict()).map(([k, t]) => [k, t.shape] as const));
    const optional = /^(encoder_k\.|proj_head\.|proj_head_t\.|prototypes$|queue$|queue_label_flag$|queue_ptr$)/;
    const absent = report.missing;
    report.missing = absent.filter((k) => !optional.test(k));
    report.ok = !report.missing.length && !report.unexpected.length && !report.mismatched.length;
    if (!report.ok) throw new TensorError('SecoNetwork.loadWeights', `not a SeCo network of this shape: ${formatKeyReport(report)}`);
    this.loadStateDict(record, { strict: false });
    if (absent.some((k) => k.startsWith('encoder_k.'))) copyToTeacher(this.encoderK, this.encoder);
    if (absent.some((k) => k.startsWith('proj_head_t.'))) copyToTeacher(this.projHeadT, this.projHead);
    if (!absent.includes('queue_ptr')) await this.syncQueuePtr();
  }
}
