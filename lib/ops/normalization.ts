// Layer and batch normalization and dropout as fused kernels (lib/backend/catalogue.ts). Their VJPs
// run the backward kernels, or with createGraph build the same gradients from public ops so that
// second derivatives flow. Batch normalization in eval() is a per-channel affine of public ops.
import { kernels } from '../backend/index.js';
import { defineLibraryOp, type Grads, type VjpContext } from '../autograd/define.js';
import { Tensor, floatData, isTensor } from '../tensor.js';
import { getRngState, setRngState } from '../random.js';
import { checkNumber, withDefaults } from '../options.js';
import { fmt, sameShape, sizeOf } from '../shape.js';
import { add, div, mul, neg, sqrt, sub } from './elementwise.js';
import { mean, sum } from './reduce.js';
import { reshape } from './shape.js';
import { promote, uninit } from './util.js';

/** What the fused forward kernels save: the mean and biased variance of each normalized group. */
interface NormStats { mean: Tensor; var: Tensor }

/** Where a normalization reduces: statDims for the statistics, paramDims for the weight/bias gradients. */
interface NormLayout { statDims: number[]; paramDims: number[]; wShape: number[] }

/**
 * The gradients of (x - mean)/√(var + eps)·weight + bias for createGraph, with public ops (so they
 * can be differentiated again): dx = rstd·(gy - mean(gy) - x̂·mean(gy·x̂)), gy = g·weight,
 * dweight = Σ g·x̂, dbias = Σ g. The statistics are recomputed from x as differentiable tensors.
 */
function normGradsWithOps(
  x: Tensor, g: Tensor, eps: number, weight: Tensor | null, bias: Tensor | null, L: NormLayout, need: readonly boolean[],
): (Tensor | null)[] {
  const mu = mean(x, L.statDims, true);
  const xc = sub(x, mu);
  const rstd = div(1, sqrt(add(mean(mul(xc, xc), L.statDims, true), eps)));
  const xhat = mul(xc, rstd);
  const gy = weight ? mul(g, reshape(weight, L.wShape)) : g;
  const reduce = (t: Tensor): Tensor => (L.paramDims.length ? sum(t, L.paramDims) : t);
  return [
    need[0] ? mul(rstd, sub(sub(gy, mean(gy, L.statDims, true)), mul(xhat, mean(mul(gy, xhat), L.statDims, true)))) : null,
    weight && need[1] ? reshape(reduce(mul(g, xhat)), weight.shape) : null,
    bias && need[2] ? reshape(reduce(g), bias.shape) : null,
  ];
}

type Backward = (x: Tensor, g: Tensor, stats: NormStats, eps: number, weight: Tensor | null,
  dx: Tensor | null, dweight: Tensor | null, dbias: Tensor | null) => void;

/**
 * The VJP of a fused normalization over inputs (x, weight?, bias?): the backward kernel, or with
 * createGraph the same gradients built from public ops.
 */
function normVjp(
  g: Tensor, ctx: VjpContext<NormStats>, x: Tensor, weight: Tensor | null, bias: Tensor | null, eps: number,
  layout: NormLayout, kernel: Backward,
): Grads {
  const n = ctx.needsInputGrad;
  const need = [n[0], weight !== null && n[1], bias !== null && n[weight ? 2 : 1]];
  let grads: (Tensor | null)[];
  if (ctx.createGraph) {
    grads = normGradsWithOps(x, g, eps, weight, bias, layout, need);
  } else {
    grads = [need[0] ? uninit(x, x.shape) : null, need[1] ? uninit(weight!, weight!.shape) : null, need[2] ? uninit(bias!, bias!.shape) : null];
    kernel(x, g, ctx.saved, eps, weight, grads[0], grads[1], grads[2]);
  }
  return [grads[0], ...(weight ? [grads[1]] : []), ...(bias ? [grads[2]] : [])];
}

/** x, weight and bias in one dtype: float32 ones become float64 when another is (as the elementwise ops promote). */
function promoteAll(x: Tensor, weight: Tensor | null, bias: Tensor | null): [Tensor, Tensor | null, Tensor | null] {
  const f64 = [x, weight, bias].find((t) => t !== null && t.dtype === 'float64');
  if (!f64) return [x, weight, bias];
  const up = (t: Tensor | null): Tensor | null => (t === null ? null : promote(t, f64)[0]);
  return [up(x)!, up(weight), up(bias)];
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
  return layerNormOp(...promoteAll(x, o.weight, o.bias), o.eps, ns);
}

function layerNormLayout(x: Tensor, ns: number[]): NormLayout {
  const lead = x.ndim - ns.length;
  return { statDims: ns.map((_, i) => lead + i), paramDims: Array.from({ length: lead }, (_, i) => i), wShape: ns };
}

const layerNormBackward: Backward = (x, g, stats, eps, weight, dx, dw, db) => {
  const rows = stats.mean.size, cols = rows === 0 ? 0 : x.size / rows;
  const xd = floatData(x);
  kernels(xd).layerNormBackward(xd, floatData(g), rows, cols, floatData(stats.mean), floatData(stats.var), eps, (weight ? floatData(weight) : null),
    (dx ? floatData(dx) : null), (dw ? floatData(dw) : null), (db ? floatData(db) : null));
};

