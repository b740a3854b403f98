import { Tensor, type DType } from '../tensor.js';
import { backward, registerGradientOps, type BackwardOptions } from '../autograd/engine.js';
import { add, sub, mul, div, neg, exp, log, pow, sqrt, abs, clamp, eq, gt, lt } from './elementwise.js';
import { sigmoid, tanh, relu, softmax, logSoftmax } from './activation.js';
import { sum, mean, max, argmax } from './reduce.js';
import { min, argmin, maxWithIndices, minWithIndices, variance, std, norm, logsumexp, cumsum, type VarOptions } from './stats.js';
import { reshape, flatten, squeeze, unsqueeze, expand, sumTo, permute, transpose, indexSelect, gather, copy } from './shape.js';
import { matmul } from './matmul.js';
import { sin, cos, log1p, expm1 } from './trig.js';
import { maskedFill, sort, topk, type SortResult } from './select.js';
import { split, chunk, repeat } from './split.js';
import { toDtype } from './dtype.js';

// Tensor is plain data (lib/tensor.ts); this module gives it its methods, the pattern of sharp and
// tfjs: the engine and every op can import Tensor without importing each other. Loaded by ops/index.ts.

type Scalar = Tensor | number;
type Dims = number | readonly number[] | null;

declare module '../tensor.js' {
  interface Tensor {
    add(o: Scalar): Tensor;
    sub(o: Scalar): Tensor;
    mul(o: Scalar): Tensor;
    div(o: Scalar): Tensor;
    neg(): Tensor;
    exp(): Tensor;
    log(): Tensor;
    pow(p: number): Tensor;
    sqrt(): Tensor;
    abs(): Tensor;
    sigmoid(): Tensor;
    tanh(): Tensor;
    relu(): Tensor;
    clamp(min: number | null, max?: number | null): Tensor;
    softmax(dim: number): Tensor;
    logSoftmax(dim: number): Tensor;
    matmul(o: Tensor): Tensor;
    sum(dim?: Dims, keepDim?: boolean): Tensor;
    mean(dim?: Dims, keepDim?: boolean): Tensor;
    max(dim?: number | null, keepDim?: boolean): Tensor;
    argmax(dim?: number | null, keepDim?: boolean): Tensor;
    min(dim?: number | null, keepDim?: boolean): Tensor;
    argmin(dim?: number | null, keepDim?: boolean): Tensor;
    /** indices: an int32 tensor. */
    maxWithIndices(dim: number, keepDim?: boolean): { values: Tensor; indices: Tensor };
    minWithIndices(dim: number, keepDim?: boolean): { values: Tensor; indices: Tensor };
    var(dim?: Dims, opts?: VarOptions): Tensor;
    std(dim?: Dims, opts?: VarOptions): Tensor;
    norm(p?: number, dim?: Dims, keepDim?: boolean): Tensor;
    logsumexp(dim: number | readonly number[], keepDim?: boolean): Tensor;
    cumsum(dim: number): Tensor;
    reshape(...shape: number[] | [number[]]): Tensor;
    view(...shape: number[] | [number[]]): Tensor;
    flatten(startDim?: number, endDim?: number): Tensor;
    squeeze(dim?: number): Tensor;
    unsqueeze(dim: number): Tensor;
    expand(...shape: number[] | [number[]]): Tensor;
    transpose(dim0: number, dim1: number): Tensor;
    permute(...dims: number[] | [number[]]): Tensor;
    /** All dims reversed (a matrix transpose for 2-D). */
    readonly T: Tensor;
    indexSelect(dim: number, index: ArrayLike<number> | Tensor): Tensor;
    gather(dim: number, index: Tensor | number[][] | number[]): Tensor;
    eq(o: Scalar): Tensor;
    gt(o: Scalar): Tensor;
    lt(o: Scalar): Tensor;
    sin(): Tensor;
    cos(): Tensor;
    log1p(): Tensor;
    expm1(): Tensor;
    maskedFill(mask: Tensor, value: number): Tensor;
    sort(dim?: number, descending?: boolean): SortResult;
    topk(k: number, dim?: number, largest?: boolean, sorted?: boolean): SortResult;
    split(splitSizeOrSections: number | readonly number[], dim?: number): Tensor[];
    chunk(chunks: number, dim?: number): Tensor[];
    repeat(...sizes: number[] | [number[]]): Tensor;
    /** This tensor as dtype (itself if it has it already); to int32 truncates toward zero and refuses NaN, ±Infinity and out-of-range values. */
    to(dtype: DType): Tensor;
    /** to('float32') */
    float(): Tensor;
    /** to('float64') */
    double(): Tensor;
    /** to('int32') (tapegrad's integer dtype; PyTorch's int() is int32 too) */
    int(): Tensor;
    /** to('int32') as well: PyTorch's int64 labels and indices are int32 here (values outside it are refused). */
    long(): Tensor;
    /** Reverse-mode pass from this tensor. Scalars need no seed; others need `gradient` (the v of a VJP). */
    backward(gradient?: Tensor | null, opts?: BackwardOptions): void;
  }
}

