import { kernels } from '../backend/index.js';
import { asFloat, defineLibraryOp } from '../autograd/define.js';
import { Tensor, floatData, type FloatTensor } from '../tensor.js';
import { fmt, normDim, sizeOf, splitAt } from '../shape.js';
import { mul } from './elementwise.js';
import { expand, reshape } from './shape.js';
import { empty } from './util.js';

/** Reduced dims, sorted; null for all of them. */
export type Dims = number[] | null;

export function reducedShape(shape: number[], dims: Dims, keepDim: boolean): number[] {
  if (dims === null) return keepDim ? shape.map(() => 1) : [];
  return keepDim ? shape.map((s, i) => (dims.includes(i) ? 1 : s)) : shape.filter((_, i) => !dims.includes(i));
}

/** One dim, several (torch's dim list; [] means all, as in PyTorch 1.13), or all for null/undefined. */
export function resolve(op: string, x: Tensor, dim: number | readonly number[] | null | undefined): Dims {
  if (dim === null || dim === undefined) return null;
  const list = Array.isArray(dim) ? dim : [dim];
  if (!Array.isArray(dim) && typeof dim !== 'number') throw new TypeError(`${op}: dim must be a number or an array of numbers, got ${typeof dim}`);
  const dims = list.map((d) => normDim(op, d, x.ndim));
  for (let i = 0; i < dims.length; i++) {
    if (dims.indexOf(dims[i]) !== i) throw new RangeError(`${op}: dim ${dims[i]} appears more than once in [${list.join(', ')}]`);
  }
  // a 0-d tensor accepts dim 0 / -1 and reduces its one element, like PyTorch
  return dims.length === 0 || x.ndim === 0 ? null : dims.sort((a, b) => a - b);
}

/** Number of elements reduced into each output element. */
export function count(x: Tensor, dims: Dims): number {
  return dims === null ? x.size : dims.reduce((p, d) => p * x.shape[d], 1);
}

export function reduceKernel(op: 'sum' | 'max', x: Tensor, dims: Dims, keepDim: boolean): FloatTensor {
  const out = empty(x, reducedShape(x.shape, dims, keepDim));
  if (op === 'max' && count(x, dims) === 0) throw new RangeError(`max: cannot take the max of an empty dimension (shape ${fmt(x.shape)})`);
  if (x.size === 0 || out.size === 0) return out; // nothing to read (and no loop over a huge empty dim)
  let src = floatData(x);
  const k = kernels(src);
  if (dims === null) {
    k.reduce(op, src, 1, x.size, 1, out.data);
    return out;
  }
  // runs of adjacent dims reduce in one kernel call, the last run first
  const runs: [number, number][] = [];
  for (const d of dims) {
    const last = runs[runs.length - 1];
    if (last && last[1] === d - 1) last[1] = d; else runs.push([d, d]);
  }
  const shape = x.shape.slice();
  for (let r = runs.length - 1; r >= 0; r--) {
    const [s, e] = runs[r];
    const outer = sizeOf(shape.slice(0, s)), n = sizeOf(shape.slice(s, e + 1)), inner = sizeOf(shape.slice(e + 1));
    const dst = r === 0 ? out.data : empty(x, [outer * inner]).data;
    k.reduce(op, src, outer, n, inner, dst);
    shape.fill(1, s, e + 1);
    src = dst;
  }
  return out;
}

/** g of a reduced output, reshaped with the reduced dims kept and broadcast back over x. */
export function spread(g: Tensor, x: Tensor, dims: Dims): Tensor {
  return expand(reshape(g, reducedShape(x.shape, dims, true)), x.shape);
}

const sumOp = defineLibraryOp({
  name: 'Sum',
  forward: (x: Tensor, dims: Dims, keepDim: boolean) => reduceKernel('sum', x, dims, keepDim),
  vjp: (g, _ctx, x, dims: Dims) => [spread(g, x, dims)],
});

