import { kernels } from '../backend/index.js';
import { asFloat, defineLibraryOp, type Grads } from '../autograd/define.js';
import { Tensor } from '../tensor.js';
import { fmt, splitAt } from '../shape.js';
import { add, sub, mul, div, neg, log, exp, pow, abs, eq, binaryKernel, unaryKernel } from './elementwise.js';
import { sum, mean, max, argmax, count, oneDim, reduceKernel, reducedShape, resolve, spread, type DimArg, type Dims } from './reduce.js';
import { reshape } from './shape.js';
import { empty } from './util.js';

function checkNotEmpty(op: string, x: Tensor, dims: Dims): void {
  if (count(x, dims) === 0) throw new RangeError(`${op}: cannot reduce an empty dimension (shape ${fmt(x.shape)})`);
}

/** Min over one dim or all; min() splits the gradient evenly among ties, min(dim) picks the first. */
export function min(x: Tensor, dim?: number | null, keepDim = false): Tensor {
  checkNotEmpty('min', x, resolve('min', x, oneDim('min', dim)));
  return neg(max(neg(x), dim, keepDim));
}

/** Indices of the first minimum, as an int32 tensor (PyTorch: int64); no gradient. */
export function argmin(x: Tensor, dim?: number | null, keepDim = false): Tensor {
  checkNotEmpty('argmin', x, resolve('argmin', x, oneDim('argmin', dim)));
  return argmax(neg(asFloat(x.detach(), 'float64')), dim, keepDim);
}

/**
 * Values and indices of the max over dim, like torch.max(x, dim). The indices are an int32 tensor
 * and carry no gradient; values' gradient goes to the same index.
 */
export function maxWithIndices(x: Tensor, dim: number, keepDim = false): { values: Tensor; indices: Tensor } {
  requireDim('maxWithIndices', dim);
  checkNotEmpty('maxWithIndices', x, resolve('maxWithIndices', x, dim));
  return { values: max(x, dim, keepDim), indices: argmax(x.detach(), dim, keepDim) };
}

/** Values and (int32) indices of the min over dim, like torch.min(x, dim). */
export function minWithIndices(x: Tensor, dim: number, keepDim = false): { values: Tensor; indices: Tensor } {
  requireDim('minWithIndices', dim);
  checkNotEmpty('minWithIndices', x, resolve('minWithIndices', x, dim));
  return { values: min(x, dim, keepDim), indices: argmin(x, dim, keepDim) };
}

function requireDim(op: string, dim: unknown): void {
  if (typeof dim !== 'number') throw new TypeError(`${op}: dim must be a number, got ${dim === null ? 'null' : typeof dim}`);
}

export interface VarOptions {
  /** Divide by n - 1 (Bessel's correction) instead of n; default true, as in PyTorch 1.13. */
  unbiased?: boolean;
  keepDim?: boolean;
}

/** Variance over dim (a number, several as an array, or all when omitted). Exported as `var` too. */
export function variance(x: Tensor, dim?: DimArg, opts: VarOptions = {}): Tensor {
  const { unbiased = true, keepDim = false } = opts;
  const dims = resolve('var', x, dim);
  const d = sub(x, mean(x, dims, true));
  // n - 1 = 0 gives 0 · ∞ = NaN, as PyTorch
  return mul(sum(mul(d, d), dims, keepDim), 1 / (count(x, dims) - (unbiased ? 1 : 0)));
}

const stdOp = defineLibraryOp({
  name: 'Std',
  forward: (v: Tensor) => unaryKernel('sqrt', v),
  // g / (2·std), and 0 where std = 0 (PyTorch's std_backward): there every deviation is 0 anyway
  vjp: (g, { out }): Grads => [div(g, mul(add(out, eq(out, 0)), 2))],
});

/** Standard deviation: the square root of variance (same options). */
export function std(x: Tensor, dim?: DimArg, opts: VarOptions = {}): Tensor {
  return stdOp(variance(x, dim, opts));
}

function kept(out: Tensor, x: Tensor, dims: Dims): Tensor {
  return reshape(out, reducedShape(x.shape, dims, true));
}

