import type { FloatArray } from './backend/backend.js';
import { Tensor, type DType, type NestedArray } from './tensor.js';
import { random, randomNormal } from './random.js';
import { fmt, sizeOf } from './shape.js';

export interface TensorOptions {
  requiresGrad?: boolean;
  dtype?: DType;
}

let defaultDtype: DType = 'float32';

/** The dtype of new tensors; gradcheck switches it to float64 while it runs. */
export function setDefaultDtype(d: DType): DType {
  const prev = defaultDtype;
  defaultDtype = d;
  return prev;
}
export function getDefaultDtype(): DType {
  return defaultDtype;
}

export function allocArray(dtype: DType, n: number): FloatArray {
  return dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
}

function make(data: FloatArray, shape: number[], o: TensorOptions): Tensor {
  const t = new Tensor(data, shape);
  if (o.requiresGrad) t.requiresGrad = true;
  return t;
}

function checkShape(op: string, shape: readonly number[]): number[] {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`${op}: invalid shape ${fmt(shape)} (dims must be non-negative integers)`);
  }
  return shape.slice();
}

/**
 * A tensor from a number, nested arrays or a typed array (with opts.shape; defaults to 1-D).
 * Typed arrays of the tensor's dtype are used without copying.
 */
export function tensor(
  data: NestedArray | ArrayLike<number>,
  opts: TensorOptions & { shape?: readonly number[] } = {},
): Tensor {
  const dtype = opts.dtype ?? (data instanceof Float64Array ? 'float64' : data instanceof Float32Array ? 'float32' : defaultDtype);
  if (typeof data === 'number') return make(fill(allocArray(dtype, 1), data), [], opts);
  if (ArrayBuffer.isView(data)) {
    const arr = data as unknown as ArrayLike<number>;
    const shape = checkShape('tensor', opts.shape ?? [arr.length]);
    if (sizeOf(shape) !== arr.length) throw new RangeError(`tensor: ${arr.length} values do not fit shape ${fmt(shape)}`);
    const own = (dtype === 'float32' && arr instanceof Float32Array) || (dtype === 'float64' && arr instanceof Float64Array)
      ? (arr as FloatArray) : copyInto(allocArray(dtype, arr.length), arr);
    return make(own, shape, opts);
  }
  const shape: number[] = [];
  let level: unknown = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    if (level.length === 0) break;
    level = level[0];
  }
  const out = allocArray(dtype, sizeOf(shape));
  let k = 0;
  const walk = (v: unknown, dim: number, path: number[]): void => {
    if (dim === shape.length) {
      if (typeof v !== 'number') throw new TypeError(`tensor: element at [${path.join(', ')}] is ${typeof v}, expected a number`);
      out[k++] = v;
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[dim]) {
      throw new RangeError(`tensor: ragged nested array at [${path.join(', ')}]: expected ${shape[dim]} elements, got ${Array.isArray(v) ? v.length : typeof v}`);
    }
    for (let i = 0; i < v.length; i++) walk(v[i], dim + 1, [...path, i]);
  };
  walk(data, 0, []);
  if (opts.shape) {
    if (sizeOf(opts.shape) !== out.length) throw new RangeError(`tensor: ${out.length} values do not fit shape ${fmt(opts.shape)}`);
    return make(out, checkShape('tensor', opts.shape), opts);
  }
  return make(out, shape, opts);
}

function copyInto(dst: FloatArray, src: ArrayLike<number>): FloatArray {
  for (let i = 0; i < src.length; i++) dst[i] = src[i];
  return dst;
}

function fill(a: FloatArray, v: number): FloatArray {
  a.fill(v);
  return a;
}

function shapeArg(shape: readonly number[] | number): number[] {
  return checkShape('tensor creation', typeof shape === 'number' ? [shape] : shape);
}

export function zeros(shape: readonly number[] | number, opts: TensorOptions = {}): Tensor {
  const s = shapeArg(shape);
  return make(allocArray(opts.dtype ?? defaultDtype, sizeOf(s)), s, opts);
}

export function ones(shape: readonly number[] | number, opts: TensorOptions = {}): Tensor {
  return full(shape, 1, opts);
}

export function full(shape: readonly number[] | number, value: number, opts: TensorOptions = {}): Tensor {
  const s = shapeArg(shape);
  return make(fill(allocArray(opts.dtype ?? defaultDtype, sizeOf(s)), value), s, opts);
}

export function zerosLike(t: Tensor, opts: TensorOptions = {}): Tensor {
  return zeros(t.shape, { dtype: t.dtype, ...opts });
}

export function onesLike(t: Tensor, opts: TensorOptions = {}): Tensor {
  return full(t.shape, 1, { dtype: t.dtype, ...opts });
}

/** Uniform in [low, high) (default [0, 1)) from the seeded generator (see manualSeed). */
export function rand(shape: readonly number[] | number, opts: TensorOptions & { low?: number; high?: number } = {}): Tensor {
  const s = shapeArg(shape);
  const a = allocArray(opts.dtype ?? defaultDtype, sizeOf(s));
  const lo = opts.low ?? 0, span = (opts.high ?? 1) - lo;
  for (let i = 0; i < a.length; i++) a[i] = lo + span * random();
  return make(a, s, opts);
}

/** Standard normal from the seeded generator (see manualSeed). */
export function randn(shape: readonly number[] | number, opts: TensorOptions = {}): Tensor {
  const s = shapeArg(shape);
  const a = allocArray(opts.dtype ?? defaultDtype, sizeOf(s));
  for (let i = 0; i < a.length; i++) a[i] = randomNormal();
  return make(a, s, opts);
}

/** arange(end) or arange(start, end, step), like torch.arange. */
export function arange(start: number, end?: number, step = 1, opts: TensorOptions = {}): Tensor {
  if (end === undefined) { end = start; start = 0; }
  if (step === 0 || !Number.isFinite(step)) throw new RangeError(`arange: step must be a non-zero finite number, got ${step}`);
  const n = Math.max(0, Math.ceil((end - start) / step));
  const a = allocArray(opts.dtype ?? defaultDtype, n);
  for (let i = 0; i < n; i++) a[i] = start + i * step;
  return make(a, [n], opts);
}

/** Identity matrix n×m (m defaults to n). */
export function eye(n: number, m = n, opts: TensorOptions = {}): Tensor {
  const t = zeros([n, m], opts);
  for (let i = 0; i < Math.min(n, m); i++) t.data[i * m + i] = 1;
  return t;
}
