// The native backend: the C++ addon (native/*.cc, OpenBLAS sgemm) behind the Backend interface.
// loadNative() never throws; when the addon is missing or broken it says why in one line and how
// to fix it, and tapegrad runs on the JS backend.
import { createRequire } from 'node:module';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AdamOptions, Backend, BinaryOp, FloatArray, ReduceOp, SgdOptions, UnaryOp } from './backend.js';
import { jsBackend } from './js.js';
import { locateAddon } from './locate.js';
import { sizeOf } from '../shape.js';
import { describeKernel, withCoretype, type KernelInfo } from './coretype.js';
import { sgemmSelfCheck } from './selfcheck.js';

/** The raw addon (native/addon.cc). Float32 only; every call validates its arguments and throws TypeError/RangeError. */
export interface NativeAddon {
  gemm(
    transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
    a: Float32Array, b: Float32Array, beta: number, c: Float32Array,
    batch?: number, strideA?: number, strideB?: number, strideC?: number,
  ): void;
  /** Same as gemm on the libuv thread pool; a, b and c are kept alive until the promise settles. */
  gemmAsync(
    transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
    a: Float32Array, b: Float32Array, beta: number, c: Float32Array,
    batch?: number, strideA?: number, strideB?: number, strideC?: number,
  ): Promise<void>;
  unary(op: UnaryOp, x: Float32Array, out: Float32Array, p0?: number, p1?: number): void;
  binary(
    op: BinaryOp, a: Float32Array, aShape: readonly number[], b: Float32Array, bShape: readonly number[],
    out: Float32Array, outShape: readonly number[],
  ): void;
  reduce(op: ReduceOp, x: Float32Array, outer: number, n: number, inner: number, out: Float32Array): void;
  argmax(x: Float32Array, outer: number, n: number, inner: number, out: Int32Array): void;
  sumTo(x: Float32Array, xShape: readonly number[], out: Float32Array, outShape: readonly number[]): void;
  softmax(x: Float32Array, outer: number, n: number, inner: number, out: Float32Array, log: boolean): void;
  crossEntropy(logits: Float32Array, labels: Int32Array, rows: number, classes: number, probs: Float32Array): number;
  crossEntropyBackward(
    probs: Float32Array, labels: Int32Array, rows: number, classes: number, scale: number, out: Float32Array,
  ): void;
  indexSelect(x: Float32Array, outer: number, n: number, inner: number, idx: Int32Array, out: Float32Array): void;
  indexAdd(g: Float32Array, outer: number, n: number, inner: number, idx: Int32Array, out: Float32Array): void;
  permute(x: Float32Array, shape: readonly number[], perm: readonly number[], out: Float32Array): void;
  sgdStep(
    param: Float32Array, grad: Float32Array, buf: Float32Array | null, first: boolean,
    lr: number, momentum: number, dampening: number, nesterov: boolean, weightDecay: number,
  ): void;
  adamStep(
    param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, step: number,
    lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, decoupled: boolean,
  ): void;
  /** OpenBLAS threads for the whole process (shared by all worker threads). */
  setNumThreads(n: number): void;
  getNumThreads(): number;
  info(): { openblasConfig: string; openblasCore: string; numThreads: number; cores: number };
}

/**
 * Work below these sizes runs on the JS backend: a native call costs ~100-300 ns of argument
 * checking and crossing, which is more than a small loop in JS (measured below).
 */
export interface SmallWork {
  /** unary and the other one-pass kernels (reductions, softmax, losses, optimizer steps) with at most this many elements run in JS. */
  unary: number;
  /** binary with at most this many output elements runs in JS (reading three shape arrays costs ~0.5 µs). */
  binary: number;
  /** gemm with m*n*k (per matrix, times batch) at most this runs in JS. */
  gemm: number;
}
// Measured here (Node 20, 1 core): a native add of n floats costs ~640 ns up to n = 256 (JS: 200 ns at
// n = 16, 670 ns at n = 256); native relu ~160 ns (JS 100 ns at n = 64); a 4x4x4 gemm ~540 ns (JS 650 ns).
export const DEFAULT_SMALL_WORK: SmallWork = { unary: 64, binary: 256, gemm: 64 };
/** Every call goes to the addon (used by the conformance tests). */
export const NO_SMALL_WORK: SmallWork = { unary: -1, binary: -1, gemm: -1 };

