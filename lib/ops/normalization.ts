// Layer and batch normalization and dropout, composed from public ops (gradients, including those of
// the weight and bias, come from the existing VJPs). Native fused kernels are a later step.
import { Tensor, isTensor } from '../tensor.js';
import { random } from '../random.js';
import { checkNumber, withDefaults } from '../options.js';
import { fmt, sameShape } from '../shape.js';
import { add, div, mul, sqrt, sub } from './elementwise.js';
import { mean } from './reduce.js';
import { reshape } from './shape.js';
import { empty } from './util.js';

/** (x - mean)/√(var + eps) over dims, with the biased variance; also the statistics (kept dims). */
function normalize(x: Tensor, dims: number[], eps: number): { y: Tensor; mu: Tensor; var: Tensor } {
  const mu = mean(x, dims, true);
  const xc = sub(x, mu);
  const v = mean(mul(xc, xc), dims, true);
  return { y: div(xc, sqrt(add(v, eps))), mu, var: v };
}

function affine(y: Tensor, weight: Tensor | null, bias: Tensor | null, shape: number[]): Tensor {
  const w = weight ? mul(y, reshape(weight, shape)) : y;
  return bias ? add(w, reshape(bias, shape)) : w;
}

function checkParam(op: string, name: string, t: unknown, shape: number[]): void {
  if (t === null || t === undefined) return;
  if (!isTensor(t)) throw new TypeError(`${op}: ${name} must be a Tensor or null`);
  if (!sameShape(t.shape, shape)) throw new RangeError(`${op}: ${name} has shape ${fmt(t.shape)}, expected ${fmt(shape)}`);
}

export interface LayerNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  eps?: number;
}

/** Normalizes over the last dims (normalizedShape), then scales by weight and shifts by bias (PyTorch's layer_norm). */
export function layerNorm(x: Tensor, normalizedShape: number | readonly number[], opts?: LayerNormOptions): Tensor {
  const o = withDefaults('layerNorm', opts, { weight: null as Tensor | null, bias: null as Tensor | null, eps: 1e-5 });
  checkNumber('layerNorm', 'eps', o.eps, (e) => e >= 0, 'a non-negative number');
  const ns = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
  const k = ns.length;
  if (k === 0 || k > x.ndim || !sameShape(x.shape.slice(x.ndim - k), ns)) {
    throw new RangeError(`layerNorm: input of shape ${fmt(x.shape)} does not end with normalizedShape ${fmt(ns)}`);
  }
  checkParam('layerNorm', 'weight', o.weight, ns);
  checkParam('layerNorm', 'bias', o.bias, ns);
  const dims = ns.map((_, i) => x.ndim - k + i);
  return affine(normalize(x, dims, o.eps).y, o.weight, o.bias, ns);
}

export interface BatchNormOptions extends LayerNormOptions {
  /** Use the batch statistics (and update the running ones); false: use the running statistics. */
  training?: boolean;
  /** Weight of the new batch statistics in the running averages (default 0.1). */
  momentum?: number;
}

/**
 * PyTorch's batch_norm over [N, C] or [N, C, L]: per channel, with the batch statistics in training
 * (biased variance for normalizing; the running variance is updated with the unbiased one, in place)
 * or the running statistics otherwise.
 */
export function batchNorm(x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, opts?: BatchNormOptions): Tensor {
  const o = withDefaults('batchNorm', opts, { weight: null as Tensor | null, bias: null as Tensor | null, eps: 1e-5, training: false, momentum: 0.1 });
  checkNumber('batchNorm', 'eps', o.eps, (e) => e >= 0, 'a non-negative number');
  checkNumber('batchNorm', 'momentum', o.momentum, () => true, 'a finite number');
  if (x.ndim !== 2 && x.ndim !== 3) throw new RangeError(`batchNorm: expected a 2-D [N, C] or 3-D [N, C, L] input, got shape ${fmt(x.shape)}`);
  const c = x.shape[1];
  for (const [name, t] of [['runningMean', runningMean], ['runningVar', runningVar], ['weight', o.weight], ['bias', o.bias]] as const) {
    checkParam('batchNorm', name, t, [c]);
  }
  if ((runningMean === null) !== (runningVar === null)) throw new Error('batchNorm: give both runningMean and runningVar, or neither');
  const shape = x.ndim === 2 ? [c] : [c, 1];
  const dims = x.ndim === 2 ? [0] : [0, 2];
  if (!o.training) {
    if (!runningMean || !runningVar) throw new Error('batchNorm: running statistics are needed when training is false');
    const y = div(sub(x, reshape(runningMean, shape)), sqrt(add(reshape(runningVar, shape), o.eps)));
    return affine(y, o.weight, o.bias, shape);
  }
  const n = x.size / Math.max(c, 1);
  if (n <= 1) throw new RangeError(`batchNorm: expected more than 1 value per channel when training, got input of shape ${fmt(x.shape)}`);
  const { y, mu, var: v } = normalize(x, dims, o.eps);
  if (runningMean && runningVar) {
    const f = o.momentum, rm = runningMean.data, rv = runningVar.data;
    for (let i = 0; i < c; i++) {
      rm[i] = (1 - f) * rm[i] + f * mu.data[i];
      rv[i] = (1 - f) * rv[i] + f * v.data[i] * (n / (n - 1));
    }
  }
  return affine(y, o.weight, o.bias, shape);
}

/**
 * Inverted dropout: in training, each element is zeroed with probability p (drawn from the seeded
 * global generator, see manualSeed) and the others are scaled by 1/(1 - p); otherwise x itself.
 */
export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  checkNumber('dropout', 'p', p, (q) => q >= 0 && q <= 1, 'a probability in [0, 1]');
  if (!training || p === 0) return x;
  const mask = empty(x, x.shape);
  const scale = p === 1 ? 0 : 1 / (1 - p);
  for (let i = 0; i < mask.size; i++) mask.data[i] = random() < p ? 0 : scale;
  return mul(x, mask);
}