const meanOp = defineLibraryOp({
  name: 'Mean',
  forward: (x: Tensor, dims: Dims, keepDim: boolean) => {
    const out = reduceKernel('sum', x, dims, keepDim);
    kernels(out.data).unary('affine', out.data, out.data, 1 / count(x, dims), 0);
    return out;
  },
  vjp: (g, _ctx, x, dims: Dims) => [mul(spread(g, x, dims), 1 / count(x, dims))],
});

const maxOp = defineLibraryOp({
  name: 'Max',
  forward: (x: Tensor, dims: Dims, keepDim: boolean) => reduceKernel('max', x, dims, keepDim),
  // max(dim) sends the gradient to the first maximal element of each slice; max() over all
  // elements splits it evenly among the ties (PyTorch's evenly_distribute_backward)
  vjp: (g, { out }, x, dims: Dims) => [mul(spread(g, x, dims), dims === null ? tieShares(x, out.data[0]) : argmaxMask(x, dims[0]))],
});

export type DimArg = number | readonly number[] | null;

/** Sum over dim (a number, several as an array, or all when omitted). */
export function sum(x: Tensor, dim?: DimArg, keepDim = false): Tensor {
  return sumOp(x, resolve('sum', x, dim), keepDim);
}
/** Mean over dim (a number, several as an array, or all when omitted). */
export function mean(x: Tensor, dim?: DimArg, keepDim = false): Tensor {
  return meanOp(x, resolve('mean', x, dim), keepDim);
}
export function max(x: Tensor, dim?: number | null, keepDim = false): Tensor {
  return maxOp(x, resolve('max', x, oneDim('max', dim)), keepDim);
}

export function oneDim(op: string, dim: number | null | undefined): number | null | undefined {
  if (dim !== null && dim !== undefined && typeof dim !== 'number') throw new TypeError(`${op}: dim must be a number, got ${Array.isArray(dim) ? 'an array' : typeof dim}`);
  return dim;
}

/** 1/k at each of the k elements equal to m (NaN counts as equal to NaN), 0 elsewhere. */
function tieShares(x: Tensor, m: number): Tensor {
  const mask = empty(x, x.shape);
  const hit = Number.isNaN(m) ? (v: number) => Number.isNaN(v) : (v: number) => v === m;
  let k = 0;
  for (let i = 0; i < x.size; i++) if (hit(x.data[i])) { mask.data[i] = 1; k++; }
  for (let i = 0; i < x.size; i++) mask.data[i] /= k;
  return mask;
}

function argmaxIndex(x: Tensor, dim: number | null): Int32Array {
  const [outer, n, inner] = dim === null ? [1, x.size, 1] : splitAt(x.shape, dim);
  if (n === 0) throw new RangeError(`argmax: cannot take the argmax of an empty dimension (shape [${x.shape}])`);
  const idx = new Int32Array(outer * inner);
  kernels(floatData(x)).argmax(floatData(x), outer, n, inner, idx);
  return idx;
}

/** Indices of the first maximum, as an int32 tensor (PyTorch: int64); no gradient. */
export function argmax(x: Tensor, dim?: number | null, keepDim = false): Tensor {
  const dims = resolve('argmax', x, oneDim('argmax', dim));
  return new Tensor(argmaxIndex(asFloat(x, 'float64'), dims && dims[0]), reducedShape(x.shape, dims, keepDim));
}

function argmaxMask(x: Tensor, dim: number | null): Tensor {
  const idx = argmaxIndex(x, dim);
  const [, n, inner] = dim === null ? [1, x.size, 1] : splitAt(x.shape, dim);
  const mask = empty(x, x.shape);
  for (let j = 0; j < idx.length; j++) {
    const o = Math.floor(j / inner), i = j % inner;
    mask.data[(o * n + idx[j]) * inner + i] = 1;
  }
  return mask;
}
