import { kernels } from '../backend/index.js';
import { defineLibraryOp, type Grads } from '../autograd/define.js';
import { noGrad } from '../autograd/mode.js';
import { Tensor, floatData, isTensor } from '../tensor.js';
import { fmt, sameShape } from '../shape.js';
import { checkNumber, withDefaults } from '../options.js';
import { add, clamp, div, log, mul, neg, sub, abs, exp, binaryKernel } from './elementwise.js';
import { logSoftmax, relu, sigmoid, softmax } from './activation.js';
import { mean, sum } from './reduce.js';
import { empty, promote, toIndex } from './util.js';

export type Labels = ArrayLike<number> | Tensor;
export type Reduction = 'none' | 'mean' | 'sum';

export interface MSELossOptions {
  /** 'mean' (default), 'sum', or 'none' (the per-element losses). */
  reduction?: Reduction;
}
export interface BCELossOptions extends MSELossOptions {
  /** Rescales each element's loss; broadcast to the input's shape. */
  weight?: Tensor | null;
}
export interface BCEWithLogitsLossOptions extends BCELossOptions {
  /** Weight of the positive (y = 1) term, broadcast to the input's shape (e.g. [classes]: one per class). */
  posWeight?: Tensor | null;
}
export interface NLLLossOptions extends MSELossOptions {
  /** One weight per class; 'mean' divides by the summed weights of the labels not ignored. */
  weight?: Tensor | null;
  /** Rows with this label add nothing to the loss, the mean, or the gradient (default -100). */
  ignoreIndex?: number;
}
export interface CrossEntropyOptions extends NLLLossOptions {
  /** ε in [0, 1]: the target becomes (1-ε)·onehot + ε/classes. */
  labelSmoothing?: number;
}

export interface SmoothL1LossOptions extends MSELossOptions {
  /** Where the loss changes from quadratic to linear (>= 0; 0 gives the L1 loss; default 1). */
  beta?: number;
}
export interface HuberLossOptions extends MSELossOptions {
  /** Where the loss changes from quadratic to linear (> 0; default 1). */
  delta?: number;
}
export interface KLDivLossOptions {
  /** 'mean' (default) averages over all elements; 'batchmean' divides the sum by the batch size (the true KL divergence). */
  reduction?: Reduction | 'batchmean';
  /** The target is given as log-probabilities (default false). */
  logTarget?: boolean;
}

export interface LossOptions {
  mseLoss: Required<MSELossOptions>;
  l1Loss: Required<MSELossOptions>;
  smoothL1Loss: Required<SmoothL1LossOptions>;
  huberLoss: Required<HuberLossOptions>;
  klDiv: Required<KLDivLossOptions>;
  bceLoss: Required<BCELossOptions>;
  bceWithLogitsLoss: Required<BCEWithLogitsLossOptions>;
  nllLoss: Required<NLLLossOptions>;
  crossEntropy: Required<CrossEntropyOptions>;
}
export type LossKind = keyof LossOptions;

const DEFAULTS: { [K in LossKind]: LossOptions[K] } = {
  mseLoss: { reduction: 'mean' },
  l1Loss: { reduction: 'mean' },
  smoothL1Loss: { reduction: 'mean', beta: 1 },
  huberLoss: { reduction: 'mean', delta: 1 },
  klDiv: { reduction: 'mean', logTarget: false },
  bceLoss: { weight: null, reduction: 'mean' },
  bceWithLogitsLoss: { weight: null, posWeight: null, reduction: 'mean' },
  nllLoss: { weight: null, ignoreIndex: -100, reduction: 'mean' },
  crossEntropy: { weight: null, ignoreIndex: -100, reduction: 'mean', labelSmoothing: 0 },
};