const layerNormOp = defineLibraryOp({
  name: 'LayerNorm',
  forward: (x: Tensor, weight: Tensor | null, bias: Tensor | null, eps: number, ns: number[]) => {
    const cols = sizeOf(ns), rows = cols === 0 ? 0 : x.size / cols;
    const out = uninit(x, x.shape), m = uninit(x, [rows]), v = uninit(x, [rows]);
    const xd = floatData(x);
    kernels(xd).layerNorm(xd, rows, cols, (weight ? floatData(weight) : null), (bias ? floatData(bias) : null), eps, floatData(out), floatData(m), floatData(v));
    return { out, saved: { mean: m, var: v } };
  },
  vjp: (g, ctx: VjpContext<NormStats>, x, weight, bias, eps, ns): Grads =>
    normVjp(g, ctx, x, weight, bias, eps, layerNormLayout(x, ns), layerNormBackward),
});

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
  if (!o.training) {
    if (!runningMean || !runningVar) throw new Error('batchNorm: running statistics are needed when training is false');
    // y = x·scale + shift with per-channel scale = weight/√(runningVar + eps), shift = bias - runningMean·scale
    // (PyTorch's eval transform): two passes over x, and the [C] terms carry the weight and bias gradients.
    const rstd = div(1, sqrt(add(runningVar, o.eps)));
    const scale = o.weight ? mul(o.weight, rstd) : rstd;
    const shift = mul(runningMean, scale);
    return add(mul(x, reshape(scale, shape)), reshape(o.bias ? sub(o.bias, shift) : neg(shift), shape));
  }
  const n = x.size / Math.max(c, 1);
  if (n <= 1) throw new RangeError(`batchNorm: expected more than 1 value per channel when training, got input of shape ${fmt(x.shape)}`);
  const running = runningMean && runningVar ? { mean: runningMean, var: runningVar, momentum: o.momentum } : null;
  return batchNormOp(...promoteAll(x, o.weight, o.bias), o.eps, running);
}

/** The running statistics a training batchNorm updates in place. */
interface Running { mean: Tensor; var: Tensor; momentum: number }

function batchNormLayout(x: Tensor): NormLayout {
  const c = x.shape[1];
  return x.ndim === 2 ? { statDims: [0], paramDims: [0], wShape: [c] } : { statDims: [0, 2], paramDims: [0, 2], wShape: [c, 1] };
}

const batchNormBackward: Backward = (x, g, stats, eps, weight, dx, dw, db) => {
  const [n, c] = x.shape, l = x.ndim === 3 ? x.shape[2] : 1;
  const xd = floatData(x);
  kernels(xd).batchNormBackward(xd, floatData(g), n, c, l, floatData(stats.mean), floatData(stats.var), eps, (weight ? floatData(weight) : null),
    (dx ? floatData(dx) : null), (dw ? floatData(dw) : null), (db ? floatData(db) : null));
};

const batchNormOp = defineLibraryOp({
  name: 'BatchNorm',
  forward: (x: Tensor, weight: Tensor | null, bias: Tensor | null, eps: number, running: Running | null) => {
    const [n, c] = x.shape, l = x.ndim === 3 ? x.shape[2] : 1;
    const out = uninit(x, x.shape), m = uninit(x, [c]), v = uninit(x, [c]);
    const xd = floatData(x);
    kernels(xd).batchNorm(xd, n, c, l, (weight ? floatData(weight) : null), (bias ? floatData(bias) : null), eps, floatData(out), floatData(m), floatData(v));
    if (running) {
      // the running variance takes the unbiased batch variance
      const f = running.momentum, rm = running.mean.data, rv = running.var.data, count = n * l, unbias = count / (count - 1);
      for (let i = 0; i < c; i++) {
        rm[i] = (1 - f) * rm[i] + f * m.data[i];
        rv[i] = (1 - f) * rv[i] + f * v.data[i] * unbias;
      }
    }
    return { out, saved: { mean: m, var: v } };
  },
  vjp: (g, ctx: VjpContext<NormStats>, x, weight, bias, eps): Grads =>
    normVjp(g, ctx, x, weight, bias, eps, batchNormLayout(x), batchNormBackward),
});

/**
 * Inverted dropout: in training, each element is zeroed with probability p (drawn from the seeded
 * global generator, see manualSeed) and the others are scaled by 1/(1 - p); otherwise x itself.
 */
export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  checkNumber('dropout', 'p', p, (q) => q >= 0 && q <= 1, 'a probability in [0, 1]');
  if (!training || p === 0) return x;
  return dropoutOp(x, p);
}

/**
 * x times the dropout mask drawn from the xoshiro128** state `start` (left unchanged; the state after
 * the draws goes to `end`). No mask is kept: the VJP draws the same mask again from `start` and
 * applies it to the gradient, which is linear in it, so it differentiates again the same way.
 */
const maskedBy = defineLibraryOp({
  name: 'Dropout',
  forward: (x: Tensor, p: number, start: Int32Array, end: Int32Array) => {
    const out = uninit(x, x.shape);
    end.set(start);
    const xd = floatData(x);
    kernels(xd).dropout(xd, p, end, floatData(out), null);
    return out;
  },
  vjp: (g, _ctx, _x, p: number, start: Int32Array): Grads => [maskedBy(g, p, start, new Int32Array(4))],
});

/** Dropout with the global generator, which then continues after the draws. */
function dropoutOp(x: Tensor, p: number): Tensor {
  const state = getRngState(), start = Int32Array.from(state.slice(0, 4)), end = new Int32Array(4);
  const y = maskedBy(x, p, start, end);
  setRngState([...end, ...state.slice(4)]);
  return y;
}
