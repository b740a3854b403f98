// Which OpenBLAS core (kernel set) runs sgemm, chosen from the CPU's own features.
//
// OpenBLAS 0.3.21 (Debian 12, Ubuntu 22.04) detects the core with cpuid, but misreads leaf 7 (an
// uninitialised sub-leaf register: OpenMathLib/OpenBLAS#4267, fixed in 0.3.25) and does not know
// newer CPUs (Zen 5: #6029). It then falls back to Prescott (SSE3, 2004), 3-5x slower, and the
// outcome can depend on what ran before the library was loaded. OpenBLAS reads OPENBLAS_CORETYPE
// once, when the library initialises, i.e. when the addon is dlopened: so the choice is made here,
// from /proc/cpuinfo, and put into the environment just before the addon is loaded.
import { readFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

/** Why this kernel runs: tapegrad chose it from the CPU's features, the user set OPENBLAS_CORETYPE, or OpenBLAS chose alone. */
export type KernelChoice = 'detected' | 'set by the user' | 'fallback';

export interface KernelInfo {
  /** The OpenBLAS core that was loaded, as OpenBLAS names it (openblas_get_corename), e.g. 'Cooperlake'. */
  core: string;
  choice: KernelChoice;
  /** In words: the features that decided it, or why OpenBLAS chose alone. */
  detail: string;
  /** The table's core for this CPU, when OpenBLAS loaded a different one (then choice is 'fallback'). */
  wanted?: string;
}

/**
 * x86-64 CPU features (Linux /proc/cpuinfo flag names) -> OpenBLAS core, best first. The first row whose
 * features the CPU has all of wins: never a core using an instruction the CPU lacks, never a weaker one
 * than its features allow. 'pni' is SSE3; below it (the first x86-64 CPUs) OpenBLAS detects alone.
 * - AVX-512 with BF16 (Cooper Lake, Sapphire/Emerald Rapids, Zen 4/5) gets SkylakeX too: OpenBLAS's
 *   Cooperlake core is SkylakeX plus bf16 kernels (same sgemm), and 0.3.21 cannot be forced to it (its
 *   force_coretype searches the names up to SkylakeX only, prints "Core not found: Cooperlake" and
 *   falls back to the buggy detection).
 * - AMD CPUs take the same rows (Zen 4/5 run SkylakeX's kernels at full speed; Zen 1-3 Haswell's).
 */
const ROWS: [core: string, adds: string[]][] = [
  ['SkylakeX', ['avx512f', 'avx512bw', 'avx512dq', 'avx512vl', 'avx512cd']],
  ['Haswell', ['avx2', 'fma']],
  ['Sandybridge', ['avx']],
  ['Nehalem', ['sse4_1', 'sse4_2']],
  ['Core2', ['ssse3']],
  ['Prescott', ['pni']],
];
/** Each row needs its own features and those of every row below it. */
export const CORE_TABLE: readonly { core: string; adds: readonly string[]; needs: readonly string[] }[] = ROWS.map(([core, adds], i) => ({
  core, adds, needs: ROWS.slice(i).flatMap((r) => r[1]),
}));

/** The table's core for a set of CPU flags, with the flags that set it apart from the row below; null below SSE3. */
export function coreForFlags(flags: Iterable<string>): { core: string; features: readonly string[] } | null {
  const have = new Set(flags);
  const row = CORE_TABLE.find((r) => r.needs.every((f) => have.has(f)));
  return row ? { core: row.core, features: row.adds } : null;
}

/** The CPU's feature flags from /proc/cpuinfo, or null where there is none (macOS, Windows) or it has no flags line. */
export function cpuFlags(cpuinfo = '/proc/cpuinfo'): string[] | null {
  try {
    const line = /^flags\s*:(.*)$/m.exec(readFileSync(cpuinfo, 'utf8'));
    return line ? line[1].trim().split(/\s+/) : null;
  } catch {
    return null;
  }
}

/** What to put into OPENBLAS_CORETYPE before loading (null: leave it), and how to describe the outcome. */
export interface CorePlan {
  /** The core to set, or null when the user set one or OpenBLAS should detect alone. */
  set: string | null;
  choice: KernelChoice;
  detail: string;
}

export function planCore(env: NodeJS.ProcessEnv, arch: string, flags: readonly string[] | null): CorePlan {
  const user = env.OPENBLAS_CORETYPE;
  if (user) return { set: null, choice: 'set by the user', detail: `OPENBLAS_CORETYPE=${user}` };
  if (arch !== 'x64') {
    // arm64 OpenBLAS identifies the core by its part number (MIDR), which has no such bug.
    return { set: null, choice: 'fallback', detail: `OpenBLAS's own detection (no tapegrad table for ${arch})` };
  }
  if (!flags) return { set: null, choice: 'fallback', detail: "OpenBLAS's own detection (no /proc/cpuinfo flags to choose from)" };
  const pick = coreForFlags(flags);
  if (!pick) return { set: null, choice: 'fallback', detail: "OpenBLAS's own detection (the CPU has no SSE3)" };
  return { set: pick.core, choice: 'detected', detail: `CPU has ${pick.features.join(' ')}` };
}

/**
 * Runs `load` (the dlopen of the addon) with OPENBLAS_CORETYPE set to the table's choice for this CPU
 * unless the user set it, then restores the environment (child processes are not affected).
 * A worker thread's process.env is a copy that never reaches getenv() in C: if the addon is first
 * loaded in a worker, OpenBLAS detects alone, and `describe` reports it.
 */
export function withCoretype<T>(load: () => T): { value: T; plan: CorePlan } {
  const plan = planCore(process.env, process.arch, process.arch === 'x64' ? cpuFlags() : null);
  if (plan.set) process.env.OPENBLAS_CORETYPE = plan.set;
  try {
    return { value: load(), plan };
  } finally {
    if (plan.set) delete process.env.OPENBLAS_CORETYPE;
  }
}

/** Cores OpenBLAS may pick alone that use a table row's instruction set (Cooperlake: SkylakeX plus bf16). */
const SAME_LEVEL: Record<string, string> = { cooperlake: 'skylakex', sapphirerapids: 'skylakex', zen: 'haswell' };

/** Position in CORE_TABLE (0 is the best), Infinity for a core that is not in it. */
function level(core: string): number {
  const name = SAME_LEVEL[core.toLowerCase()] ?? core.toLowerCase();
  const i = CORE_TABLE.findIndex((r) => r.core.toLowerCase() === name);
  return i < 0 ? Infinity : i;
}

/** The kernel as loaded: `loaded` is the addon's info().openblasCore. */
export function describeKernel(plan: CorePlan, loaded: string, mainThread = isMainThread, env: NodeJS.ProcessEnv = process.env): KernelInfo {
  const user = plan.choice === 'set by the user' ? env.OPENBLAS_CORETYPE ?? '' : '';
  if (user && user.toLowerCase() !== loaded.toLowerCase()) {
    // e.g. OPENBLAS_CORETYPE=Cooperlake on 0.3.21: "Core not found", then its own (buggy) detection
    return { core: loaded, choice: plan.choice, detail: `${plan.detail}, which this OpenBLAS does not accept: it chose ${loaded || 'its core'} itself` };
  }
  if (!plan.set || loaded.toLowerCase() === plan.set.toLowerCase()) return { core: loaded, choice: plan.choice, detail: plan.detail };
  const why = mainThread
    ? 'OpenBLAS was already initialised in this process or lacks that core'
    : 'tapegrad was first loaded in a worker thread, whose process.env does not reach OpenBLAS';
  const alone = `OpenBLAS chose ${loaded || 'its core'} alone instead of ${plan.set} (${plan.detail}): ${why}`;
  if (level(loaded) <= level(plan.set)) return { core: loaded, choice: 'fallback', detail: `${alone}; it is as good` };
  const fix = mainThread ? '' : '; import tapegrad in the main thread first';
  return { core: loaded, choice: 'fallback', wanted: plan.set, detail: `${alone}${fix}, or set OPENBLAS_CORETYPE=${plan.set}` };
}
