import { Tensor, type DType, type NestedArray, type TensorData } from './tensor.js';
import { random, randomNormal } from './random.js';
import { describeValue, fmt, sizeOf } from './shape.js';

export interface TensorOptions {
  requiresGrad?: boolean;
  dtype?: DType;
}

let defaultDtype: DType = 'float32';

const DTYPES: readonly DType[] = ['float32', 'float64', 'int32'];

/** d, checked to be one of tapegrad's dtypes. */
export function checkDtype(op: string, d: unknown): DType {
  if (!DTYPES.includes(d as DType)) throw new TypeError(`${op}: unknown dtype ${describeValue(d)} (expected ${DTYPES.map((t) => `'${t}'`).join(', ')})`);
  return d as DType;
}

/** The dtype of new float tensors; gradcheck switches it to float64 while it runs. Floating point only, as in PyTorch. */
export function setDefaultDtype(d: DType): DType {
  if (checkDtype('setDefaultDtype', d) === 'int32') throw new TypeError("setDefaultDtype: only floating point dtypes can be the default, got 'int32'");
  const prev = defaultDtype;
  defaultDtype = d;
  return prev;
}
export function getDefaultDtype(): DType {
  return defaultDtype;
}

export function allocArray(dtype: DType, n: number): TensorData {
  return dtype === 'float64' ? new Float64Array(n) : dtype === 'int32' ? new Int32Array(n) : new Float32Array(n);
}

const INT32_MIN = -2147483648, INT32_MAX = 2147483647;

/**
 * src's values as a new array of dtype. To int32 they truncate toward zero, as PyTorch's casts do;
 * NaN, ±Infinity and values outside int32's range are refused (PyTorch's result for them is undefined).
 */
export function castArray(op: string, src: ArrayLike<number>, dtype: DType): TensorData {
  if (dtype !== 'int32') return dtype === 'float64' ? Float64Array.from(src) : Float32Array.from(src);
  const out = new Int32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    const t = Math.trunc(v);
    if (!(t >= INT32_MIN && t <= INT32_MAX)) {
      throw new RangeError(`${op}: cannot convert ${v} at index ${i} to int32 (${Number.isNaN(v) || !Number.isFinite(v) ? 'not a finite number' : `outside [${INT32_MIN}, ${INT32_MAX}]`})`);
    }
    out[i] = t;
  }
  return out;
}

function make(data: TensorData, shape: number[], o: TensorOptions): Tensor {
  const t = new Tensor(data, shape);
  if (o.requiresGrad) t.requiresGrad_();
  return t;
}

function checkShape(op: string, shape: unknown): number[] {
  if (!Array.isArray(shape) && !(ArrayBuffer.isView(shape) && !(shape instanceof DataView))) {
    throw new TypeError(`${op}: shape must be an array of non-negative integers, got ${describeValue(shape)}`);
  }
  const s = Array.from(shape as ArrayLike<number>);
  for (const d of s) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`${op}: invalid shape ${fmt(s)} (dims must be non-negative integers, got ${describeValue(d)})`);
  }
  return s;
}

/** Memory for a tensor of shape (checked), with an error naming the op and shape when it cannot be had. */
function allocShaped(op: string, dtype: DType, shape: readonly number[]): TensorData {
  const n = sizeOf(shape);
  try {
    return allocArray(dtype, n);
  } catch (e) {
    throw new RangeError(`${op}: cannot allocate shape ${fmt(shape)}: ${n} ${dtype} elements (${(n * (dtype === 'float64' ? 8 : 4)).toExponential(2)} bytes) (${(e as Error).message})`);
  }
}

/** Nested arrays deeper than this are rejected (PyTorch takes 100; a deeper one is almost surely a mistake). */
const MAX_NESTING = 1000;

/**
 * The numbers in nested arrays, in row-major order, and their shape; rejects ragged or non-numeric
 * input, naming op and the position. Iterative, so deep nesting cannot overflow the stack.
 */
