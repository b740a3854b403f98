// Indexing and layout kernels of the JS backend: indexSelect, its VJP indexAdd, and permute.
import type { FloatArray } from '../backend.js';
import { fmt, sizeOf } from '../../shape.js';
import { checkAxis, coalesce, contiguousStrides } from './strides.js';

function checkIndices(what: string, idx: Int32Array, n: number): void {
  for (let j = 0; j < idx.length; j++) {
    const v = idx[j];
    if (v < 0 || v >= n) throw new RangeError(`${what}: index ${v} at position ${j} is out of range for n = ${n}`);
  }
}

export function indexSelect(x: FloatArray, outer: number, n: number, inner: number, idx: Int32Array, out: FloatArray): void {
  checkIndices('indexSelect', idx, n);
  checkAxis('indexSelect', x.length, outer, n, inner);
  const k = idx.length;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < k; j++) {
      const src = (o * n + idx[j]) * inner, dst = (o * k + j) * inner;
      for (let i = 0; i < inner; i++) out[dst + i] = x[src + i];
    }
  }
}

export function indexAdd(g: FloatArray, outer: number, n: number, inner: number, idx: Int32Array, out: FloatArray): void {
  checkIndices('indexAdd', idx, n);
  checkAxis('indexAdd', out.length, outer, n, inner);
  const k = idx.length;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < k; j++) {
      const dst = (o * n + idx[j]) * inner, src = (o * k + j) * inner;
      for (let i = 0; i < inner; i++) out[dst + i] += g[src + i];
    }
  }
}

export function permute(x: FloatArray, shape: readonly number[], perm: readonly number[], out: FloatArray): void {
  const nd = shape.length;
  const seen = new Array<boolean>(nd).fill(false);
  if (perm.length !== nd || !perm.every((p) => Number.isInteger(p) && p >= 0 && p < nd && !seen[p] && (seen[p] = true))) {
    throw new Error(`permute: [${perm.join(', ')}] is not a permutation of the axes of ${fmt(shape)}`);
  }
  const size = sizeOf(shape);
  if (x.length < size || out.length < size) throw new RangeError(`permute: arrays are smaller than ${fmt(shape)}`);
  const xs = contiguousStrides(shape);
  const outShape = perm.map((p) => shape[p]);
  // Walk out in order; the input strides, permuted, say where each out element comes from.
  const { shape: cs, strides: [sx] } = coalesce(outShape, [perm.map((p) => xs[p]), contiguousStrides(outShape)]);
  const cd = cs.length;
  const inner = cs[cd - 1], ix = sx[cd - 1];
  const counter = new Array<number>(cd).fill(0);
  let xo = 0;
  for (let oo = 0; oo < size; oo += inner) {
    for (let i = 0, s = xo; i < inner; i++, s += ix) out[oo + i] = x[s];
    for (let d = cd - 2; d >= 0; d--) {
      xo += sx[d];
      if (++counter[d] < cs[d]) break;
      xo -= sx[d] * cs[d];
      counter[d] = 0;
    }
  }
}