const f32 = (x: unknown): x is Float32Array => x instanceof Float32Array;

/**
 * Wraps the raw addon into a Backend. Float64 data (gradcheck) is delegated to the JS backend,
 * the reference; so is tiny element-wise work and tiny gemm (see SmallWork).
 */
export function makeNativeBackend(addon: NativeAddon, small: SmallWork = DEFAULT_SMALL_WORK): Backend {
  return {
    name: 'native',
    gemm(transA, transB, m, n, k, alpha, a, b, beta, c, batch = 1, strideA = m * k, strideB = k * n, strideC = m * n) {
      if (!f32(a) || !f32(b) || !f32(c) || m * n * k * batch <= small.gemm) {
        return jsBackend.gemm(transA, transB, m, n, k, alpha, a, b, beta, c, batch, strideA, strideB, strideC);
      }
      addon.gemm(transA, transB, m, n, k, alpha, a, b, beta, c, batch, strideA, strideB, strideC);
    },
    unary(op, x, out, p0 = 0, p1 = 0) {
      if (!f32(x) || !f32(out) || x.length <= small.unary) return jsBackend.unary(op, x, out, p0, p1);
      addon.unary(op, x, out, p0, p1);
    },
    binary(op, a, aShape, b, bShape, out, outShape) {
      if (!f32(a) || !f32(b) || !f32(out) || out.length <= small.binary) {
        return jsBackend.binary(op, a, aShape, b, bShape, out, outShape);
      }
      addon.binary(op, a, aShape, b, bShape, out, outShape);
    },
    reduce(op, x, outer, n, inner, out) {
      if (!f32(x) || !f32(out) || x.length <= small.unary) return jsBackend.reduce(op, x, outer, n, inner, out);
      addon.reduce(op, x, outer, n, inner, out);
    },
    argmax(x, outer, n, inner, out) {
      if (!f32(x) || x.length <= small.unary) return jsBackend.argmax(x, outer, n, inner, out);
      addon.argmax(x, outer, n, inner, out);
    },
    sumTo(x, xShape, out, outShape) {
      if (!f32(x) || !f32(out) || sizeOf(xShape) <= small.unary) return jsBackend.sumTo(x, xShape, out, outShape);
      addon.sumTo(x, xShape, out, outShape);
    },
    softmax(x, outer, n, inner, out, log) {
      if (!f32(x) || !f32(out) || x.length <= small.unary) return jsBackend.softmax(x, outer, n, inner, out, log);
      addon.softmax(x, outer, n, inner, out, log);
    },
    crossEntropy(logits, labels, rows, classes, probs) {
      if (!f32(logits) || !f32(probs) || logits.length <= small.unary) return jsBackend.crossEntropy(logits, labels, rows, classes, probs);
      return addon.crossEntropy(logits, labels, rows, classes, probs);
    },
    crossEntropyBackward(probs, labels, rows, classes, scale, out) {
      if (!f32(probs) || !f32(out) || probs.length <= small.unary) return jsBackend.crossEntropyBackward(probs, labels, rows, classes, scale, out);
      addon.crossEntropyBackward(probs, labels, rows, classes, scale, out);
    },
    indexSelect(x, outer, n, inner, idx, out) {
      if (!f32(x) || !f32(out) || out.length <= small.unary) return jsBackend.indexSelect(x, outer, n, inner, idx, out);
      addon.indexSelect(x, outer, n, inner, idx, out);
    },
    indexAdd(g, outer, n, inner, idx, out) {
      if (!f32(g) || !f32(out) || g.length <= small.unary) return jsBackend.indexAdd(g, outer, n, inner, idx, out);
      addon.indexAdd(g, outer, n, inner, idx, out);
    },
    permute(x, shape, perm, out) {
      if (!f32(x) || !f32(out) || x.length <= small.unary) return jsBackend.permute(x, shape, perm, out);
      addon.permute(x, shape, perm, out);
    },
    sgdStep(param: FloatArray, grad: FloatArray, buf: FloatArray | null, first: boolean, o: SgdOptions) {
      if (!f32(param) || !f32(grad) || (buf !== null && !f32(buf)) || param.length <= small.unary) return jsBackend.sgdStep(param, grad, buf, first, o);
      addon.sgdStep(param, grad, buf, first, o.lr, o.momentum, o.dampening, o.nesterov, o.weightDecay);
    },
    adamStep(param: FloatArray, grad: FloatArray, m: FloatArray, v: FloatArray, step: number, o: AdamOptions) {
      if (!f32(param) || !f32(grad) || !f32(m) || !f32(v) || param.length <= small.unary) return jsBackend.adamStep(param, grad, m, v, step, o);
      addon.adamStep(param, grad, m, v, step, o.lr, o.beta1, o.beta2, o.eps, o.weightDecay, o.decoupled);
    },
    setNumThreads(n) {
      addon.setNumThreads(n);
    },
    getNumThreads() {
      return addon.getNumThreads();
    },
  };
}

