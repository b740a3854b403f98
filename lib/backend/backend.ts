// The closed set of kernels every backend implements. Kernels know typed arrays and the few sizes
// they need, nothing about tensors or autograd. All arrays are dense, row-major and owned by the
// caller; outputs are written in place (`out` may alias an input only where noted).
//
// Layout convention for axis kernels: a tensor viewed as [outer, n, inner] is reduced/normalized
// over its middle axis of length n.

export type FloatArray = Float32Array | Float64Array;

/** out[i] = f(x[i]) (p0/p1 are parameters: pow exponent, clamp bounds, affine scale/shift). */
export type UnaryOp =
  | 'neg' | 'exp' | 'log' | 'sqrt' | 'abs' | 'sigmoid' | 'tanh' | 'relu'
  | 'step'    // x > 0 ? 1 : 0
  | 'sign'    // -1, 0, 1
  | 'pow'     // x ** p0
  | 'clamp'   // min(max(x, p0), p1)
  | 'affine'; // p0 * x + p1

/**
 * out = f(a, b) with NumPy broadcasting. The activation gradients take the saved forward value in
 * `a` and the incoming gradient in `b`:
 *   reluGrad: b * (a > 0)   sigmoidGrad: b * a * (1 - a)   tanhGrad: b * (1 - a²)
 */
export type BinaryOp =
  | 'add' | 'sub' | 'mul' | 'div' | 'maximum' | 'minimum'
  | 'eq' | 'gt' | 'lt' // 1 or 0
  | 'reluGrad' | 'sigmoidGrad' | 'tanhGrad';

export type ReduceOp = 'sum' | 'max' | 'min';

export interface SgdOptions {
  lr: number; momentum: number; dampening: number; nesterov: boolean; weightDecay: number;
}
export interface AdamOptions {
  lr: number; beta1: number; beta2: number; eps: number; weightDecay: number;
  /** AdamW: decay the weights directly (p -= lr*wd*p) instead of adding wd*p to the gradient. */
  decoupled: boolean;
}

export interface Backend {
  readonly name: 'js' | 'native';

  /**
   * C = alpha · op(A) · op(B) + beta · C, row-major, op(X) = Xᵀ when trans is set, op(A) is m×k,
   * op(B) is k×n. Batched when batch > 1: matrix i starts at i*stride (a stride of 0 broadcasts).
   * With beta = 0, C is overwritten (its old contents, even NaN, are ignored).
   */
  gemm(
    transA: boolean, transB: boolean, m: number, n: number, k: number,
    alpha: number, a: FloatArray, b: FloatArray, beta: number, c: FloatArray,
    batch?: number, strideA?: number, strideB?: number, strideC?: number,
  ): void;

  /** Element-wise; out may alias x. */
  unary(op: UnaryOp, x: FloatArray, out: FloatArray, p0?: number, p1?: number): void;

  /** Element-wise with broadcasting; shapes are full shapes (equal lengths not required). out may alias a or b when it has the same shape. */
  binary(
    op: BinaryOp, a: FloatArray, aShape: readonly number[], b: FloatArray, bShape: readonly number[],
    out: FloatArray, outShape: readonly number[],
  ): void;

  /** Reduce x viewed as [outer, n, inner] over n into out[outer, inner]. */
  reduce(op: ReduceOp, x: FloatArray, outer: number, n: number, inner: number, out: FloatArray): void;

  /** Index (0..n-1) of the first maximum over n of x viewed as [outer, n, inner]; out is [outer, inner]. */
  argmax(x: FloatArray, outer: number, n: number, inner: number, out: Int32Array): void;

  /** Sum x (shape xShape) down to outShape, which broadcasts to xShape (the VJP of broadcasting). */
  sumTo(x: FloatArray, xShape: readonly number[], out: FloatArray, outShape: readonly number[]): void;

  /** Softmax (or log-softmax) over n of x viewed as [outer, n, inner]; numerically stable. */
  softmax(x: FloatArray, outer: number, n: number, inner: number, out: FloatArray, log: boolean): void;

  /**
   * Fused softmax cross-entropy over rows×classes logits with integer labels: writes softmax
   * probabilities into probs and returns the mean of -log p[label]. Throws RangeError on a label
   * outside [0, classes).
   */
  crossEntropy(logits: FloatArray, labels: Int32Array, rows: number, classes: number, probs: FloatArray): number;

  /** dLogits = scale · (probs - onehot(labels)); the VJP of mean cross-entropy uses scale = g / rows. */
  crossEntropyBackward(
    probs: FloatArray, labels: Int32Array, rows: number, classes: number, scale: number, out: FloatArray,
  ): void;

  /** out (shape [outer, idx.length, inner]) = x[outer, idx[j], inner]: row selection and batching. */
  indexSelect(x: FloatArray, outer: number, n: number, inner: number, idx: Int32Array, out: FloatArray): void;

  /** out[outer, idx[j], inner] += g[outer, j, inner] (out is NOT zeroed first): the VJP of indexSelect. */
  indexAdd(g: FloatArray, outer: number, n: number, inner: number, idx: Int32Array, out: FloatArray): void;

  /** out = x with axes permuted: out.shape[i] = shape[perm[i]]. */
  permute(x: FloatArray, shape: readonly number[], perm: readonly number[], out: FloatArray): void;

  /** In-place SGD step (PyTorch's formula). buf is the momentum buffer (ignored when momentum = 0); first = first step for this buffer. */
  sgdStep(param: FloatArray, grad: FloatArray, buf: FloatArray | null, first: boolean, o: SgdOptions): void;

  /** In-place Adam/AdamW step number `step` (1-based) with PyTorch's bias correction. */
  adamStep(param: FloatArray, grad: FloatArray, m: FloatArray, v: FloatArray, step: number, o: AdamOptions): void;

  setNumThreads(n: number): void;
  getNumThreads(): number;
}
