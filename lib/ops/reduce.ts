import { kernels } from '../backend/index.js';
import { defineLibraryOp } from '../autograd/node.js';
import { Tensor } from '../tensor.js';
import { normDim, splitAt } from '../shape.js';
import { mul } from './elementwise.js';
import { expand, reshape } from './shape.js';
import { empty } from './util.js';

function reducedShape(shape: number[], dim: number | null | undefined, keepDim: boolean): number[] {
  if (dim === null || dim === undefined) return keepDim ? shape.map(() => 1) : [];
  return keepDim ? shape.map((s, i) => (i === dim ? 1 : s)) : shape.filter((_, i) => i !== dim);
}

function resolve(op: string, x: Tensor, dim: number | null | undefined): number | null {
  return dim === null || dim === undefined ? null : normDim(op, dim, x.ndim);
}

function reduceKernel(op: 'sum' | 'max', name: string, x: Tensor, dim: number | null, keepDim: boolean): Tensor {
  const out = empty(x, reducedShape(x.shape, dim, keepDim));
  const [outer, n, inner] = dim === null ? [1, x.size, 1] : splitAt(x.shape, dim);
  if (n === 0 && op === 'max') throw new RangeError(`${name}: cannot take the max of an empty dimension (shape [${x.shape}])`);
  kernels(x.data).reduce(op, x.data, outer, n, inner, out.data);
  return out;
}

/** g of a reduced output, reshaped with the reduced dim kept and broadcast back over x. */
function spread(g: Tensor, x: Tensor, dim: number | null): Tensor {
  return expand(reshape(g, reducedShape(x.shape, dim, true)), x.shape);
}

const sumOp = defineLibraryOp({
  name: 'Sum',
  forward: (x: Tensor, dim: number | null, keepDim: boolean) => reduceKernel('sum', 'sum', x, dim, keepDim),
  vjp: (g, _out, x, dim: number | null) => [spread(g, x, dim)],
});

const meanOp = defineLibraryOp({
  name: 'Mean',
  forward: (x: Tensor, dim: number | null, keepDim: boolean) => {
    const out = reduceKernel('sum', 'mean', x, dim, keepDim);
    const n = dim === null ? x.size : x.shape[dim];
    kernels(out.data).unary('affine', out.data, out.data, 1 / n, 0);
    return out;
  },
  vjp: (g, _out, x, dim: number | null) => [mul(spread(g, x, dim), 1 / (dim === null ? x.size : x.shape[dim]))],
});

const maxOp = defineLibraryOp({
  name: 'Max',
  forward: (x: Tensor, dim: number | null, keepDim: boolean) => reduceKernel('max', 'max', x, dim, keepDim),
  // the gradient goes to the first maximal element of each slice
  vjp: (g, _out, x, dim: number | null) => [mul(spread(g, x, dim), argmaxMask(x, dim))],
});

export function sum(x: Tensor, dim?: number | null, keepDim = false): Tensor {
  return sumOp(x, resolve('sum', x, dim), keepDim);
}
export function mean(x: Tensor, dim?: number | null, keepDim = false): Tensor {
  return meanOp(x, resolve('mean', x, dim), keepDim);
}
export function max(x: Tensor, dim?: number | null, keepDim = false): Tensor {
  return maxOp(x, resolve('max', x, dim), keepDim);
}

function argmaxIndex(x: Tensor, dim: number | null): Int32Array {
  const [outer, n, inner] = dim === null ? [1, x.size, 1] : splitAt(x.shape, dim);
  if (n === 0) throw new RangeError(`argmax: cannot take the argmax of an empty dimension (shape [${x.shape}])`);
  const idx = new Int32Array(outer * inner);
  kernels(x.data).argmax(x.data, outer, n, inner, idx);
  return idx;
}

/** Indices of the first maximum (as a float tensor, no gradient). */
export function argmax(x: Tensor, dim?: number | null, keepDim = false): Tensor {
  const d = resolve('argmax', x, dim);
  const idx = argmaxIndex(x, d);
  const out = empty(x, reducedShape(x.shape, d, keepDim));
  out.data.set(idx);
  return out;
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