/** A loss's options over its defaults, checked; unknown names are rejected. `name` goes into errors. */
export function lossOptions<K extends LossKind>(kind: K, given: object | undefined, name: string = kind): LossOptions[K] {
  if (given !== undefined && checked.get(given) === kind && !buffersNeedGrad(given as Record<string, unknown>)) return given as LossOptions[K];
  const o: Record<string, unknown> = withDefaults(name, given, DEFAULTS[kind]);
  const batchmean = kind === 'klDiv';
  if (o.reduction !== 'none' && o.reduction !== 'mean' && o.reduction !== 'sum' && !(batchmean && o.reduction === 'batchmean')) {
    throw new RangeError(`${name}: reduction must be 'none', 'mean'${batchmean ? ", 'batchmean'" : ''} or 'sum', got '${String(o.reduction)}'`);
  }
  for (const k of ['weight', 'posWeight']) {
    const w = o[k];
    if (w === undefined || w === null) continue;
    if (!isTensor(w)) throw new TypeError(`${name}: ${k} must be a Tensor or null, got ${typeof w}`);
    if (w.requiresGrad) throw new Error(`${name}: ${k} must not require grad (the loss is not differentiated with respect to it)`);
  }
  if ('ignoreIndex' in o) checkNumber(name, 'ignoreIndex', o.ignoreIndex, Number.isInteger, 'an integer');
  if ('beta' in o) checkNumber(name, 'beta', o.beta, (x) => x >= 0, 'a non-negative number');
  if ('delta' in o) checkNumber(name, 'delta', o.delta, (x) => x > 0, 'a positive number');
  if ('logTarget' in o && typeof o.logTarget !== 'boolean') throw new TypeError(`${name}: logTarget must be a boolean, got ${typeof o.logTarget}`);
  if ('labelSmoothing' in o) checkNumber(name, 'labelSmoothing', o.labelSmoothing, (x) => x >= 0 && x <= 1, 'a number in [0, 1]');
  checked.set(Object.freeze(o), kind);
  return o as unknown as LossOptions[K];
}

// Option objects lossOptions returned (frozen): passing one back skips the checks (a loss module
// does this every step), except that a weight may have been set to require grad since.
const checked = new WeakMap<object, LossKind>();

function buffersNeedGrad(o: Record<string, unknown>): boolean {
  return (isTensor(o.weight) && o.weight.requiresGrad) || (isTensor(o.posWeight) && o.posWeight.requiresGrad);
}

/** The per-element losses reduced as asked. */
export function reduce(loss: Tensor, reduction: Reduction): Tensor {
  return reduction === 'none' ? loss : reduction === 'sum' ? sum(loss) : mean(loss);
}

/** A weight tensor in the input's dtype (a constant: weights are never differentiated). */
function asDtypeOf(w: Tensor, like: Tensor): Tensor {
  if (w.dtype === like.dtype) return w;
  return new Tensor(like.dtype === 'float64' ? Float64Array.from(w.data) : Float32Array.from(w.data), w.shape);
}

/** An element weight that broadcasts to x's shape, or null. */
function elementWeight(op: string, name: string, w: Tensor | null, x: Tensor): Tensor | null {
  if (!w) return null;
  const off = x.ndim - w.ndim;
  if (off < 0 || !w.shape.every((d, i) => d === 1 || d === x.shape[off + i])) {
    throw new RangeError(`${op}: ${name} ${fmt(w.shape)} does not broadcast to the input's shape ${fmt(x.shape)}`);
  }
  return asDtypeOf(w, x);
}

/** A per-class weight [classes], or null. */
function classWeight(op: string, w: Tensor | null, classes: number, like: Tensor): Tensor | null {
  if (!w) return null;
  if (w.ndim !== 1 || w.shape[0] !== classes) throw new RangeError(`${op}: weight must have shape [${classes}] (one per class), got ${fmt(w.shape)}`);
  return asDtypeOf(w, like);
}

/** A [labels.length, classes] tensor of 0/1 rows (dtype of like). */
export function oneHot(labels: Labels, classes: number, like?: Tensor): Tensor {
  if (!Number.isInteger(classes) || classes < 0) throw new RangeError(`oneHot: classes must be a non-negative integer, got ${classes}`);
  const idx = toIndex('oneHot', labels, classes);
  const out = like ? empty(like, [idx.length, classes]) : new Tensor(new Float32Array(idx.length * classes), [idx.length, classes]);
  for (let r = 0; r < idx.length; r++) out.data[r * classes + idx[r]] = 1;
  return out;
}

function check2d(op: string, x: Tensor): [number, number] {
  if (x.ndim !== 2) throw new RangeError(`${op}: expected input of shape [batch, classes], got ${fmt(x.shape)}`);
  return [x.shape[0], x.shape[1]];
}

/**
 * Class labels copied into a fresh array as they are checked (so changing or sharing the caller's
 * array after the forward pass cannot move the gradient or slip past the check): each one in
 * [0, classes) or equal to ignoreIndex.
 */
function readLabels(op: string, labels: Labels, rows: number, classes: number, ignoreIndex: number): Int32Array {
  if (isTensor(labels) ? labels.ndim !== 1 : typeof labels?.length !== 'number') {
    throw new TypeError(`${op}: labels must be a 1-D array, typed array or Tensor of class indices`);
  }
  const src = isTensor(labels) ? labels.data : labels;
  if (src.length !== rows) throw new RangeError(`${op}: input [${rows}, ${classes}] has ${rows} rows but ${src.length} labels were given`);
  const out = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    const v = src[i];
    if (v !== ignoreIndex && !(Number.isInteger(v) && v >= 0 && v < classes)) {
      throw new RangeError(`${op}: index ${v} at position ${i} is out of range [0, ${classes})`);
    }
    out[i] = v;
  }
  return out;
}

