import { kernels } from '../backend/index.js';
import { defineLibraryOp, type Grads } from '../autograd/define.js';
import { Tensor, floatData, isTensor } from '../tensor.js';
import { describeValue, fmt, normDim, sameShape, sizeOf, splitAt } from '../shape.js';
import { parseNested } from '../creation.js';
import { empty, promote, toIndex } from './util.js';

function resolveShape(x: Tensor, shape: readonly number[]): number[] {
  const out = shape.slice();
  const free = out.indexOf(-1);
  if (free !== out.lastIndexOf(-1)) throw new RangeError(`reshape: only one dimension can be -1, got ${fmt(shape)}`);
  for (const d of out) {
    if (!Number.isInteger(d) || d < -1) throw new RangeError(`reshape: invalid shape ${fmt(shape)}`);
  }
  if (free >= 0) {
    const known = sizeOf(out.filter((_, i) => i !== free));
    if (known === 0 || x.size % known !== 0) throw new RangeError(`reshape: cannot reshape ${fmt(x.shape)} (${x.size} elements) into ${fmt(shape)}`);
    out[free] = x.size / known;
  }
  if (sizeOf(out) !== x.size) throw new RangeError(`reshape: cannot reshape ${fmt(x.shape)} (${x.size} elements) into ${fmt(shape)}`);
  return out;
}

const reshapeOp = defineLibraryOp({
  name: 'Reshape',
  movesData: true,
  // a view: shares x's memory
  forward: (x: Tensor, shape: number[]) => new Tensor(x.data, shape),
  vjp: (g, _ctx, x): Grads => [reshape(g, x.shape)],
});

export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const s = resolveShape(x, shape);
  return sameShape(s, x.shape) ? x : reshapeOp(x, s);
}

export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normDim('flatten', startDim, x.ndim), e = normDim('flatten', endDim, x.ndim);
  if (s > e) throw new RangeError(`flatten: startDim ${startDim} comes after endDim ${endDim}`);
  return reshape(x, [...x.shape.slice(0, s), sizeOf(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)]);
}

export function squeeze(x: Tensor, dim?: number): Tensor {
  if (dim === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const d = normDim('squeeze', dim, x.ndim);
  return x.shape[d] === 1 ? reshape(x, x.shape.filter((_, i) => i !== d)) : x;
}

export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = normDim('unsqueeze', dim, x.ndim + 1);
  const s = x.shape.slice();
  s.splice(d, 0, 1);
  return reshape(x, s);
}

/** A copy with its own memory that stays on the tape (torch.clone; Tensor.clone() detaches). */
export const copy = defineLibraryOp({
  name: 'Clone',
  movesData: true,
  forward: (x: Tensor) => new Tensor(x.data.slice(), x.shape.slice()),
  vjp: (g): Grads => [g],
});

const expandOp = defineLibraryOp({
  name: 'Expand',
  movesData: true,
  forward: (x: Tensor, shape: number[]) => {
    const out = empty(x, shape);
    if (x.size === 1) {
      out.data.fill(x.data[0]);
      return out;
    }
    const zero = empty(x, []);
    kernels(floatData(x)).binary('add', floatData(x), x.shape, zero.data, [], out.data, shape);
    return out;
  },
  vjp: (g, _ctx, x): Grads => [sumTo(g, x.shape)],
});

/** Broadcast x to shape (a copy; -1 keeps a dim). */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const n = shape.length;
  if (n < x.ndim) throw new RangeError(`expand: cannot expand ${fmt(x.shape)} to fewer dims ${fmt(shape)}`);
  const s = shape.map((d, i) => {
    const xi = i - (n - x.ndim);
    const xd = xi >= 0 ? x.shape[xi] : 1;
    const want = d === -1 ? xd : d;
    if (xd !== want && xd !== 1) throw new RangeError(`expand: cannot expand ${fmt(x.shape)} to ${fmt(shape)} (dim ${i}: ${xd} vs ${d})`);
    return want;
  });
  return sameShape(s, x.shape) ? x : expandOp(x, s);
}

const sumToOp = defineLibraryOp({
  name: 'SumTo',
  forward: (x: Tensor, shape: number[]) => {
    const out = empty(x, shape);
    kernels(floatData(x)).sumTo(floatData(x), x.shape, out.data, shape);
    return out;
  },
  vjp: (g, _ctx, x): Grads => [expand(g, x.shape)],
});

/** Sum x down to a shape that broadcasts to x's (the VJP of broadcasting). */
export function sumTo(x: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(x.shape, shape)) return x;
  if (sizeOf(shape) === x.size) return reshape(x, shape);
  return sumToOp(x, shape.slice());
}