export function parseNested(op: string, data: unknown): { values: number[]; shape: number[] } {
  const shape: number[] = [];
  for (let level = data; Array.isArray(level); level = level[0]) {
    if (shape.length === MAX_NESTING) throw new RangeError(`${op}: nested arrays are more than ${MAX_NESTING} levels deep`);
    shape.push(level.length);
    if (level.length === 0) break;
  }
  const values: number[] = [];
  if (shape.length === 0) {
    if (typeof data !== 'number') throw new TypeError(`${op}: expected a number or nested arrays of numbers, got ${describeValue(data)}`);
    return { values: [data], shape };
  }
  const arrays: unknown[][] = [data as unknown[]];
  const pos: number[] = [0];
  while (arrays.length) {
    const d = arrays.length - 1;
    const i = pos[d]++;
    if (i === arrays[d].length) { arrays.pop(); pos.pop(); continue; }
    const v = arrays[d][i];
    const at = (): string => `[${pos.map((p) => p - 1).join(', ')}]`;
    if (d + 1 === shape.length) {
      if (typeof v !== 'number') throw new TypeError(`${op}: element at ${at()} is ${describeValue(v)}, expected a number`);
      values.push(v);
    } else {
      if (!Array.isArray(v) || v.length !== shape[d + 1]) {
        throw new RangeError(`${op}: ragged nested array at ${at()}: expected ${shape[d + 1]} elements, got ${Array.isArray(v) ? v.length : describeValue(v)}`);
      }
      arrays.push(v);
      pos.push(0);
    }
  }
  return { values, shape };
}

/**
 * A tensor from a number, nested arrays or a typed array (with opts.shape; defaults to 1-D).
 * Typed arrays of the tensor's dtype are used without copying.
 */
export function tensor(
  data: NestedArray | ArrayLike<number>,
  opts: TensorOptions & { shape?: readonly number[] } = {},
): Tensor {
  const dtype = opts.dtype === undefined
    ? (data instanceof Float64Array ? 'float64' : data instanceof Float32Array ? 'float32' : data instanceof Int32Array ? 'int32' : defaultDtype)
    : checkDtype('tensor', opts.dtype);
  const want = opts.shape === undefined ? null : checkShape('tensor', opts.shape);
  if (typeof data === 'number' && !want) return make(castArray('tensor', [data], dtype), [], opts);
  let values: ArrayLike<number>, shape: number[];
  if (ArrayBuffer.isView(data)) {
    values = data as unknown as ArrayLike<number>;
    shape = [values.length];
  } else {
    ({ values, shape } = parseNested('tensor', data));
  }
  if (want && sizeOf(want) !== values.length) throw new RangeError(`tensor: ${values.length} values do not fit shape ${fmt(want)}`);
  const same = (dtype === 'float32' && values instanceof Float32Array) || (dtype === 'float64' && values instanceof Float64Array)
    || (dtype === 'int32' && values instanceof Int32Array);
  return make(same ? (values as TensorData) : castArray('tensor', values, dtype), want ?? shape, opts);
}

function fill(op: string, a: TensorData, v: number): TensorData {
  a.fill(a instanceof Int32Array ? castArray(op, [v], 'int32')[0] : v);
  return a;
}

/** Checked shape and fresh (zeroed) memory for a creation function. */
function create(op: string, shape: readonly number[] | number, opts: TensorOptions): [TensorData, number[]] {
  const s = checkShape(op, typeof shape === 'number' ? [shape] : shape);
  return [allocShaped(op, dtypeOf(op, opts), s), s];
}

function dtypeOf(op: string, opts: TensorOptions): DType {
  return opts.dtype === undefined ? defaultDtype : checkDtype(op, opts.dtype);
}

/** Sampling from a continuous distribution makes float tensors only, as in PyTorch. */
function floatOnly(op: string, opts: TensorOptions): void {
  if (opts.dtype === 'int32') throw new TypeError(`${op}: dtype int32 is not supported (samples are floating point; use randint for integers)`);
}

/** values computed in float64, stored as dtype (to int32: truncated and range-checked, as castArray). */
function fromValues(op: string, values: Float64Array, opts: TensorOptions): TensorData {
  const dtype = dtypeOf(op, opts);
  return dtype === 'float64' ? values : castArray(op, values, dtype);
}

export function zeros(shape: readonly number[] | number, opts: TensorOptions = {}): Tensor {
  const [a, s] = create('zeros', shape, opts);
  return make(a, s, opts);
}

