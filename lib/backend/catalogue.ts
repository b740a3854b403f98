// The kernel catalogue: every kernel of the Backend named ONCE, with its signature, the kind of each
// argument and its small-work threshold. The Backend type (backend.ts), the native wrapper
// (native.ts), the fuzzer (tools/fuzz.mjs) and the conformance tests derive from it; the C++
// side (native/addon.cc) has one entry point per kernel in a table.
//
// Kernels know typed arrays and the few sizes they need, nothing about tensors or autograd. All
// arrays are dense, row-major and owned by the caller; outputs are written in place (`out` may
// alias an input only where noted). Axis kernels view a tensor as [outer, n, inner] and work over
// its middle axis of length n.

export type FloatArray = Float32Array | Float64Array;

/** out[i] = f(x[i]) (p0/p1 are parameters: pow exponent, clamp bounds, affine scale/shift, softplus beta/threshold). */
export const UNARY_OPS = [
  'exp', 'log', 'sqrt', 'abs', 'sigmoid', 'tanh', 'relu',
  'sign',   // -1, 0, 1
  'pow',    // x ** p0
  'clamp',  // min(max(x, p0), p1)
  'affine', // p0 * x + p1
  'sin', 'cos', 'log1p', 'expm1', 'erf',
  'gelu',     // x·Φ(x) = x/2·(1 + erf(x/√2))
  'geluTanh', // x/2·(1 + tanh(u)) = x·σ(2u), u = √(2/π)(x + 0.044715x³)
  'softplus', // t = p0·x: x where t > p1, else log(1 + eᵗ)/p0 (beta p0 != 0, threshold p1)
] as const;
export type UnaryOp = (typeof UNARY_OPS)[number];

/**
 * out = f(a, b) with NumPy broadcasting. The activation gradients take the saved forward value in
 * `a` and the incoming gradient in `b`:
 *   reluGrad: b * (a > 0)   sigmoidGrad: b * a * (1 - a)   tanhGrad: b * (1 - a²)
 * The GELU gradients take the forward INPUT x in `a`: b * gelu'(a).
 */
export const BINARY_OPS = [
  'add', 'sub', 'mul', 'div', 'maximum',
  'eq', 'gt', 'lt', // 1 or 0
  'reluGrad', 'sigmoidGrad', 'tanhGrad',
  'geluGrad', 'geluTanhGrad',
] as const;
export type BinaryOp = (typeof BINARY_OPS)[number];

/** The activations linear fuses: y = act(x·Wᵀ + b). */
export const ACT_OPS = ['none', 'relu', 'sigmoid', 'tanh'] as const;
export type ActOp = (typeof ACT_OPS)[number];

export const REDUCE_OPS = ['sum', 'max'] as const;
export type ReduceOp = (typeof REDUCE_OPS)[number];

export interface SgdOptions {
  lr: number; momentum: number; dampening: number; nesterov: boolean; weightDecay: number;
}
export interface AdamOptions {
  lr: number; beta1: number; beta2: number; eps: number; weightDecay: number;
  /** AdamW: decay the weights directly (p -= lr*wd*p) instead of adding wd*p to the gradient. */
  decoupled: boolean;
}

/**
 * What an argument is, as the native side validates it: `dim` a non-negative integer, `num` any
 * number, `finite` a finite number, `f32` a float array (the addon takes Float32Array only; the
 * wrapper sends anything else to the JS backend), `f32|null`, `i32` an Int32Array (labels,
 * indices, argmax output), `shape` an Array of dims, `*Op` a name from the lists above,
 * `sgd`/`adam` an options object (fields below). A trailing `?` marks an optional argument.
 */
export interface KindTypes {
  bool: boolean; dim: number; num: number; finite: number;
  f32: FloatArray; 'f32|null': FloatArray | null; i32: Int32Array; shape: readonly number[];
  unaryOp: UnaryOp; binaryOp: BinaryOp; reduceOp: ReduceOp; actOp: ActOp; sgd: SgdOptions; adam: AdamOptions;
}
export type Kind = keyof KindTypes;
export type ArgKind = Kind | `${Kind}?`;