const permuteOp = defineLibraryOp({
  name: 'Permute',
  movesData: true,
  forward: (x: Tensor, perm: number[]) => {
    const out = empty(x, perm.map((p) => x.shape[p]));
    kernels(floatData(x)).permute(floatData(x), x.shape, perm, out.data);
    return out;
  },
  vjp: (g, _ctx, _x, perm: number[]): Grads => {
    const inv = new Array<number>(perm.length);
    perm.forEach((p, i) => { inv[p] = i; });
    return [permute(g, inv)];
  },
});

export function permute(x: Tensor, dims: readonly number[]): Tensor {
  if (dims.length !== x.ndim) throw new RangeError(`permute: got ${dims.length} dims [${dims}] for a tensor of shape ${fmt(x.shape)}`);
  const perm = dims.map((d) => normDim('permute', d, x.ndim));
  if (new Set(perm).size !== perm.length) throw new RangeError(`permute: repeated dim in [${dims}]`);
  if (perm.every((p, i) => p === i)) return x;
  return permuteOp(x, perm);
}

export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  const perm = x.shape.map((_, i) => i);
  const a = normDim('transpose', dim0, x.ndim), b = normDim('transpose', dim1, x.ndim);
  perm[a] = b; perm[b] = a;
  return permute(x, perm);
}

const indexSelectOp = defineLibraryOp({
  name: 'IndexSelect',
  movesData: true,
  forward: (x: Tensor, dim: number, idx: Int32Array) => {
    const [outer, n, inner] = splitAt(x.shape, dim);
    const shape = x.shape.slice();
    shape[dim] = idx.length;
    const out = empty(x, shape);
    kernels(floatData(x)).indexSelect(floatData(x), outer, n, inner, idx, out.data);
    return out;
  },
  vjp: (g, _ctx, x, dim: number, idx: Int32Array): Grads => [indexAdd(g, dim, idx, x.shape[dim])],
});

const indexAdd = defineLibraryOp({
  name: 'IndexAdd',
  // zeros of length n along dim, with g's slices added at idx
  forward: (g: Tensor, dim: number, idx: Int32Array, n: number) => {
    const [outer, , inner] = splitAt(g.shape, dim);
    const shape = g.shape.slice();
    shape[dim] = n;
    const out = empty(g, shape);
    kernels(floatData(g)).indexAdd(floatData(g), outer, n, inner, idx, out.data);
    return out;
  },
  vjp: (gg, _ctx, _g, dim: number, idx: Int32Array): Grads => [indexSelectOp(gg, dim, idx)],
});

/** Slices of x along dim at the given indices (row selection for batching: x.indexSelect(0, rows)). */
export function indexSelect(x: Tensor, dim: number, index: ArrayLike<number> | Tensor): Tensor {
  if (x.ndim === 0) throw new RangeError('indexSelect: cannot index a 0-d tensor');
  const d = normDim('indexSelect', dim, x.ndim);
  return indexSelectOp(x, d, toIndex('indexSelect', index, x.shape[d]));
}

/** The rows start..start+length-1 along dim. */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  const d = normDim('narrow', dim, x.ndim);
  if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 0 || start + length > x.shape[d]) {
    throw new RangeError(`narrow: [${start}, ${start + length}) is out of range for dim ${dim} of size ${x.shape[d]}`);
  }
  const idx = new Int32Array(length);
  for (let i = 0; i < length; i++) idx[i] = start + i;
  return indexSelectOp(x, d, idx);
}

const concatOp = defineLibraryOp({
  name: 'Cat',
  movesData: true,
  forward: (xs: Tensor[], dim: number) => {
    const shape = xs[0].shape.slice();
    shape[dim] = xs.reduce((s, t) => s + t.shape[dim], 0);
    const out = empty(xs[0], shape);
    const [outer, n, inner] = splitAt(shape, dim);
    let off = 0;
    for (const t of xs) {
      const w = t.shape[dim] * inner;
      for (let o = 0; o < outer; o++) out.data.set(t.data.subarray(o * w, (o + 1) * w), o * n * inner + off);
      off += w;
    }
    return out;
  },
  vjp: (g, { needsInputGrad: n }, xs: Tensor[], dim: number): Grads => {
    let start = 0;
    return xs.map((t, i) => {
      const s = start;
      start += t.shape[dim];
      return n[i] ? narrow(g, dim, s, t.shape[dim]) : null;
    });
  },
});

