// The native backend: the C++ addon (native/*.cc, OpenBLAS sgemm) behind the Backend interface.
// loadNative() never throws; when the addon is missing or broken it says why in one line and how
// to fix it, and tapegrad runs on the JS backend.
import { createRequire } from 'node:module';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Backend } from './backend.js';
import { DEFAULT_SMALL_WORK, KERNELS, KERNEL_NAMES, type Kernels, type SmallWork } from './catalogue.js';
import { jsBackend } from './js.js';
import { locateAddon } from './locate.js';
import { describeKernel, withCoretype, type KernelInfo } from './coretype.js';
import { sgemmSelfCheck } from './selfcheck.js';
import { withThreadTimeout } from './threadtimeout.js';

/**
 * The raw addon (native/addon.cc): the catalogue's kernels with the same arguments, Float32Array
 * only; every call validates its arguments and throws TypeError/RangeError (gemmAsync rejects).
 */
export type NativeAddon = Kernels & {
  /** OpenBLAS threads for the whole process (shared by all worker threads). */
  setNumThreads(n: number): void;
  getNumThreads(): number;
  info(): { openblasConfig: string; openblasCore: string; numThreads: number; cores: number };
};

/**
 * One wrapper per catalogue kernel: float64 arrays (gradcheck) and small work (see SmallWork) go to
 * the JS backend, the reference; everything else to the addon. Each wrapper is compiled from source
 * with the kernel's exact parameter list, so it is as fast as a hand-written one: no rest arguments,
 * no allocation, and call sites of its own (closures from one shared function would share V8's
 * type feedback and turn every call polymorphic).
 */
function wrapper(name: keyof Kernels, addon: NativeAddon, small: SmallWork): unknown {
  const spec = KERNELS[name];
  const params = spec.args.map((_, i) => `a${i}`).join(', ');
  const floats = spec.args.flatMap((kind, i) =>
    kind === 'f32' ? [`!(a${i} instanceof F32)`] : kind === 'f32|null' ? [`(a${i} !== null && !(a${i} instanceof F32))`] : []);
  const body = `return function ${name}(${params}) {
    if (${[...floats, `work(${params}) <= small.${spec.small}`].join(' || ')}) return js.${name}(${params});
    return addon.${name}(${params});
  };`;
  return new Function('F32', 'js', 'addon', 'small', 'work', body)(Float32Array, jsBackend, addon, small, spec.work);
}

/** Wraps the raw addon into a Backend. */
export function makeNativeBackend(addon: NativeAddon, small: SmallWork = DEFAULT_SMALL_WORK): Backend {
  const kernels = Object.fromEntries(KERNEL_NAMES.map((name) => [name, wrapper(name, addon, small)])) as Kernels;
  return {
    ...kernels,
    name: 'native',
    setNumThreads: (n) => addon.setNumThreads(n),
    getNumThreads: () => addon.getNumThreads(),
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
    const { value: { value: addon, plan }, detail: timeout } = withThreadTimeout(() => withCoretype(() => require(path) as NativeAddon));
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
      reason: `loaded ${where}, ${info.openblasConfig.split(' ').slice(0, 2).join(' ')} (${kernelWords(kernel)}), ${threads} OpenBLAS thread${threads === 1 ? '' : 's'}, ${timeout}`,
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
