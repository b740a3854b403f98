import { performance } from 'node:perf_hooks';
// Shared by the JavaScript case runners (bench/cases/*.mjs). bench/torch_bench.py mirrors the same
// definitions in Python (PRNG, shapes, timing rule); keep the two in step.

/** The spec the orchestrator passes as `--spec=<json>`; defaults make a runner usable by hand. */
export function parseArgs(argv = process.argv.slice(2)) {
  const args = {};
  for (const a of argv) {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
    if (m) args[m[1]] = m[2] === undefined ? true : m[2];
  }
  const spec = args.spec ? JSON.parse(args.spec) : defaultSpec(Boolean(args.quick));
  return { args, spec };
}

/** gemm shapes of one MLP training step, y = x·Wᵀ + b with W [out, in] (PyTorch layout). */
export function mlpGemms(batch, sizes, prefix) {
  const out = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    const i = sizes[l], o = sizes[l + 1];
    out.push({ name: `${prefix}fwd${l + 1}`, m: batch, n: o, k: i, ta: false, tb: true }); // x·Wᵀ
    out.push({ name: `${prefix}dW${l + 1}`, m: o, n: i, k: batch, ta: true, tb: false }); // gᵀ·x
    // The first layer's input needs no gradient.
    if (l > 0) out.push({ name: `${prefix}dX${l + 1}`, m: batch, n: i, k: o, ta: false, tb: false }); // g·W
  }
  return out;
}

export const MLP = { batch: 128, sizes: [784, 512, 256, 10], lr: 0.01 };
export const LARGE = { batch: 512, sizes: [784, 2048, 2048, 10], lr: 0.01 };
export const XOR = { lr: 0.1 };
/** The serving case: the default MNIST model of `tapegrad train` (seed 0), 1 and 64 rows. */
export const INFER = { sizes: [784, 128, 10], activation: 'relu', seed: 0, rows: [1, 64] };
export const stepFlop = (cfg) => mlpGemms(cfg.batch, cfg.sizes, '').reduce((s, g) => s + 2 * g.m * g.n * g.k, 0);

export function defaultSpec(quick) {
  const squares = (quick ? [256, 512, 1024] : [256, 512, 1024, 2048])
    .map((n) => ({ name: `${n}²`, m: n, n, k: n, ta: false, tb: false }));
  const mlpShapes = mlpGemms(MLP.batch, MLP.sizes, 'mlp.');
  const cases = quick ? ['sgemm', 'mlp', 'xor', 'infer'] : ['sgemm', 'mlp', 'large', 'xor', 'infer'];
  return {
    quick,
    cases,
    // Every engine times these (the sgemm rows of the table).
    sgemm: { shapes: [...squares, ...mlpShapes] },
    // The direct-C roofline also times every gemm of a large step (for the large case's roofline).
    roofline: { shapes: [...squares, ...mlpShapes, ...(cases.includes('large') ? mlpGemms(LARGE.batch, LARGE.sizes, 'large.') : [])] },
    // maxCallTime: a gemm or training step whose first call takes longer is reported from that one call
    // (flagged in the table's note column): tfjs-cpu needs ~30 s for one 2048² sgemm or one large step.
    // maxStepTime is the same limit for mlp/large training steps.
    timing: quick
      ? { warmupTime: 0.05, minWarmup: 1, repeats: 3, minTime: 0.05, maxCaseTime: 1, maxCallTime: 0.25, maxStepTime: 2 }
      : { warmupTime: 0.3, minWarmup: 2, repeats: 7, minTime: 0.2, maxCaseTime: 15, maxCallTime: 8, maxStepTime: 8 },
    xor: quick ? { warmupTime: 0.2, repeats: 5, minTime: 0.05 } : { warmupTime: 0.5, repeats: 9, minTime: 0.2 },
    // calls timed per engine and row count, taken in `rounds` turns after `warmup` calls each
    infer: quick ? { calls: { 1: 1000, 64: 300 }, rounds: 5, warmup: 100 } : { calls: { 1: 5000, 64: 2000 }, rounds: 10, warmup: 300 },
  };
}

/**
 * Times fn() (one unit of work per call) and returns per-repeat rates (units per second).
 * Warm-up: at least minWarmup calls and warmupTime seconds. Then `repeats` timed repeats, each running
 * whole calls for at least minTime seconds. When one call is slow, the number of repeats shrinks so the
 * case stays within maxCaseTime, but never below 3 (a median of 3 still needs 3).
 * `sync` runs after each repeat inside the timed region (engines with lazy execution).
 * allowCap: a first call slower than t.maxCallTime is reported from that single call (flagged `capped`).
 */
export function measure(fn, t, sync = () => {}, allowCap = false) {
  const now = () => Number(process.hrtime.bigint()) / 1e9;
  let w0 = now(), calls = 0;
  while (calls < t.minWarmup || now() - w0 < t.warmupTime) {
    fn();
    calls++;
    const el = now() - w0;
    if (calls === 1 && allowCap && t.maxCallTime > 0 && el > t.maxCallTime) {
      sync();
      return { ...summarize([1 / el], 0), capped: `one call of ${el.toFixed(2)} s, no warm-up (> maxCallTime ${t.maxCallTime} s)` };
    }
    if (el > t.maxCaseTime / 4) break; // a slow call: one warm-up call is enough
  }
  sync();
  const perCall = (now() - w0) / calls;
  const repeats = Math.max(3, Math.min(t.repeats, Math.floor(t.maxCaseTime / Math.max(perCall, t.minTime))));
  const rates = [];
  for (let r = 0; r < repeats; r++) {
    let n = 0;
    const t0 = now();
    let el = 0;
    do {
      fn();
      n++;
      el = now() - t0;
    } while (el < t.minTime);
    sync();
    el = now() - t0;
    rates.push(n / el);
  }
  return summarize(rates, calls);
}

export function summarize(rates, warmupCalls) {
  const s = [...rates].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median, min: s[0], max: s[s.length - 1], repeats: s.length, warmupCalls };
}

/** mulberry32: the same stream in bench/torch_bench.py, so every engine trains on identical data. */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Inputs uniform in [-1, 1), labels uniform in 0..classes-1, from seed 1234. */
export function mlpData(batch, features, classes) {
  const r = mulberry32(1234);
  const x = new Float32Array(batch * features);
  for (let i = 0; i < x.length; i++) x[i] = 2 * r() - 1;
  const y = new Int32Array(batch);
  for (let i = 0; i < batch; i++) y[i] = Math.floor(r() * classes);
  return { x, y };
}

/** Deterministic matrix contents for sgemm (values in [-0.5, 0.5)). */
export function gemmData(len, seed) {
  const r = mulberry32(seed);
  const a = new Float32Array(len);
  for (let i = 0; i < len; i++) a[i] = r() - 0.5;
  return a;
}

export const XOR_X = new Float32Array([0, 0, 0, 1, 1, 0, 1, 1]);
export const XOR_Y = new Float32Array([0, 1, 1, 0]);

export function memInfo() {
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

export function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

/** Run each case through its handler, then record time, memory and CPU on `out` and emit it. */
export function runCases(out, cases, handlers) {
  const t0 = performance.now();
  for (const c of cases) {
    process.stderr.write(`  ${out.engine} t=${out.threads}: ${c}\n`);
    handlers[c]?.();
  }
  out.seconds = (performance.now() - t0) / 1000;
  out.mem = memInfo();
  const cpu = process.cpuUsage();
  out.cpuSeconds = (cpu.user + cpu.system) / 1e6;
  emit(out);
}
