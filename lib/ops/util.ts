import type { FloatArray } from '../backend/backend.js';
import { Tensor, isTensor, type FloatTensor } from '../tensor.js';
import { allocF32 } from '../autograd/pool.js';
import { describeValue, sizeOf } from '../shape.js';

/** A zero-filled result tensor of like's dtype (pooled scratch memory inside backward). */
export function empty(like: Tensor | FloatArray, shape: number[]): FloatTensor {
  return alloc(like, shape, true);
}

/** Like empty, for kernels that overwrite every element: contents may be stale. */
export function uninit(like: Tensor | FloatArray, shape: number[]): FloatTensor {
  return alloc(like, shape, false);
}

function alloc(like: Tensor | FloatArray, shape: number[], zero: boolean): FloatTensor {
  const arr = isTensor(like) ? like.data : like;
  const n = sizeOf(shape);
  return new Tensor(arr instanceof Float64Array ? new Float64Array(n) : allocF32(n, zero), shape) as FloatTensor;
}

/** A constant (no gradient) of the same dtype as `like`. */
export function constant(like: Tensor, values: ArrayLike<number>, shape: number[]): FloatTensor {
  const t = empty(like, shape);
  t.data.set(values);
  return t;
}

/**
 * Mixed float32/float64 inputs compute in float64 (gradcheck feeds float64 into float32 constants).
 * int32 inputs are left to the op layer, which promotes them (autograd/define.ts).
 */
export function promote(a: Tensor, b: Tensor): [Tensor, Tensor] {
  if (a.dtype === b.dtype || a.dtype === 'int32' || b.dtype === 'int32') return [a, b];
  return a.dtype === 'float32' ? [toFloat64(a), b] : [a, toFloat64(b)];
}

function toFloat64(t: Tensor): Tensor {
  if (t.requiresGrad) throw new Error('promote: cannot mix a float32 tensor that requires grad with float64 tensors');
  return new Tensor(Float64Array.from(t.data), t.shape);
}

/**
 * Integer labels/indices from an array, typed array or tensor, checked to lie in [0, n). Always a
 * copy, each value read once: later changes to idx (or another thread writing a shared buffer)
 * cannot change what was checked or what a VJP uses.
 */
export function toIndex(op: string, idx: ArrayLike<number> | Tensor, n: number): Int32Array {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${op}: the index bound (size or number of classes) must be a non-negative integer, got ${describeValue(n)}`);
  const src = isTensor(idx) ? idx.data : idx;
  if (!Array.isArray(src) && !(ArrayBuffer.isView(src) && !(src instanceof DataView))) {
    throw new TypeError(`${op}: index must be an array, a typed array or a Tensor, got ${describeValue(idx)}`);
  }
  const len = src.length;
  const out = new Int32Array(len);
  for (let i = 0; i < len; i++) {
    const v = src[i];
    checkIndex(op, v, i, n);
    out[i] = v;
  }
  return out;
}

function checkIndex(op: string, v: number, i: number, n: number): void {
  if (!Number.isInteger(v) || v < 0 || v >= n) {
    throw new RangeError(`${op}: index ${v} at position ${i} is out of range [0, ${n})`);
  }
}
