// Reductions of the JS backend: sum/max along an axis, argmax, and sumTo (the VJP of broadcasting).
import type { FloatArray, ReduceOp } from '../backend.js';
import { fmt, sizeOf } from '../../shape.js';
import { broadcastStrides, checkAxis, coalesce, contiguousStrides } from './strides.js';

// Grown on demand and reused across calls (never shrunk).
let scratchAcc = new Float64Array(0);

/** A double-precision accumulator of at least `size` elements (stale contents). */
function accBuf(size: number): Float64Array {
  if (scratchAcc.length < size) scratchAcc = new Float64Array(size);
  return scratchAcc;
}

export function reduce(op: ReduceOp, x: FloatArray, outer: number, n: number, inner: number, out: FloatArray): void {
  checkAxis('reduce', x.length, outer, n, inner, op); // no message string built per call
  if (op !== 'sum' && op !== 'max') throw new Error(`reduce: unknown op '${String(op)}'`);
  if (outer === 0 || inner === 0) return; // empty output: no work, however long the reduced axis
  // Identities for an empty axis; max propagates NaN like PyTorch: once m is NaN, every
  // `v > m` is false, and `v !== v` lets the first NaN in.
  const sum = op === 'sum';
  if (inner === 1) { // contiguous runs (a full sum, a row sum): one scalar accumulator
    for (let o = 0, base = 0; o < outer; o++, base += n) {
      let m = sum ? 0 : -Infinity;
      if (sum) for (let j = 0; j < n; j++) m += x[base + j];
      else for (let j = 0; j < n; j++) { const v = x[base + j]; if (v > m || v !== v) m = v; }
      out[o] = m;
    }
    return;
  }
  const acc = accBuf(inner);
  for (let o = 0; o < outer; o++) {
    acc.fill(sum ? 0 : -Infinity, 0, inner);
    for (let j = 0; j < n; j++) {
      const base = (o * n + j) * inner;
      if (sum) for (let i = 0; i < inner; i++) acc[i] += x[base + i];
      else for (let i = 0; i < inner; i++) { const v = x[base + i]; if (v > acc[i] || v !== v) acc[i] = v; }
    }
    for (let i = 0; i < inner; i++) out[o * inner + i] = acc[i];
  }
}

export function argmax(x: FloatArray, outer: number, n: number, inner: number, out: Int32Array): void {
  checkAxis('argmax', x.length, outer, n, inner);
  if (outer === 0 || inner === 0) return;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let base = o * n * inner + i;
      let best = x[base], at = 0;
      for (let j = 1; j < n; j++) {
        base += inner;
        const v = x[base];
        // Strictly greater keeps the first maximum; a NaN counts as the maximum (PyTorch).
        if (v > best || (v !== v && best === best)) { best = v; at = j; }
      }
      out[o * inner + i] = at;
    }
  }
}

export function sumTo(x: FloatArray, xShape: readonly number[], out: FloatArray, outShape: readonly number[]): void {
  const size = sizeOf(xShape), outSize = sizeOf(outShape);
  const so = broadcastStrides(outShape, xShape, 'sumTo');
  if (x.length < size || out.length < outSize) {
    throw new RangeError(`sumTo: arrays are smaller than shapes ${fmt(xShape)} -> ${fmt(outShape)}`);
  }
  const acc = accBuf(outSize).fill(0, 0, outSize);
  const n = xShape.length ? xShape[xShape.length - 1] : 1;
  if (outSize === 1) {
    // -> [] (or all ones): one sum.
    let s = 0;
    for (let i = 0; i < size; i++) s += x[i];
    acc[0] = s;
  } else if (outSize === n && so[so.length - 1] === 1) {
    // [m, n] -> [n]: add rows.
    for (let r = 0; r < size; r += n) for (let j = 0; j < n; j++) acc[j] += x[r + j];
  } else {
    const { shape, strides: [co] } = coalesce(xShape, [so, contiguousStrides(xShape)]);
    const nd = shape.length;
    const inner = shape[nd - 1], io = co[nd - 1];
    const counter = new Array<number>(nd).fill(0);
    let oo = 0;
    for (let xo = 0; xo < size; xo += inner) {
      if (io === 0) {
        let s = 0;
        for (let i = 0; i < inner; i++) s += x[xo + i];
        acc[oo] += s;
      } else {
        for (let i = 0; i < inner; i++) acc[oo + i] += x[xo + i];
      }
      for (let d = nd - 2; d >= 0; d--) {
        oo += co[d];
        if (++counter[d] < shape[d]) break;
        oo -= co[d] * shape[d];
        counter[d] = 0;
      }
    }
  }
  for (let i = 0; i < outSize; i++) out[i] = acc[i];
}