const crossEntropyOp = defineLibraryOp({
  name: 'CrossEntropy',
  // saved: the softmax probabilities, which the kernel computes on the way
  forward: (logits: Tensor, labels: Int32Array, total: boolean) => {
    const [rows, classes] = logits.shape;
    const probs = empty(logits, logits.shape);
    const out = empty(logits, []);
    out.data[0] = kernels(floatData(logits)).crossEntropy(floatData(logits), labels, rows, classes, probs.data) * (total ? rows : 1);
    return { out, saved: probs };
  },
  // ∂/∂logits of mean(-log softmax[label]) = (softmax - onehot) / rows (no / rows for the sum)
  vjp: (g, { saved: probs, createGraph }, logits: Tensor, labels: Int32Array, total: boolean) => {
    const [rows, classes] = logits.shape;
    const scale = total ? 1 : 1 / rows;
    if (createGraph) {
      // building a graph: the same formula from differentiable ops
      return [mul(sub(softmax(logits, 1), oneHot(labels, classes, logits)), mul(g, scale))];
    }
    const d = empty(logits, logits.shape);
    kernels(floatData(logits)).crossEntropyBackward(probs.data, labels, rows, classes, g.data[0] * scale, d.data);
    return [d];
  },
});

type NllOptions = Omit<Required<CrossEntropyOptions>, 'weight'> & { weight: Tensor | null };

/**
 * PyTorch's nll_loss with label smoothing folded in: -Σ_ij M_ij·logp_ij, where row i of M is
 * (1-ε)·w[y_i]·onehot(y_i) + (ε/C)·w, or 0 when y_i is ignored. 'mean' divides M by Σ w[y_i] over
 * the rows not ignored; with no such row the mean is NaN and its gradient 0, as in PyTorch.
 */
function weightedNll(logp: Tensor, labels: Int32Array, o: NllOptions): Tensor {
  const [rows, classes] = logp.shape;
  const w = o.weight?.data, eps = o.labelSmoothing;
  const m = empty(logp, logp.shape);
  let total = 0;
  for (let i = 0; i < rows; i++) {
    const y = labels[i];
    if (y === o.ignoreIndex) continue;
    const r = i * classes;
    if (eps > 0) for (let j = 0; j < classes; j++) m.data[r + j] = (eps / classes) * (w ? w[j] : 1);
    const wy = w ? w[y] : 1;
    m.data[r + y] += (1 - eps) * wy;
    total += wy;
  }
  if (o.reduction === 'none') return neg(sum(mul(logp, m), 1));
  if (o.reduction === 'mean' && total !== 0) for (let k = 0; k < m.size; k++) m.data[k] /= total;
  const loss = neg(sum(mul(logp, m)));
  return o.reduction === 'mean' && total === 0 ? add(loss, NaN) : loss;
}

/** Cross-entropy against class probabilities (target shaped like the logits), as PyTorch 1.13. */
function softCrossEntropy(logits: Tensor, target: Tensor, o: NllOptions): Tensor {
  if (!sameShape(logits.shape, target.shape)) {
    throw new RangeError(`crossEntropy: probability targets must have the input's shape ${fmt(logits.shape)}, got ${fmt(target.shape)}`);
  }
  if (o.ignoreIndex >= 0) throw new RangeError(`crossEntropy: ignoreIndex (${o.ignoreIndex}) is not supported with probability targets`);
  const [rows, classes] = logits.shape, eps = o.labelSmoothing;
  const t = eps > 0 ? add(mul(target, 1 - eps), eps / classes) : target;
  const lt = mul(logSoftmax(logits, 1), t);
  const perRow = neg(sum(o.weight ? mul(lt, o.weight) : lt, 1));
  return o.reduction === 'none' ? perRow : o.reduction === 'sum' ? sum(perRow) : div(sum(perRow), rows);
}

/**
 * Softmax cross-entropy of logits [batch, classes], numerically stable. The target is either class
 * indices (number[], Int32Array or a 1-D Tensor) or class probabilities (a Tensor shaped like the
 * logits). Options as PyTorch 1.13: weight, ignoreIndex, labelSmoothing, reduction.
 */
