// where, maskedFill, sort, topk. Composed from expand and gather, whose VJPs already sum broadcast
// gradients back and scatter g through indices; only where's masked pick is a new op.
import { defineLibraryOp, type Grads } from '../autograd/define.js';
import { Tensor, isTensor } from '../tensor.js';
import { broadcastShapes, describeValue, fmt, normDim, splitAt } from '../shape.js';
import { mul } from './elementwise.js';
import { expand, gather } from './shape.js';
import { constant, empty, promote, uninit } from './util.js';

/** 1 where cond is non-zero (NaN counts as true, like bool(nan) in PyTorch), else 0. */
function maskOf(cond: Tensor, like: Tensor, invert: boolean): Tensor {
  const m = empty(like, cond.shape);
  for (let i = 0; i < cond.size; i++) m.data[i] = (cond.data[i] !== 0) !== invert ? 1 : 0;
  return m;
}

// a, b and cond already have one shape; cond is data (no gradient flows into it)
const whereOp = defineLibraryOp({
  name: 'Where',
  forward: (cond: Tensor, a: Tensor, b: Tensor) => {
    const out = uninit(a, a.shape);
    for (let i = 0; i < a.size; i++) out.data[i] = cond.data[i] !== 0 ? a.data[i] : b.data[i];
    return out;
  },
  vjp: (g, { needsInputGrad: n }, cond: Tensor, a: Tensor): Grads => [
    null,
    n[1] ? mul(g, maskOf(cond, a, false)) : null,
    n[2] ? mul(g, maskOf(cond, a, true)) : null,
  ],
});

/** torch.where: a where cond is non-zero, else b; the three broadcast together. a or b may be a number. */
export function where(cond: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  if (!isTensor(cond)) throw new TypeError(`where: cond must be a Tensor, got ${describeValue(cond)}`);
  for (const v of [a, b]) {
    if (!isTensor(v) && typeof v !== 'number') throw new TypeError(`where: a and b must be Tensors or numbers, got ${describeValue(v)}`);
  }
  const like = isTensor(a) ? a : isTensor(b) ? b : cond;
  const ta = isTensor(a) ? a : constant(like, [a], []);
  const tb = isTensor(b) ? b : constant(like, [b], []);
  const [pa, pb] = promote(ta, tb);
  const shape = broadcastShapes('where', broadcastShapes('where', cond.shape, pa.shape), pb.shape);
  const c = cond.requiresGrad ? cond.detach() : cond;
  return whereOp(expand(c, shape), expand(pa, shape), expand(pb, shape));
}

/** x with value wherever mask is non-zero (mask broadcasts to x's shape); no gradient reaches x there. */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  if (!isTensor(x) || !isTensor(mask)) throw new TypeError(`maskedFill: x and mask must be Tensors, got ${describeValue(x)} and ${describeValue(mask)}`);
  if (typeof value !== 'number') throw new TypeError(`maskedFill: value must be a number, got ${describeValue(value)}`);
  const shape = broadcastShapes('maskedFill', x.shape, mask.shape);
  if (shape.length !== x.ndim || shape.some((d, i) => d !== x.shape[i])) {
    throw new RangeError(`maskedFill: mask of shape ${fmt(mask.shape)} does not broadcast to x's shape ${fmt(x.shape)}`);
  }
  return where(mask, value, x);
}

export interface SortResult {
  values: Tensor;
  /** Positions along dim in the input, as an int32 tensor (PyTorch: int64). */
  indices: Tensor;
}

/**
 * Stable order of each line of x along dim (ties keep input order; NaN sorts as the largest value,
 * as in PyTorch), the first k of each line.
 */
function order(x: Tensor, dim: number, k: number, descending: boolean): Tensor {
  const [outer, n, inner] = splitAt(x.shape, dim);
  const shape = x.shape.slice();
  shape[dim] = k;
  const idx = new Tensor(new Int32Array(outer * k * inner), shape);
  const line = new Array<number>(n);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const base = o * n * inner + j;
      for (let i = 0; i < n; i++) line[i] = i;
      const v = (i: number): number => x.data[base + i * inner];
      line.sort((p, q) => {
        const vp = v(p), vq = v(q);
        const np = Number.isNaN(vp), nq = Number.isNaN(vq);
        let c = np || nq ? Number(np) - Number(nq) : vp < vq ? -1 : vp > vq ? 1 : 0;
        if (descending) c = -c;
        return c !== 0 ? c : p - q;
      });
      for (let i = 0; i < k; i++) idx.data[o * k * inner + i * inner + j] = line[i];
    }
  }
  return idx;
}

function checkInput(op: string, x: Tensor): void {
  if (!isTensor(x)) throw new TypeError(`${op}: expected a Tensor, got ${describeValue(x)}`);
}

/** torch.sort (stable: equal values keep their input order). The gradient flows to values via gather. */
export function sort(x: Tensor, dim = -1, descending = false): SortResult {
  checkInput('sort', x);
  if (x.ndim === 0) return { values: x, indices: new Tensor(new Int32Array(1), []) };
  const d = normDim('sort', dim, x.ndim);
  const indices = order(x, d, x.shape[d], descending);
  return { values: gather(x, d, indices), indices };
}

/**
 * torch.topk: the k largest (or smallest) values along dim and their indices. Always sorted (the
 * `sorted = false` order is unspecified in PyTorch; this returns the sorted one); ties keep input order.
 */
export function topk(x: Tensor, k: number, dim = -1, largest = true, sorted = true): SortResult {
  checkInput('topk', x);
  void sorted;
  const nd = Math.max(x.ndim, 1);
  const d = normDim('topk', dim, nd);
  const n = x.ndim === 0 ? 1 : x.shape[d];
  if (!Number.isInteger(k) || k < 0 || k > n) throw new RangeError(`topk: k must be an integer in [0, ${n}] for dim ${dim} of shape ${fmt(x.shape)}, got ${describeValue(k)}`);
  if (x.ndim === 0) {
    if (k === 0) throw new RangeError('topk: k = 0 on a 0-d tensor is not supported');
    return { values: x, indices: new Tensor(new Int32Array(1), []) };
  }
  const indices = order(x, d, k, largest);
  return { values: gather(x, d, indices), indices };
}