const norm2Op = defineLibraryOp({
  name: 'Norm',
  forward: (x: Tensor, dims: Dims, keepDim: boolean) => {
    const out = reduceKernel('sum', binaryKernel('mul', 'norm', x, x), dims, keepDim);
    kernels(out.data).unary('sqrt', out.data, out.data, 0, 0);
    return out;
  },
  // g · x / ‖x‖, and 0 where ‖x‖ = 0 (PyTorch's subgradient): there every x is 0, so x / 1 = 0
  vjp: (g, { out }, x, dims: Dims): Grads => {
    const n = kept(out, x, dims);
    return [mul(spread(g, x, dims), div(x, add(n, eq(n, 0))))];
  },
});

const normInfOp = defineLibraryOp({
  name: 'Norm',
  forward: (x: Tensor, dims: Dims, keepDim: boolean) => reduceKernel('max', unaryKernel('abs', x), dims, keepDim),
  // the gradient of each slice is split evenly among its elements of maximal |x| (PyTorch's rule)
  vjp: (g, { out }, x, dims: Dims): Grads => {
    const mask = eq(abs(x), kept(out, x, dims));
    return [mul(spread(g, x, dims), mul(unaryKernel('sign', x), div(mask, sum(mask, dims, true))))];
  },
});

/** The p-norm over dim (all when omitted): p = 1, 2, Infinity or any other p > 0. */
export function norm(x: Tensor, p = 2, dim?: DimArg, keepDim = false): Tensor {
  if (typeof p !== 'number' || !(p > 0)) throw new RangeError(`norm: p must be a positive number or Infinity, got ${String(p)}`);
  const dims = resolve('norm', x, dim);
  if (p === 2) return norm2Op(x, dims, keepDim);
  if (p === 1) return sum(abs(x), dims, keepDim);
  if (p === Infinity) {
    checkNotEmpty('norm', x, dims);
    return normInfOp(x, dims, keepDim);
  }
  return pow(sum(pow(abs(x), p), dims, keepDim), 1 / p);
}

/** log(sum(exp(x))) over dim, computed stably (the max is subtracted first). */
export function logsumexp(x: Tensor, dim: number | readonly number[], keepDim = false): Tensor {
  if (dim === null || dim === undefined) throw new TypeError('logsumexp: dim is required (a number or an array of numbers)');
  const dims = resolve('logsumexp', x, dim);
  x = asFloat(x);
  const m = count(x, dims) === 0 ? empty(x, reducedShape(x.shape, dims, true)) : reduceKernel('max', x, dims, true);
  // a constant shift; ±∞ or NaN maxima shift by 0 so that x - m stays defined where it can
  for (let i = 0; i < m.size; i++) if (!Number.isFinite(m.data[i])) m.data[i] = 0;
  const out = add(log(sum(exp(sub(x, m)), dims, true)), m);
  return keepDim ? out : reshape(out, reducedShape(x.shape, dims, false));
}

/** Inclusive running sum along one dim (reverse: from the end). */
function scan(x: Tensor, dim: Dims, reverse: boolean): Tensor {
  const out = empty(x, x.shape);
  const [outer, n, inner] = dim === null ? [1, x.size, 1] : splitAt(x.shape, dim[0]);
  const a = x.data, o = out.data;
  for (let b = 0; b < outer; b++) {
    for (let i = 0; i < inner; i++) {
      let acc = 0;
      for (let t = 0; t < n; t++) {
        const k = (b * n + (reverse ? n - 1 - t : t)) * inner + i;
        acc += a[k];
        o[k] = acc;
      }
    }
  }
  return out;
}

const cumsumOp = defineLibraryOp({
  name: 'Cumsum',
  forward: (x: Tensor, dim: Dims) => scan(x, dim, false),
  vjp: (g, _ctx, _x, dim: Dims): Grads => [revCumsumOp(g, dim)],
});
const revCumsumOp = defineLibraryOp({
  name: 'Cumsum',
  forward: (x: Tensor, dim: Dims) => scan(x, dim, true),
  vjp: (g, _ctx, _x, dim: Dims): Grads => [cumsumOp(g, dim)],
});

/** Running sum along dim (the same shape as x). */
export function cumsum(x: Tensor, dim: number): Tensor {
  requireDim('cumsum', dim);
  return cumsumOp(x, resolve('cumsum', x, dim));
}

export { variance as var };