/** The fields of the option-object kinds, with their kinds. */
export const OPTION_FIELDS = {
  sgd: { lr: 'finite', momentum: 'finite', dampening: 'finite', nesterov: 'bool', weightDecay: 'finite' },
  adam: { lr: 'finite', beta1: 'finite', beta2: 'finite', eps: 'finite', weightDecay: 'finite', decoupled: 'bool' },
} as const satisfies { sgd: Record<keyof SgdOptions, Kind>; adam: Record<keyof AdamOptions, Kind> };

/**
 * Work at or below these sizes runs on the JS backend: a native call costs ~100-300 ns of argument
 * checking and crossing, which is more than a small loop in JS (measured below).
 */
export interface SmallWork {
  /** unary and the other one-pass kernels (reductions, softmax, losses, optimizer steps). */
  unary: number;
  /** binary, by output elements (reading three shape arrays costs ~0.5 µs). */
  binary: number;
  /** gemm, by m*n*k (per matrix, times batch). */
  gemm: number;
}
// Measured here (Node 20, 1 core): a native add of n floats costs ~640 ns up to n = 256 (JS: 200 ns at
// n = 16, 670 ns at n = 256); native relu ~160 ns (JS 100 ns at n = 64); a 4x4x4 gemm ~540 ns (JS 650 ns).
export const DEFAULT_SMALL_WORK: SmallWork = { unary: 64, binary: 256, gemm: 64 };
/** Every call goes to the addon (used by the conformance tests). */
export const NO_SMALL_WORK: SmallWork = { unary: -1, binary: -1, gemm: -1 };

// The kinds an argument of type T may have ('dim' and 'num' are both numbers).
type KindOf<T> = { [K in Kind]: [T] extends [KindTypes[K]] ? ([KindTypes[K]] extends [T] ? K : never) : never }[Kind];
type KindsOf<P extends readonly unknown[]> = {
  readonly [I in keyof P]-?: {} extends Pick<P, I> ? `${KindOf<Exclude<P[I], undefined>>}?` : KindOf<P[I]>;
};

export interface KernelSpec<F extends (...args: never[]) => unknown> {
  /** The kind of each argument, in order (checked against F's parameters by the compiler). */
  readonly args: readonly ArgKind[];
  /** Which SmallWork threshold applies. */
  readonly small: keyof SmallWork;
  /** The size compared with the threshold. */
  readonly work: (...args: Parameters<F>) => number;
  /** Type only: the signature. */
  readonly signature?: F;
}

/** Declares a kernel with signature F; its argument kinds must match F's parameters. */
function kernel<F extends (...args: never[]) => unknown>() {
  return <const A extends KindsOf<Parameters<F>>>(spec: { args: A; small: keyof SmallWork; work: (...args: Parameters<F>) => number }): KernelSpec<F> => spec;
}

type GemmParams = [
  transA: boolean, transB: boolean, m: number, n: number, k: number,
  alpha: number, a: FloatArray, b: FloatArray, beta: number, c: FloatArray,
  batch?: number, strideA?: number, strideB?: number, strideC?: number,
];
const gemmWork: (...args: GemmParams) => number = (_tA, _tB, m, n, k, _alpha, _a, _b, _beta, _c, batch = 1) => m * n * k * batch;
type GemmOne = [
  transA: boolean, transB: boolean, m: number, n: number, k: number,
  alpha: number, a: FloatArray, b: FloatArray, beta: number, c: FloatArray,
];
type GemmPairParams = [
  transA: boolean, transB: boolean, m: number, n: number, k: number,
  alpha: number, a: FloatArray, b: FloatArray, beta: number, c: FloatArray,
  transA2: boolean, transB2: boolean, m2: number, n2: number, k2: number,
  alpha2: number, a2: FloatArray, b2: FloatArray, beta2: number, c2: FloatArray,
];
const GEMM_ONE = ['bool', 'bool', 'dim', 'dim', 'dim', 'num', 'f32', 'f32', 'num', 'f32'] as const satisfies KindsOf<GemmOne>;
const GEMM = {
  args: ['bool', 'bool', 'dim', 'dim', 'dim', 'num', 'f32', 'f32', 'num', 'f32', 'dim?', 'dim?', 'dim?', 'dim?'],
  small: 'gemm',
  work: gemmWork,
} as const;

