import type { Backend, FloatArray } from './backend.js';
import { jsBackend } from './js.js';
import { loadNative, nativeKernel } from './native.js';
import type { KernelInfo } from './coretype.js';
import { describeValue } from '../shape.js';
import { withSetting } from '../scope.js';

export type { Backend, FloatArray } from './backend.js';
export type { KernelInfo, KernelChoice } from './coretype.js';
export type BackendName = 'js' | 'native';

let active: Backend = jsBackend;
let reason = 'not initialized';
let nativeTried = false;
let native: Backend | null = null;
let nativeError = '';
/** One line for stderr at the first kernel call, when tapegrad runs slower than it could without being asked to; '' when silent. */
let notice = '';

function tryNative(): Backend | null {
  if (!nativeTried) {
    nativeTried = true;
    const r = loadNative();
    native = r.backend;
    nativeError = r.reason;
  }
  return native;
}

/** Select the backend for all float32 work. 'native' throws if the addon cannot be loaded. */
export function setBackend(name: BackendName): void {
  if (name === 'js') {
    active = jsBackend;
    notice = '';
    reason = 'js backend selected with setBackend(\'js\')';
  } else if (name === 'native') {
    const b = tryNative();
    if (!b) throw new Error(`setBackend('native'): the native addon cannot be loaded: ${nativeError}`);
    active = b;
    reason = `native backend selected with setBackend('native') (${nativeError})`;
  } else {
    throw new Error(`setBackend: unknown backend '${String(name)}' (expected 'js' or 'native')`);
  }
}

export function getBackend(): BackendName {
  return active.name;
}

/** Which backend is active, and why, in words; for native, which OpenBLAS kernel runs and why (null for js). */
export function backendInfo(): { backend: BackendName; reason: string; threads: number; kernel: KernelInfo | null } {
  return { backend: active.name, reason, threads: active.getNumThreads(), kernel: active.name === 'native' ? nativeKernel() : null };
}

/** Runs fn with b as the active backend, e.g. the native one without its small-work shortcut (tests). */
export function withBackend<T>(b: Backend, fn: () => T): T {
  return withSetting(swapActive, b, fn);
}

function swapActive(b: Backend): Backend {
  const prev = active;
  active = b;
  return prev;
}

/**
 * Kernels for an array: float64 work (gradcheck) always runs on the JS backend, the reference.
 * Int32Array memory is refused: the op layer promotes int32 tensors before any kernel runs.
 */
export function kernels(a?: FloatArray): Backend {
  if (notice) {
    process.stderr.write(`tapegrad: ${notice}\n`);
    notice = '';
  }
  return a instanceof Float64Array ? jsBackend : a instanceof Int32Array ? notFloat() : active;
}

function notFloat(): never {
  throw new TypeError('kernels: int32 memory reached a float kernel (int32 tensors must be promoted first; convert with .float())');
}

/** Threads of the active backend's matrix multiply (OpenBLAS; the JS backend has one). Default: the cores available. */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new (typeof n === 'number' ? RangeError : TypeError)(`setNumThreads: expected a positive integer, got ${describeValue(n)}`);
  active.setNumThreads(n);
}

export function getNumThreads(): number {
  return active.getNumThreads();
}

export function nativeBackend(): Backend | null {
  return tryNative();
}

function init(): void {
  const forced = process.env.TAPEGRAD_BACKEND;
  if (forced === 'js' || forced === 'native') {
    setBackend(forced);
    reason = `${forced} backend forced by TAPEGRAD_BACKEND=${forced}` + (forced === 'native' ? ` (${nativeError})` : '');
    return;
  }
  if (forced !== undefined && forced !== '') {
    throw new Error(`TAPEGRAD_BACKEND must be 'js' or 'native', got '${forced}'`);
  }
  const b = tryNative();
  if (b) {
    active = b;
    reason = `native backend: ${nativeError}`;
  } else {
    active = jsBackend;
    reason = `js backend: the native addon is not available (${nativeError})`;
    notice = `using the JS backend (large matrix products are 10-20x slower; TAPEGRAD_BACKEND=js silences this): ${nativeError}`;
  }
}
init();
// OpenBLAS chose a core other than the one for this CPU's features (e.g. first loaded in a worker thread).
const kernel = active.name === 'native' ? nativeKernel() : null;
if (kernel?.wanted) notice = `OpenBLAS runs its ${kernel.core} kernel, not ${kernel.wanted}: ${kernel.detail}`;
