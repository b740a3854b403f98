// How long an idle OpenBLAS worker thread spins before it sleeps. OpenBLAS's pthreads build reads
// OPENBLAS_THREAD_TIMEOUT once, when it initialises (the addon's dlopen): N, clamped to [4, 30], means
// 2^N CPU cycles (rdtsc ticks); unset, 2^28, about 0.1 s. A worker spinning that long after each
// threaded gemm takes one of two cores from the work that follows: the helper thread of runParts
// (native/pair.cc) and the main thread's kernels. tapegrad sets the minimum unless the user set it.

/** The value tapegrad sets: 2^4 cycles, the worker sleeps as soon as its part of a gemm is done. */
export const THREAD_TIMEOUT = 4;

/** What to put into OPENBLAS_THREAD_TIMEOUT before loading (null: the user set it), and in words. */
export function planThreadTimeout(env: NodeJS.ProcessEnv): { set: string | null; detail: string } {
  const user = env.OPENBLAS_THREAD_TIMEOUT;
  if (user) return { set: null, detail: `idle OpenBLAS threads: OPENBLAS_THREAD_TIMEOUT=${user}, set by the user` };
  return { set: String(THREAD_TIMEOUT), detail: `idle OpenBLAS threads sleep after 2^${THREAD_TIMEOUT} cycles (OPENBLAS_THREAD_TIMEOUT=${THREAD_TIMEOUT})` };
}

/** Runs `load` (the dlopen of the addon) with OPENBLAS_THREAD_TIMEOUT planned, then restores the environment. */
export function withThreadTimeout<T>(load: () => T): { value: T; detail: string } {
  const plan = planThreadTimeout(process.env);
  if (plan.set) process.env.OPENBLAS_THREAD_TIMEOUT = plan.set;
  try {
    return { value: load(), detail: plan.detail };
  } finally {
    if (plan.set) delete process.env.OPENBLAS_THREAD_TIMEOUT;
  }
}
