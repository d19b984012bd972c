// SeCo's ViT forward_features written with TF.js ops, for the vit suite's side-by-side timing.
import type { Tensor as T, Tensor4D, Variable } from '@tensorflow/tfjs-core';
import type { Peer } from './tfjs.ts';

type TF = Peer['tf'];

export interface TfVitShape {
  patch: number;
  embedDim: number;
  depth: number;
  numHeads: number;
  eps: number;
}

/** Host weights under timm names → TF.js variables (the patch conv as HWIO for tf.conv2d on NHWC). */
export function tfVitWeights(tf: TF, host: Record<string, { shape: readonly number[]; data: Float32Array }>): Record<string, Variable> {
  const out: Record<string, Variable> = {};
  for (const [k, v] of Object.entries(host)) {
    if (k.startsWith('head.') || k === 'pos_embed') continue;
    const t = tf.tensor(v.data, [...v.shape]);
    const value = k === 'patch_embed.proj.weight' ? tf.transpose(t, [2, 3, 1, 0]) : t;
    out[k] = tf.variable(value, true, k);
    if (value !== t) value.dispose();
    t.dispose();
  }
  return out;
}

function layerNorm(tf: TF, x: T, w: T, b: T, eps: number): T {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), w), b);
}

const gelu = (tf: TF, x: T) => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));

function linear(tf: TF, x2d: T, w: T, b: T): T {
  return tf.add(tf.matMul(x2d, w, false, true), b);
}

/**
 * cls and patch tokens after the final LayerNorm, and the block depth−3 tokens, from an NCHW image. `pos` is the
 * already resized (1, 1+N, D) position embedding (TF.js has no bicubic resize; it is a constant per size).
 */
export function tfVitForward(tf: TF, w: Record<string, T>, s: TfVitShape, image: T, pos: T): { cls: T; patch: T; aux: T } {
  const [B] = image.shape;
  const D = s.embedDim;
  const H = s.numHeads;
  const d = D / H;
  const x = tf.transpose(image, [0, 2, 3, 1]);
  const conv = tf.add(tf.conv2d(x as Tensor4D, w['patch_embed.proj.weight'] as Tensor4D, s.patch, 'valid'), w['patch_embed.proj.bias']);
  const N = conv.shape[1]! * conv.shape[2]!;
  const N1 = N + 1;
  let t = tf.add(tf.concat([tf.tile(w.cls_token, [B, 1, 1]), tf.reshape(conv, [B, N, D])], 1), pos);
  let aux: T | null = null;
  for (let i = 0; i < s.depth; i++) {
    const p = (n: string) => w[`blocks.${i}.${n}`];
    const h = tf.reshape(layerNorm(tf, t, p('norm1.weight'), p('norm1.bias'), s.eps), [B * N1, D]);
    const qkv = tf.transpose(tf.reshape(linear(tf, h, p('attn.qkv.weight'), p('attn.qkv.bias')), [B, N1, 3, H, d]), [2, 0, 3, 1, 4]);
    const [q, k, v] = tf.unstack(qkv, 0);
    const attn = tf.softmax(tf.mul(tf.matMul(q, k, false, true), d ** -0.5));
    const o = tf.reshape(tf.transpose(tf.matMul(attn, v), [0, 2, 1, 3]), [B * N1, D]);
    t = tf.add(t, tf.reshape(linear(tf, o, p('attn.proj.weight'), p('attn.proj.bias')), [B, N1, D]));
    const h2 = tf.reshape(layerNorm(tf, t, p('norm2.weight'), p('norm2.bias'), s.eps), [B * N1, D]);
    const f = linear(tf, gelu(tf, linear(tf, h2, p('mlp.fc1.weight'), p('mlp.fc1.bias'))), p('mlp.fc2.weight'), p('mlp.fc2.bias'));
    t = tf.add(t, tf.reshape(f, [B, N1, D]));
    if (i === s.depth - 3) aux = tf.slice(t, [0, 1, 0], [B, N, D]);
  }
  const n = layerNorm(tf, t, w['norm.weight'], w['norm.bias'], s.eps);
  return { cls: tf.reshape(tf.slice(n, [0, 0, 0], [B, 1, D]), [B, D]), patch: tf.slice(n, [0, 1, 0], [B, N, D]), aux: aux! };
}