export const KERNELS = {
  /**
   * C = alpha · op(A) · op(B) + beta · C, row-major, op(X) = Xᵀ when trans is set, op(A) is m×k,
   * op(B) is k×n. Batched when batch > 1: matrix i starts at i*stride (a stride of 0 broadcasts).
   * With beta = 0, C is overwritten (its old contents, even NaN, are ignored).
   */
  gemm: kernel<(...args: GemmParams) => void>()(GEMM),

  /**
   * gemm off the main thread; resolves when C is written. Bad arguments reject the promise. The
   * native backend runs it on the libuv thread pool on copies of a, b and c; the JS backend
   * computes it synchronously and resolves.
   */
  gemmAsync: kernel<(...args: GemmParams) => Promise<void>>()(GEMM),

  /**
   * Two independent unbatched gemms, (transA, …, c) and (transA2, …, c2): a matmul's dA and dB. The
   * native backend runs each on one OpenBLAS thread, which gives bitwise the results of two
   * single-threaded gemm calls: with 2+ OpenBLAS threads and a product of 64³ multiply-adds or more
   * at the same time on two threads, otherwise one after the other (the JS backend: one after the
   * other). Neither output may overlap the other product's arrays.
   */
  gemmPair: kernel<(...args: GemmPairParams) => void>()({
    args: [...GEMM_ONE, ...GEMM_ONE],
    small: 'gemm',
    work: (_tA, _tB, m, n, k, _al, _a, _b, _be, _c, _tA2, _tB2, m2, n2, k2) => m * n * k + m2 * n2 * k2,
  }),

  /**
   * A linear layer: out = act(x·Wᵀ + bias) with x [rows, inF], w [outF, inF], bias [outF] or null,
   * out [rows, outF] (overlapping none of them). The native backend runs a mid-sized layer on two
   * threads by output columns, each thread with its own rows of W (native/linear.cc); sgdStep's
   * `rows` splits the update of W the same way.
   */
  linear: kernel<(x: FloatArray, w: FloatArray, bias: FloatArray | null, act: ActOp, rows: number, inF: number, outF: number, out: FloatArray) => void>()({
    args: ['f32', 'f32', 'f32|null', 'actOp', 'dim', 'dim', 'dim', 'f32'],
    small: 'gemm', work: (_x, _w, _b, _act, rows, inF, outF) => rows * inF * outF,
  }),

  /**
   * linear's VJP, from g [rows, outF] and its output y (read only when act is not 'none'): with
   * ga = g·act'(y), db = dbBeta·db + Σ_rows ga, dw = dwBeta·dw + gaᵀ·x and dx = ga·W. dx, dw and db
   * may be null (not computed); none may overlap another argument. A beta of 0 overwrites.
   */
  linearBackward: kernel<(
    g: FloatArray, y: FloatArray | null, act: ActOp, x: FloatArray, w: FloatArray, rows: number, inF: number, outF: number,
    dx: FloatArray | null, dw: FloatArray | null, dwBeta: number, db: FloatArray | null, dbBeta: number,
  ) => void>()({
    args: ['f32', 'f32|null', 'actOp', 'f32', 'f32', 'dim', 'dim', 'dim', 'f32|null', 'f32|null', 'num', 'f32|null', 'num'],
    small: 'gemm', work: (_g, _y, _a, _x, _w, rows, inF, outF) => rows * inF * outF,
  }),

  /** Element-wise; out may alias x. */
  unary: kernel<(op: UnaryOp, x: FloatArray, out: FloatArray, p0?: number, p1?: number) => void>()({
    args: ['unaryOp', 'f32', 'f32', 'num?', 'num?'], small: 'unary', work: (_op, x) => x.length,
  }),

  /** Element-wise with broadcasting; shapes are full shapes (equal lengths not required). out may alias a or b when it has the same shape. */
  binary: kernel<(
    op: BinaryOp, a: FloatArray, aShape: readonly number[], b: FloatArray, bShape: readonly number[],
    out: FloatArray, outShape: readonly number[],
  ) => void>()({
    args: ['binaryOp', 'f32', 'shape', 'f32', 'shape', 'f32', 'shape'], small: 'binary', work: (_op, _a, _as, _b, _bs, out) => out.length,
  }),

  /** Reduce x viewed as [outer, n, inner] over n into out[outer, inner]. */
  reduce: kernel<(op: ReduceOp, x: FloatArray, outer: number, n: number, inner: number, out: FloatArray) => void>()({
    args: ['reduceOp', 'f32', 'dim', 'dim', 'dim', 'f32'], small: 'unary', work: (_op, x) => x.length,
  }),

  /** Index (0..n-1) of the first maximum over n of x viewed as [outer, n, inner]; out is [outer, inner]. */
  argmax: kernel<(x: FloatArray, outer: number, n: number, inner: number, out: Int32Array) => void>()({
    args: ['f32', 'dim', 'dim', 'dim', 'i32'], small: 'unary', work: (x) => x.length,
  }),

  /** Sum x (shape xShape) down to outShape, which broadcasts to xShape (the VJP of broadcasting). */
  sumTo: kernel<(x: FloatArray, xShape: readonly number[], out: FloatArray, outShape: readonly number[]) => void>()({
    args: ['f32', 'shape', 'f32', 'shape'], small: 'unary', work: (x) => x.length,
  }),

  /** Softmax (or log-softmax) over n of x viewed as [outer, n, inner]; numerically stable. out may alias x. */
  softmax: kernel<(x: FloatArray, outer: number, n: number, inner: number, out: FloatArray, log: boolean) => void>()({
    args: ['f32', 'dim', 'dim', 'dim', 'f32', 'bool'], small: 'unary', work: (x) => x.length,
  }),

  /**
   * Fused softmax cross-entropy over rows×classes logits with integer labels: writes softmax
   * probabilities into probs and returns the mean of -log p[label]. Throws RangeError on a label
   * outside [0, classes).
   */
  crossEntropy: kernel<(logits: FloatArray, labels: Int32Array, rows: number, classes: number, probs: FloatArray) => number>()({
    args: ['f32', 'i32', 'dim', 'dim', 'f32'], small: 'unary', work: (logits) => logits.length,
  }),

  /** dLogits = scale · (probs - onehot(labels)); the VJP of mean cross-entropy uses scale = g / rows. */
  crossEntropyBackward: kernel<(
    probs: FloatArray, labels: Int32Array, rows: number, classes: number, scale: number, out: FloatArray,
  ) => void>()({
    args: ['f32', 'i32', 'dim', 'dim', 'num', 'f32'], small: 'unary', work: (probs) => probs.length,
  }),

  /** out (shape [outer, idx.length, inner]) = x[outer, idx[j], inner]: row selection and batching. */
  indexSelect: kernel<(x: FloatArray, outer: number, n: number, inner: number, idx: Int32Array, out: FloatArray) => void>()({
    args: ['f32', 'dim', 'dim', 'dim', 'i32', 'f32'], small: 'unary', work: (_x, _o, _n, _i, _idx, out) => out.length,
  }),

  /** out[outer, idx[j], inner] += g[outer, j, inner] (out is NOT zeroed first): the VJP of indexSelect. */
  indexAdd: kernel<(g: FloatArray, outer: number, n: number, inner: number, idx: Int32Array, out: FloatArray) => void>()({
    args: ['f32', 'dim', 'dim', 'dim', 'i32', 'f32'], small: 'unary', work: (g) => g.length,
  }),

  /** out = x with axes permuted: out.shape[i] = shape[perm[i]]. */
  permute: kernel<(x: FloatArray, shape: readonly number[], perm: readonly number[], out: FloatArray) => void>()({
    args: ['f32', 'shape', 'shape', 'f32'], small: 'unary', work: (x) => x.length,
  }),

  /**
   * Inverted dropout: per element, in order, draws u = r/2³² from xoshiro128** whose four state words
   * are `state` (updated in place, lib/random.ts's RandomGenerator stream); mask = u < p ? 0 : 1/(1-p)
   * (0 when p = 1) and out = x·mask. mask may be null (not written): the backward replays the same
   * state on the gradient instead of keeping a mask. out may alias x; mask may overlap neither.
   */
  dropout: kernel<(x: FloatArray, p: number, state: Int32Array, out: FloatArray, mask: FloatArray | null) => void>()({
    args: ['f32', 'num', 'i32', 'f32', 'f32|null'], small: 'unary', work: (x) => x.length,
  }),

  /**
   * Batch normalization in training of x viewed as [n, c, l] (l = 1 for [N, C]): per channel, the
   * batch mean and biased variance over n·l values go to mean[c] and var[c]; then
   * out = (x - mean)/√(var + eps)·weight + bias (weight, bias null: 1 and 0).
   */
  batchNorm: kernel<(
    x: FloatArray, n: number, c: number, l: number, weight: FloatArray | null, bias: FloatArray | null, eps: number,
    out: FloatArray, mean: FloatArray, var_: FloatArray,
  ) => void>()({
    args: ['f32', 'dim', 'dim', 'dim', 'f32|null', 'f32|null', 'num', 'f32', 'f32', 'f32'], small: 'unary', work: (x) => x.length,
  }),

  /**
   * The VJP of batchNorm with the saved mean and var: with x̂ = (x - mean)·rstd, rstd = 1/√(var + eps),
   * dx = weight·rstd·(g - mean(g) - x̂·mean(g·x̂)) (means per channel), dweight = Σ g·x̂, dbias = Σ g.
   * Each output may be null (not computed); all are overwritten.
   */
  batchNormBackward: kernel<(
    x: FloatArray, g: FloatArray, n: number, c: number, l: number, mean: FloatArray, var_: FloatArray, eps: number,
    weight: FloatArray | null, dx: FloatArray | null, dweight: FloatArray | null, dbias: FloatArray | null,
  ) => void>()({
    args: ['f32', 'f32', 'dim', 'dim', 'dim', 'f32', 'f32', 'num', 'f32|null', 'f32|null', 'f32|null', 'f32|null'],
    small: 'unary', work: (x) => x.length,
  }),

  /**
   * Layer normalization of x viewed as [rows, cols] over each row: mean and biased variance to
   * mean[row] and var[row]; out = (x - mean)/√(var + eps)·weight + bias, weight and bias of cols
   * elements (null: 1 and 0).
   */
  layerNorm: kernel<(
    x: FloatArray, rows: number, cols: number, weight: FloatArray | null, bias: FloatArray | null, eps: number,
    out: FloatArray, mean: FloatArray, var_: FloatArray,
  ) => void>()({
    args: ['f32', 'dim', 'dim', 'f32|null', 'f32|null', 'num', 'f32', 'f32', 'f32'], small: 'unary', work: (x) => x.length,
  }),

  /**
   * The VJP of layerNorm: with gy = g·weight, dx = rstd·(gy - mean(gy) - x̂·mean(gy·x̂)) (means per row),
   * dweight = Σ_rows g·x̂, dbias = Σ_rows g. Each output may be null; all are overwritten.
   */
  layerNormBackward: kernel<(
    x: FloatArray, g: FloatArray, rows: number, cols: number, mean: FloatArray, var_: FloatArray, eps: number,
    weight: FloatArray | null, dx: FloatArray | null, dweight: FloatArray | null, dbias: FloatArray | null,
  ) => void>()({
    args: ['f32', 'f32', 'dim', 'dim', 'f32', 'f32', 'num', 'f32|null', 'f32|null', 'f32|null', 'f32|null'],
    small: 'unary', work: (x) => x.length,
  }),

  /**
   * In-place SGD step (PyTorch's formula). buf is the momentum buffer (ignored when momentum = 0); first = first step for this buffer.
   * rows: the parameter's first dimension (it must divide param.length); the native backend then updates a large W
   * on the two threads that linear gives its rows to (elementwise: the same result either way).
   */
  sgdStep: kernel<(param: FloatArray, grad: FloatArray, buf: FloatArray | null, first: boolean, o: SgdOptions, rows?: number) => void>()({
    args: ['f32', 'f32', 'f32|null', 'bool', 'sgd', 'dim?'], small: 'unary', work: (param) => param.length,
  }),

  /** In-place Adam/AdamW step number `step` (1-based) with PyTorch's bias correction; rows as in sgdStep. */
  adamStep: kernel<(param: FloatArray, grad: FloatArray, m: FloatArray, v: FloatArray, step: number, o: AdamOptions, rows?: number) => void>()({
    args: ['f32', 'f32', 'f32', 'f32', 'dim', 'adam', 'dim?'], small: 'unary', work: (param) => param.length,
  }),
};

export type KernelName = keyof typeof KERNELS;
export const KERNEL_NAMES = Object.keys(KERNELS) as KernelName[];

/** The kernels' signatures, derived from the catalogue. */
export type Kernels = {
  [K in KernelName]: (typeof KERNELS)[K] extends KernelSpec<infer F> ? F : never;
};