export function crossEntropy(logits: Tensor, target: Labels, opts?: CrossEntropyOptions): Tensor {
  const o = lossOptions('crossEntropy', opts);
  const [rows, classes] = check2d('crossEntropy', logits);
  const weight = classWeight('crossEntropy', o.weight, classes, logits);
  if (isTensor(target) && target.ndim === 2) return softCrossEntropy(logits, target, { ...o, weight });
  const idx = readLabels('crossEntropy', target, rows, classes, o.ignoreIndex);
  // the fused kernel covers the common case; the options go through log-softmax and weightedNll
  const fused = !weight && o.labelSmoothing === 0 && o.reduction !== 'none' && rows > 0 && !idx.includes(o.ignoreIndex);
  return fused ? crossEntropyOp(logits, idx, o.reduction === 'sum') : weightedNll(logSoftmax(logits, 1), idx, { ...o, weight });
}

/** Negative log-likelihood of log-probabilities [batch, classes] at the labels (weight, ignoreIndex, reduction). */
export function nllLoss(logProbs: Tensor, labels: Labels, opts?: NLLLossOptions): Tensor {
  const o = lossOptions('nllLoss', opts);
  const [rows, classes] = check2d('nllLoss', logProbs);
  const idx = readLabels('nllLoss', labels, rows, classes, o.ignoreIndex);
  return weightedNll(logProbs, idx, { ...o, weight: classWeight('nllLoss', o.weight, classes, logProbs), labelSmoothing: 0 });
}

export function checkSame(op: string, a: Tensor, b: Tensor): void {
  if (!sameShape(a.shape, b.shape)) throw new RangeError(`${op}: input ${fmt(a.shape)} and target ${fmt(b.shape)} must have the same shape`);
}

const mseOp = defineLibraryOp({
  name: 'MseLoss',
  // Σ(input - target)² / n, with n = size for the mean (0/0 = NaN when empty, as in PyTorch) or 1 for the sum
  forward: (input: Tensor, target: Tensor, n: number) => {
    const d = binaryKernel('sub', 'mseLoss', input, target);
    const k = kernels(floatData(d));
    k.binary('mul', floatData(d), d.shape, floatData(d), d.shape, floatData(d), d.shape); // squared in place
    const out = empty(input, []);
    k.reduce('sum', floatData(d), 1, d.size, 1, out.data);
    out.data[0] /= n;
    return out;
  },
  // d/dinput = 2(input - target)/n
  vjp: (g, { needsInputGrad: need, createGraph }, input: Tensor, target: Tensor, n: number) => {
    let gi: Tensor;
    if (createGraph) gi = mul(sub(input, target), mul(g, 2 / n));
    else {
      // recomputed (cheaper than keeping it alive with the output), then scaled in place
      gi = binaryKernel('sub', 'mseLoss', input, target);
      kernels(floatData(gi)).unary('affine', floatData(gi), floatData(gi), (2 / n) * g.data[0], 0);
    }
    return [need[0] ? gi : null, need[1] ? neg(gi) : null];
  },
});

/** Squared error (input - target)², reduced by opts.reduction (default 'mean'). */
export function mseLoss(input: Tensor, target: Tensor, opts?: MSELossOptions): Tensor {
  const o = lossOptions('mseLoss', opts);
  checkSame('mseLoss', input, target);
  const [a, b] = promote(input, target);
  if (o.reduction !== 'none') return mseOp(a, b, o.reduction === 'mean' ? a.size : 1);
  const d = sub(a, b);
  return mul(d, d);
}

// PyTorch's ε for BCE, 1e-12 rounded to float32 even in float64 (binary_cross_entropy_backward)
const BCE_EPS = Math.fround(1e-12);

const bceOp = defineLibraryOp({
  name: 'BceLoss',
  // -w·(y·log x + (1-y)·log(1-x)) per element, each log clamped at -100 as in PyTorch
  forward: (x: Tensor, y: Tensor, w: Tensor | null) => noGrad(() => {
    const l = neg(add(mul(y, clamp(log(x), -100)), mul(sub(1, y), clamp(log(sub(1, x)), -100))));
    return w ? mul(l, w) : l;
  }),
  // for the target, w·(log(1-x) - log x)
  vjp: (g, { needsInputGrad: n }, x: Tensor, y: Tensor, w: Tensor | null): Grads => [
    n[0] ? bceInputGrad(g, x, y, w) : null,
    n[1] ? mul(w ? mul(g, w) : g, sub(log(sub(1, x)), log(x))) : null,
  ],
});