/** xs must be a non-empty array of Tensors with at least one dim (torch.cat / stack rules). */
function checkList(op: string, xs: unknown, minDims: number): Tensor[] {
  if (!Array.isArray(xs)) throw new TypeError(`${op}: expected an array of Tensors, got ${describeValue(xs)}`);
  if (xs.length === 0) throw new RangeError(`${op}: expected at least one tensor`);
  xs.forEach((t, i) => {
    if (!isTensor(t)) throw new TypeError(`${op}: element ${i} is ${describeValue(t)}, not a Tensor`);
    if (t.ndim < minDims) throw new RangeError(`${op}: the 0-d tensor at position ${i} cannot be concatenated (use stack, or unsqueeze it)`);
  });
  return xs as Tensor[];
}

/** Join tensors along an existing dim. */
export function concat(xs: readonly Tensor[], dim = 0): Tensor {
  let ts = checkList('concat', xs, 1).slice();
  if (ts.some((t) => t.dtype === 'float64')) ts = ts.map((t) => promote(t, ts.find((u) => u.dtype === 'float64')!)[0]);
  const d = normDim('concat', dim, ts[0].ndim);
  for (const t of ts) {
    if (t.ndim !== ts[0].ndim || t.shape.some((s, i) => i !== d && s !== ts[0].shape[i])) {
      throw new RangeError(`concat: shapes ${ts.map((u) => fmt(u.shape)).join(', ')} differ outside dim ${dim}`);
    }
  }
  return ts.length === 1 ? ts[0] : concatOp(ts, d);
}

/** Join tensors of equal shape along a new dim. */
export function stack(xs: readonly Tensor[], dim = 0): Tensor {
  checkList('stack', xs, 0);
  for (const t of xs) {
    if (!sameShape(t.shape, xs[0].shape)) throw new RangeError(`stack: all tensors must have the same shape, got ${xs.map((u) => fmt(u.shape)).join(', ')}`);
  }
  const d = normDim('stack', dim, xs[0].ndim + 1);
  return concat(xs.map((t) => unsqueeze(t, d)), d);
}

// out[i][j] = x[i][index[i][j]] (dim 1; likewise for any dim): per-row picks, e.g. the logit of each label.
function gatherWalk(xShape: readonly number[], idxShape: readonly number[], dim: number, idx: Int32Array,
  visit: (xOff: number, k: number) => void): void {
  const nd = idxShape.length;
  const xStrides = new Array<number>(nd);
  let s = 1;
  for (let d = nd - 1; d >= 0; d--) { xStrides[d] = s; s *= xShape[d]; }
  const pos = new Array<number>(nd).fill(0);
  for (let k = 0; k < idx.length; k++) {
    let off = 0;
    for (let d = 0; d < nd; d++) off += (d === dim ? idx[k] : pos[d]) * xStrides[d];
    visit(off, k);
    for (let d = nd - 1; d >= 0 && ++pos[d] === idxShape[d]; d--) pos[d] = 0;
  }
}

const gatherOp = defineLibraryOp({
  name: 'Gather',
  movesData: true,
  forward: (x: Tensor, dim: number, idx: Int32Array, idxShape: number[]) => {
    const out = empty(x, idxShape);
    gatherWalk(x.shape, idxShape, dim, idx, (off, k) => { out.data[k] = x.data[off]; });
    return out;
  },
  vjp: (g, _ctx, x: Tensor, dim: number, idx: Int32Array, idxShape: number[]): Grads => [scatterAdd(g, dim, idx, idxShape, x.shape)],
});

const scatterAdd = defineLibraryOp({
  name: 'ScatterAdd',
  forward: (g: Tensor, dim: number, idx: Int32Array, idxShape: number[], xShape: number[]) => {
    const out = empty(g, xShape);
    gatherWalk(xShape, idxShape, dim, idx, (off, k) => { out.data[off] += g.data[k]; });
    return out;
  },
  vjp: (gg, _ctx, _g, dim: number, idx: Int32Array, idxShape: number[]): Grads => [gatherOp(gg, dim, idx, idxShape)],
});

/** torch.gather: out[i][j] = x[i][index[i][j]] for dim 1 (index has x's number of dims and fits inside x elsewhere). */
export function gather(x: Tensor, dim: number, index: Tensor | number[][] | number[]): Tensor {
  const d = normDim('gather', dim, x.ndim);
  let idxShape: number[], values: ArrayLike<number> | Tensor;
  if (isTensor(index)) [idxShape, values] = [index.shape.slice(), index];
  else ({ shape: idxShape, values } = parseNested('gather', index));
  if (idxShape.length !== x.ndim || idxShape.some((s, i) => i !== d && s > x.shape[i])) {
    throw new RangeError(`gather: index of shape ${fmt(idxShape)} does not fit input ${fmt(x.shape)} along dim ${dim}`);
  }
  return gatherOp(x, d, toIndex('gather', values, x.shape[d]), idxShape);
}