export function ones(shape: readonly number[] | number, opts: TensorOptions = {}): Tensor {
  const [a, s] = create('ones', shape, opts);
  return make(fill('ones', a, 1), s, opts);
}

export function full(shape: readonly number[] | number, value: number, opts: TensorOptions = {}): Tensor {
  const [a, s] = create('full', shape, opts);
  return make(fill('full', a, value), s, opts);
}

export function zerosLike(t: Tensor, opts: TensorOptions = {}): Tensor {
  return zeros(t.shape, { dtype: t.dtype, ...opts });
}

export function onesLike(t: Tensor, opts: TensorOptions = {}): Tensor {
  return full(t.shape, 1, { dtype: t.dtype, ...opts });
}

/** Uniform in [low, high) (default [0, 1)) from the seeded generator (see manualSeed). */
export function rand(shape: readonly number[] | number, opts: TensorOptions & { low?: number; high?: number } = {}): Tensor {
  floatOnly('rand', opts);
  const [a, s] = create('rand', shape, opts);
  const lo = opts.low ?? 0, span = (opts.high ?? 1) - lo;
  for (let i = 0; i < a.length; i++) a[i] = lo + span * random();
  return make(a, s, opts);
}

/** Standard normal from the seeded generator (see manualSeed). */
export function randn(shape: readonly number[] | number, opts: TensorOptions = {}): Tensor {
  floatOnly('randn', opts);
  const [a, s] = create('randn', shape, opts);
  for (let i = 0; i < a.length; i++) a[i] = randomNormal();
  return make(a, s, opts);
}

/** arange(end) or arange(start, end, step), like torch.arange. */
export function arange(start: number, end?: number, step = 1, opts: TensorOptions = {}): Tensor {
  if (end === undefined) { end = start; start = 0; }
  if (step === 0 || !Number.isFinite(step)) throw new RangeError(`arange: step must be a non-zero finite number, got ${step}`);
  const n = Math.max(0, Math.ceil((end - start) / step));
  const [a] = create('arange', n, { dtype: 'float64' });
  for (let i = 0; i < n; i++) a[i] = start + i * step;
  return make(fromValues('arange', a as Float64Array, opts), [n], opts);
}

/** Identity matrix n×m (m defaults to n). */
export function eye(n: number, m = n, opts: TensorOptions = {}): Tensor {
  const t = zeros([n, m], opts);
  for (let i = 0; i < Math.min(n, m); i++) t.data[i * m + i] = 1;
  return t;
}

/** Integers uniform in [low, high) from the seeded generator (see manualSeed); int32 unless opts.dtype says otherwise (PyTorch: int64). */
export function randint(low: number, high: number, shape: readonly number[] | number, opts: TensorOptions = {}): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) {
    throw new RangeError(`randint: low and high must be integers with low < high, got ${describeValue(low)} and ${describeValue(high)}`);
  }
  opts = { dtype: 'int32', ...opts };
  if (opts.dtype === 'int32' && (low < INT32_MIN || high - 1 > INT32_MAX)) {
    throw new RangeError(`randint: [${low}, ${high}) does not fit int32 [${INT32_MIN}, ${INT32_MAX}]`);
  }
  const [a, s] = create('randint', shape, opts);
  const span = high - low;
  for (let i = 0; i < a.length; i++) a[i] = low + Math.floor(span * random());
  return make(a, s, opts);
}

/** steps evenly spaced values from start to end inclusive (torch.linspace). */
export function linspace(start: number, end: number, steps: number, opts: TensorOptions = {}): Tensor {
  if (!Number.isFinite(start) || !Number.isFinite(end)) throw new RangeError(`linspace: start and end must be finite numbers, got ${describeValue(start)} and ${describeValue(end)}`);
  if (!Number.isInteger(steps) || steps < 0) throw new RangeError(`linspace: steps must be a non-negative integer, got ${describeValue(steps)}`);
  const [a] = create('linspace', steps, { dtype: 'float64' });
  const step = steps > 1 ? (end - start) / (steps - 1) : 0;
  // PyTorch's rule: the first half counts up from start, the second half back from end (both ends exact)
  const half = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) a[i] = i < half || steps === 1 ? start + step * i : end - step * (steps - 1 - i);
  return make(fromValues('linspace', a as Float64Array, opts), [steps], opts);
}