function flat(a: number[] | [number[]]): number[] {
  return Array.isArray(a[0]) ? (a[0] as number[]) : (a as number[]);
}

const methods: ThisType<Tensor> & Partial<Tensor> = {
  add(o) { return add(this, o); },
  sub(o) { return sub(this, o); },
  mul(o) { return mul(this, o); },
  div(o) { return div(this, o); },
  neg() { return neg(this); },
  exp() { return exp(this); },
  log() { return log(this); },
  pow(p) { return pow(this, p); },
  sqrt() { return sqrt(this); },
  abs() { return abs(this); },
  sigmoid() { return sigmoid(this); },
  tanh() { return tanh(this); },
  relu() { return relu(this); },
  clamp(min, max = null) { return clamp(this, min, max); },
  softmax(dim) { return softmax(this, dim); },
  logSoftmax(dim) { return logSoftmax(this, dim); },
  matmul(o) { return matmul(this, o); },
  sum(dim, keepDim = false) { return sum(this, dim, keepDim); },
  mean(dim, keepDim = false) { return mean(this, dim, keepDim); },
  max(dim, keepDim = false) { return max(this, dim, keepDim); },
  argmax(dim, keepDim = false) { return argmax(this, dim, keepDim); },
  min(dim, keepDim = false) { return min(this, dim, keepDim); },
  argmin(dim, keepDim = false) { return argmin(this, dim, keepDim); },
  maxWithIndices(dim, keepDim = false) { return maxWithIndices(this, dim, keepDim); },
  minWithIndices(dim, keepDim = false) { return minWithIndices(this, dim, keepDim); },
  var(dim, opts = {}) { return variance(this, dim, opts); },
  std(dim, opts = {}) { return std(this, dim, opts); },
  norm(p = 2, dim, keepDim = false) { return norm(this, p, dim, keepDim); },
  logsumexp(dim, keepDim = false) { return logsumexp(this, dim, keepDim); },
  cumsum(dim) { return cumsum(this, dim); },
  reshape(...shape) { return reshape(this, flat(shape)); },
  view(...shape) { return reshape(this, flat(shape)); },
  flatten(startDim = 0, endDim = -1) { return flatten(this, startDim, endDim); },
  squeeze(dim) { return squeeze(this, dim); },
  unsqueeze(dim) { return unsqueeze(this, dim); },
  expand(...shape) { return expand(this, flat(shape)); },
  transpose(dim0, dim1) { return transpose(this, dim0, dim1); },
  permute(...dims) { return permute(this, flat(dims)); },
  indexSelect(dim, index) { return indexSelect(this, dim, index); },
  gather(dim, index) { return gather(this, dim, index); },
  eq(o) { return eq(this, o); },
  gt(o) { return gt(this, o); },
  lt(o) { return lt(this, o); },
  sin() { return sin(this); },
  cos() { return cos(this); },
  log1p() { return log1p(this); },
  expm1() { return expm1(this); },
  maskedFill(mask, value) { return maskedFill(this, mask, value); },
  sort(dim = -1, descending = false) { return sort(this, dim, descending); },
  topk(k, dim = -1, largest = true, sorted = true) { return topk(this, k, dim, largest, sorted); },
  split(splitSizeOrSections, dim = 0) { return split(this, splitSizeOrSections, dim); },
  chunk(chunks, dim = 0) { return chunk(this, chunks, dim); },
  repeat(...sizes) { return repeat(this, flat(sizes)); },
  to(dtype) { return toDtype(this, dtype); },
  float() { return toDtype(this, 'float32', 'float'); },
  double() { return toDtype(this, 'float64', 'double'); },
  int() { return toDtype(this, 'int32', 'int'); },
  long() { return toDtype(this, 'int32', 'long'); },
  backward(gradient = null, opts = {}) { backward([this], [gradient], opts); },
};

// non-enumerable, like class methods
for (const [name, fn] of Object.entries(methods)) {
  Object.defineProperty(Tensor.prototype, name, { value: fn, writable: true, configurable: true });
}
Object.defineProperty(Tensor.prototype, 'T', {
  get(this: Tensor) { return permute(this, this.shape.map((_, i) => this.shape.length - 1 - i)); },
  configurable: true,
});

registerGradientOps({ add: (a, b) => add(a, b), sumTo, copy: (g) => copy(g) });