/** The package root: lib/backend (source, via vitest) and dist/backend (compiled) are both two levels down. */
export function packageRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

const FIX = 'install libopenblas-dev (apt-get install libopenblas-dev) and run `npm rebuild tapegrad`';

let cached: { addon: NativeAddon | null; reason: string; path: string; kernel: KernelInfo | null } | undefined;

function oneLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.replace(/\s+/g, ' ').trim();
}

/** The self-check found a wrong sgemm result: its message is the whole reason. */
class SelfCheckError extends Error {}

function explain(e: unknown): string {
  const msg = oneLine(e);
  if (e instanceof SelfCheckError) return msg;
  if (/libopenblas|libgfortran/.test(msg)) {
    return `the addon was built against the shared OpenBLAS, which is missing (${msg}): ${FIX}`;
  }
  if (/GLIBC_|GLIBCXX_/.test(msg)) {
    return `the prebuilt addon needs a newer C library (${msg}): ${FIX} to build from source`;
  }
  return `the addon failed to load (${msg}): ${FIX}`;
}

/** "SkylakeX kernel, detected: CPU has avx512f ..." for the reason line. */
function kernelWords(k: KernelInfo): string {
  return `${k.core || 'unknown'} kernel, ${k.choice}: ${k.detail}`;
}

function loadAddon(): { addon: NativeAddon | null; reason: string; path: string; kernel: KernelInfo | null } {
  if (cached) return cached;
  const root = packageRoot();
  let path = '';
  try {
    const found = locateAddon(root);
    if (found.path === null) {
      cached = { addon: null, path, reason: `${found.reason}: ${FIX}`, kernel: null };
      return cached;
    }
    path = found.path;
    const require = createRequire(import.meta.url);
    const { value: addon, plan } = withCoretype(() => require(path) as NativeAddon);
    const info = addon.info();
    const kernel = describeKernel(plan, info.openblasCore);
    const wrong = sgemmSelfCheck((...args) => addon.gemm(...args));
    if (wrong) {
      throw new SelfCheckError(`the addon's self-check failed: ${wrong} with OpenBLAS's ${kernelWords(kernel)}; `
        + `set OPENBLAS_CORETYPE to an older core (e.g. Haswell or Sandybridge) to use the native backend`);
    }
    const where = found.from === 'platform package' ? `${found.from} ${path}` : `${found.from} ${relative(root, path)}`;
    const threads = addon.getNumThreads();
    cached = {
      addon,
      path,
      kernel,
      reason: `loaded ${where}, ${info.openblasConfig.split(' ').slice(0, 2).join(' ')} (${kernelWords(kernel)}), ${threads} OpenBLAS thread${threads === 1 ? '' : 's'}`,
    };
  } catch (e) {
    cached = { addon: null, path, reason: explain(e), kernel: null };
  }
  return cached;
}

/** Loads the native addon. Never throws: on failure `backend` is null and `reason` says why and how to fix it. */
export function loadNative(): { backend: Backend | null; reason: string } {
  const { addon, reason } = loadAddon();
  return { backend: addon ? makeNativeBackend(addon) : null, reason };
}

/** The raw addon (gemmAsync, info, tests, benchmarks), or null when it cannot be loaded. */
export function nativeAddon(): NativeAddon | null {
  return loadAddon().addon;
}

/** The OpenBLAS kernel the addon runs and why it was chosen, or null when the addon is not loaded. */
export function nativeKernel(): KernelInfo | null {
  return loadAddon().kernel;
}

/** Where the addon was loaded from (absolute path), or '' when it was not. */
export function nativeAddonPath(): string {
  return loadAddon().path;
}