/** w·(x - y) / max(x(1-x), ε): PyTorch's gradient, finite at x = 0 and x = 1 where the clamped logs have none. */
function bceGradCoef(x: Tensor, y: Tensor): Tensor {
  return div(sub(x, y), clamp(mul(x, sub(1, x)), BCE_EPS));
}

// The input gradient is an op of its own so that its derivatives are PyTorch's
// binary_cross_entropy_double_backward, not the derivative of the clamp (1/ε at x = 0 or 1).
const bceInputGrad = defineLibraryOp({
  name: 'BceLossGrad',
  forward: (g: Tensor, x: Tensor, y: Tensor, w: Tensor | null) => noGrad(() => mul(w ? mul(g, w) : g, bceGradCoef(x, y))),
  vjp: (gg, { needsInputGrad: n }, g: Tensor, x: Tensor, y: Tensor, w: Tensor | null): Grads => {
    const ggw = w ? mul(gg, w) : gg;
    // d/dx: (x² - 2xy + y) / ((x + ε)²(1 - x + ε)²) with PyTorch's unrounded ε
    const dx = () => div(add(sub(mul(x, x), mul(mul(x, y), 2)), y), mul(mul(add(x, 1e-12), add(x, 1e-12)),
      mul(add(sub(1, x), 1e-12), add(sub(1, x), 1e-12))));
    return [
      n[0] ? mul(ggw, bceGradCoef(x, y)) : null,
      n[1] ? mul(mul(ggw, g), dx()) : null,
      n[2] ? neg(div(mul(ggw, g), clamp(mul(x, sub(1, x)), 1e-12))) : null,
    ];
  },
});

/** Binary cross-entropy of probabilities in [0, 1] (weight, reduction); logs are clamped at -100 like PyTorch. */
export function bceLoss(input: Tensor, target: Tensor, opts?: BCELossOptions): Tensor {
  const o = lossOptions('bceLoss', opts);
  checkSame('bceLoss', input, target);
  for (let i = 0; i < input.size; i++) {
    const v = input.data[i];
    if (!(v >= 0 && v <= 1)) throw new RangeError(`bceLoss: input values must lie in [0, 1], got ${v} at flat index ${i}`);
  }
  const [x, y] = promote(input, target);
  return reduce(bceOp(x, y, elementWeight('bceLoss', 'weight', o.weight, x)), o.reduction);
}

/** log(1 + e^-x), stable for any x: max(-x, 0) + log(1 + e^-|x|). */
function softplusNeg(x: Tensor): Tensor {
  return add(relu(neg(x)), log(add(exp(neg(abs(x))), 1)));
}

const bceWithLogitsOp = defineLibraryOp({
  name: 'BceWithLogitsLoss',
  // w·((1-y)·x + (1 + (p-1)·y)·log(1 + e^-x)) per element (PyTorch's form; p = posWeight)
  forward: (x: Tensor, y: Tensor, w: Tensor | null, p: Tensor | null) => noGrad(() => {
    const sp = softplusNeg(x);
    const l = add(mul(sub(1, y), x), p ? mul(add(mul(sub(p, 1), y), 1), sp) : sp);
    return w ? mul(l, w) : l;
  }),
  // d/dx = (1 + (p-1)·y)·σ(x) - p·y, i.e. σ(x) - y without p: exact at x = 0, where the
  // subgradients of max(-x, 0) and |x| in the forward formula are not. d/dy = -x + (p-1)·log(1 + e^-x).
  vjp: (g, { needsInputGrad: n }, x: Tensor, y: Tensor, w: Tensor | null, p: Tensor | null): Grads => {
    const gw = w ? mul(g, w) : g;
    const gx = () => (p ? sub(mul(add(mul(sub(p, 1), y), 1), sigmoid(x)), mul(p, y)) : sub(sigmoid(x), y));
    const gy = () => (p ? sub(mul(sub(p, 1), softplusNeg(x)), x) : neg(x));
    return [n[0] ? mul(gw, gx()) : null, n[1] ? mul(gw, gy()) : null];
  },
});

/** Binary cross-entropy on logits, stable for any x (weight, posWeight, reduction). */
export function bceWithLogitsLoss(input: Tensor, target: Tensor, opts?: BCEWithLogitsLossOptions): Tensor {
  const o = lossOptions('bceWithLogitsLoss', opts);
  checkSame('bceWithLogitsLoss', input, target);
  const [x, y] = promote(input, target);
  const w = elementWeight('bceWithLogitsLoss', 'weight', o.weight, x);
  return reduce(bceWithLogitsOp(x, y, w, elementWeight('bceWithLogitsLoss', 'posWeight', o.posWeight, x)), o.reduction);
}
