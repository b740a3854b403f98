#!/usr/bin/env node
// Fuzz the native addon's Node-API boundary.
//
//   node tools/fuzz.mjs [--calls N] [--seed S] [--quiet]     (npm run fuzz -- --calls 100000)
//
// The parent process runs the fuzzer in a child process (so a crash shows up as a signal or an exit
// code, not as a dead fuzzer) and exits non-zero unless the child exited 0 with a clean report.
// The child drives N random calls into EVERY enumerable entry point of the addon (gemmAsync too):
// each call starts from a valid argument list for that kernel (random sizes, exact buffer lengths,
// finite inputs) and is then, most of the time, broken in one way: a wrong type, a short / long /
// SharedArrayBuffer-backed / detached / offset buffer, a zero / negative / huge / NaN / fractional /
// infinite dim, a malformed shape, out aliasing an input, a wrong argument count, an unknown op, an
// out-of-range label or index, or a wholly random argument list. Requirements:
//   - no crash (the child survives all N calls),
//   - every bad call is rejected with a TypeError or RangeError whose message starts with "<kernel>: "
//     (gemmAsync: the promise rejects, it never throws synchronously),
//   - every valid call succeeds, and its outputs are finite when its inputs are finite,
//   - a SharedArrayBuffer-backed call gives the same result as the same call on ordinary buffers.
// Known non-crashing deviations (a bad call accepted in a harmless way) are listed as notes, not failures.
// FUZZ_TRACE=1 prints every call to stderr before making it (to find the call that crashed).
// Set TAPEGRAD_SRC=1 (with --import ./tools/ts-register.mjs) to fuzz through the TypeScript sources.
import { spawnSync } from 'node:child_process';
import { writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const CALLS = Number(opt('calls', 100_000));
const SEED = Number(opt('seed', 1));
const QUIET = argv.includes('--quiet');

if (!argv.includes('--child')) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [...process.execArgv, '--expose-gc', fileURLToPath(import.meta.url), '--child', ...argv], {
    stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 64 << 20, env: process.env,
  });
  const out = r.stdout ?? '';
  const line = out.split('\n').reverse().find((l) => l.startsWith('FUZZ-RESULT '));
  const report = line ? JSON.parse(line.slice('FUZZ-RESULT '.length)) : null;
  if (!QUIET) process.stdout.write(out.split('\n').filter((l) => !l.startsWith('FUZZ-RESULT ')).join('\n'));
  const crashed = r.signal !== null || (r.status !== 0 && r.status !== 1) || !report;
  const summary = {
    ...(report ?? {}), exitCode: r.status, signal: r.signal, crashed, seconds: (Date.now() - t0) / 1000,
  };
  console.log(`FUZZ-SUMMARY ${JSON.stringify(summary)}`);
  const ok = !crashed && r.status === 0 && report && report.failures.length === 0;
  console.log(ok
    ? `fuzz: OK: ${report.calls} calls (${report.rejected} rejected as expected, ${report.valid} valid), 0 crashes, seed ${SEED}`
    : `fuzz: FAILED (exit ${r.status}, signal ${r.signal}${report ? `, ${report.failures.length} failures` : ', no report: the child died'})`);
  process.exit(ok ? 0 : 1);
}

// ---------------------------------------------------------------------------------------------------
// child
const { nativeAddon, catalogue } = await import('./tapegrad.mjs');
const { kernelCases, mulberry32, randomTools } = await import('./kernel-cases.mjs');
const addon = await nativeAddon();
const cat = await catalogue();
const { OPTION_FIELDS } = cat;
if (!addon) {
  console.log('fuzz: the native addon is not available; nothing to fuzz');
  console.log(`FUZZ-RESULT ${JSON.stringify({ calls: 0, rejected: 0, valid: 0, failures: [], skipped: true })}`);
  process.exit(0);
}
const A = addon;
const ENTRY = Object.keys(A).filter((k) => typeof A[k] === 'function');

const r = mulberry32(SEED);
const { int, pick, chance, f32, i32, randShape } = randomTools(r);
const detached = (T = Float32Array, n = 8) => { const a = new T(n); structuredClone(a.buffer, { transfer: [a.buffer] }); return a; };
const onShared = (a) => { const s = new a.constructor(new SharedArrayBuffer(a.byteLength)); s.set(a); return s; };
const atOffset = (a) => { const k = int(1, 3); const big = new a.constructor(a.length + k + 2); big.set(a, k); return big.subarray(k, k + a.length); };
const isTA = (v) => ArrayBuffer.isView(v) && !(v instanceof DataView);

// ---- valid calls: the kernels' from kernel-cases.mjs, plus the other entry points -------------------
const gens = {
  ...kernelCases(r, cat),
  setNumThreads() {
    return { args: [int(1, 2)], kinds: ['threads'], need: [0], outs: [], min: 1, max: 1, alias: [], dims: [1] };
  },
  getNumThreads() { return { args: [], kinds: [], need: [], outs: [], min: 0, max: 0, alias: [], dims: [], returnsNumber: true }; },
  info() { return { args: [], kinds: [], need: [], outs: [], min: 0, max: 0, alias: [], dims: [] }; },
};
// Entry points the fuzzer has no generator for are still fuzzed with random argument lists.
const unknownEntries = ENTRY.filter((k) => !gens[k]);

// ---- bad values by kind ------------------------------------------------------------------------------
const notBool = () => pick([0, 1, 'true', null, undefined, {}, [], 1n, Symbol('s')]);
const notNumber = () => pick(['2', null, undefined, true, {}, [1], 1n, new Float32Array(1), () => 1]);
const badDim = () => pick([-1, -0.5, 1.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 53, 1e300]);
const notF32 = () => pick([
  () => new Float64Array(8), () => new Int32Array(8), () => new Uint8Array(32), () => [1, 2, 3], () => new ArrayBuffer(32),
  () => new DataView(new ArrayBuffer(32)), () => null, () => undefined, () => 3, () => 'x', () => ({ length: 8 }), () => new Float32Array(8).buffer,
  () => detached(), () => Buffer.alloc(32), () => new BigInt64Array(4), () => new Uint32Array(8),
])();
const notI32 = () => pick([() => new Float32Array(8), () => new Uint32Array(8), () => new Int16Array(8), () => [0, 1], () => null, () => detached(Int32Array), () => 5, () => new Float64Array(2)])();
const notShape = () => pick([() => 6, () => '6', () => null, () => undefined, () => new Int32Array([2, 3]), () => ({ 0: 2, length: 1 }), () => [-1], () => [NaN], () => [1.5], () => ['2'], () => [null], () => [2 ** 31], () => [65536, 65536], () => new Array(65).fill(1), () => [Infinity]])();
const notOptions = () => pick([null, undefined, 3, 'o', true, 1n]);
const badField = (kind) => (kind === 'bool' ? notBool() : chance(0.5) ? notNumber() : pick([NaN, Infinity, -Infinity]));
const notOp = () => pick([3, null, undefined, 'cube', '', 'a'.repeat(100), {}, 'SUM', 'add\0']);
const rejects = (kind, v) => {
  // The bad values above are always rejected for these kinds (a few only in some positions).
  if (kind === 'f32|null') return v !== null && v !== undefined;
  return true;
};

// ---- running and checking ----------------------------------------------------------------------------
const failures = [];
const stats = { calls: 0, rejected: 0, valid: 0, acceptedMaybe: 0, byEntry: {}, byMutation: {} };
const known = new Set();
function fail(what, fn, mutation, detail) {
  if (failures.length < 50) failures.push({ fn, mutation, what, detail: String(detail).slice(0, 300) });
}
function describeArgs(args) {
  return args.map((a) => (isTA(a) ? `${a.constructor.name}(${a.length}${a.buffer instanceof SharedArrayBuffer ? ',shared' : ''})` : typeof a === 'bigint' ? `${a}n` : typeof a === 'symbol' ? 'symbol' : typeof a === 'function' ? 'fn' : JSON.stringify(a)?.slice(0, 40))).join(', ');
}

const TRACE = process.env.FUZZ_TRACE === '1';
async function invoke(fn, args, isAsync) {
  if (TRACE) writeSync(2, `${fn}(${describeArgs(args)})\n`);
  if (!isAsync) {
    try { return { ok: true, value: A[fn](...args) }; } catch (e) { return { ok: false, error: e }; }
  }
  let p;
  try { p = A[fn](...args); } catch (e) { return { ok: false, error: e, sync: true }; }
  if (!(p instanceof Promise)) return { ok: false, error: new Error(`${fn} did not return a Promise`), sync: true };
  try { return { ok: true, value: await p }; } catch (e) { return { ok: false, error: e }; }
}

function checkRejection(fn, mutation, res, args) {
  const e = res.error;
  if (res.sync && fn === 'gemmAsync') return fail('threw synchronously instead of rejecting', fn, mutation, e?.message);
  if (!(e instanceof TypeError || e instanceof RangeError)) return fail(`rejected with ${e?.constructor?.name ?? typeof e}, not TypeError/RangeError`, fn, mutation, `${e?.message} | args: ${describeArgs(args)}`);
  if (!e.message.startsWith(`${fn}: `)) return fail('error message does not name the kernel', fn, mutation, `${e.message} | args: ${describeArgs(args)}`);
  stats.rejected++;
}

function finiteOutputs(call, args, fn, mutation, value) {
  if (call.noFinite) return;
  for (const i of call.outs) {
    const o = args[i];
    if (!isTA(o)) continue;
    for (let j = 0; j < o.length; j++) {
      if (!Number.isFinite(o[j])) return fail(`valid call wrote a non-finite value (${o[j]}) at ${j} of argument ${i}`, fn, mutation, describeArgs(args));
    }
  }
  if (call.returnsNumber && !Number.isFinite(value)) fail(`valid call returned ${value}`, fn, mutation, describeArgs(args));
}

const cloneArgs = (args) => args.map((a) => (isTA(a) ? a.slice() : Array.isArray(a) ? a.slice() : a));

// One call: mutate a valid call (or not), run it, check the outcome.
async function one(fn) {
  const call = gens[fn]();
  const args = call.args;
  const isAsync = !!call.async;
  let expect = 'accept'; // 'accept' | 'reject' | 'may'
  let mutation = 'valid';
  const taIdx = args.map((a, i) => (isTA(a) ? i : -1)).filter((i) => i >= 0);
  const anyZero = call.dims.some((d) => d === 0);
  const m = r();
  let shared = false;

  if (m < 0.2) {
    // valid, sometimes with buffers at a byteOffset into a larger one
    if (chance(0.3)) { mutation = 'valid-offset'; for (const i of taIdx) args[i] = atOffset(args[i]); }
  } else if (m < 0.3) {
    mutation = 'shared'; shared = true;
  } else if (m < 0.45 && call.kinds.length) {
    const i = int(0, call.kinds.length - 1), kind = call.kinds[i];
    mutation = `wrong-type:${kind}`;
    switch (kind) {
      case 'bool': args[i] = notBool(); break;
      case 'dim': args[i] = chance(0.5) ? notNumber() : badDim(); break;
      case 'threads': args[i] = pick([0, -1, 1025, 1.5, NaN, '2', null, 2 ** 31]); break;
      case 'num': args[i] = notNumber(); break;
      case 'f32': case 'f32|null': args[i] = notF32(); break;
      case 'sgd': case 'adam':
        if (chance(0.3)) args[i] = notOptions();
        else { const [f, k] = pick(Object.entries(OPTION_FIELDS[kind])); args[i] = { ...args[i], [f]: badField(k) }; }
        break;
      case 'i32': args[i] = notI32(); break;
      case 'shape': args[i] = notShape(); break;
      case 'op': args[i] = notOp(); break;
    }
    expect = rejects(kind, args[i]) ? 'reject' : 'may';
    if (args[i] === undefined && i >= call.min) expect = 'may'; // an optional argument (gemm's batch/strides, sgdStep's rows)
  } else if (m < 0.55 && taIdx.length) {
    const i = pick(taIdx), a = args[i];
    if (chance(0.5)) {
      mutation = 'short-buffer';
      if (a.length === 0) { mutation = 'valid'; } else {
        args[i] = a.subarray(0, int(0, a.length - 1));
        expect = call.need[i] > 0 ? 'reject' : 'may';
      }
    } else {
      mutation = 'long-buffer';
      const b = new a.constructor(a.length + int(1, 9)); b.set(a); args[i] = b;
      expect = call.need[i] > 0 ? 'accept' : 'may'; // a longer x/param/idx defines a longer output
    }
  } else if (m < 0.6 && taIdx.length) {
    mutation = 'detached';
    const i = pick(taIdx);
    args[i] = detached(args[i].constructor, int(0, 8));
    expect = 'reject';
  } else if (m < 0.7 && call.kinds.includes('dim')) {
    const dimIdx = call.kinds.map((k, i) => (k === 'dim' ? i : -1)).filter((i) => i >= 0);
    const i = pick(dimIdx);
    const v = pick([0, -1, -(2 ** 31), 2 ** 31 - 1, 2 ** 31, 2 ** 32 + 1, 2 ** 62, NaN, 0.5, 2.5, -0, Infinity, args[i] + 1, args[i] * 1000 + 7]);
    mutation = `dim=${Object.is(v, -0) ? '-0' : v}`;
    args[i] = v;
    const invalid = !(v >= 0) || !Number.isInteger(v) || v > 2 ** 31 - 1;
    // 2^31-1 in a size position needs a buffer far longer than any generated one (unless another dim is 0);
    // as a gemm batch/stride, or adam's step, it can be valid.
    const huge = v === 2 ** 31 - 1 && !anyZero && fn !== 'adamStep' && !(fn.startsWith('gemm') && i >= 10);
    expect = invalid || huge ? 'reject' : 'may';
  } else if (m < 0.75 && (call.alias.length || call.inplace)) {
    const refuse = call.alias.length && chance(0.7);
    if (refuse) {
      const [o, inp, nonEmpty] = pick(call.alias);
      mutation = 'alias-refused';
      const src = args[inp];
      if (chance(0.5) || src.length < 2) args[o] = args[o].length <= src.length ? src.subarray(0, args[o].length) : src;
      else args[o] = src.subarray(1);
      expect = nonEmpty ? 'reject' : 'may'; // too short, or overlapping
    } else if (call.inplace) {
      const [o, inp] = pick(call.inplace);
      mutation = 'alias-inplace';
      args[o] = args[inp];
      expect = 'accept';
    } else { mutation = 'valid'; }
  } else if (m < 0.8 && call.kinds.includes('shape')) {
    const sIdx = call.kinds.map((k, i) => (k === 'shape' ? i : -1)).filter((i) => i >= 0);
    const i = pick(sIdx);
    mutation = 'bad-shape';
    args[i] = notShape();
    expect = 'reject';
  } else if (m < 0.85) {
    mutation = 'arg-count';
    if (chance(0.5) && call.min > 0) args.length = int(0, call.min - 1);
    else { const extra = int(call.max - args.length + 1, call.max - args.length + 4); for (let j = 0; j < extra; j++) args.push(pick([0, 1, null, 'x', new Float32Array(2)])); }
    expect = 'reject';
  } else if (m < 0.9 && call.labels) {
    const [i, max] = call.labels;
    const L = args[i];
    if (L.length === 0 || (fn.startsWith('cross') && args[2] === 0)) { mutation = 'valid'; } else {
      mutation = 'label-out-of-range';
      const j = fn.startsWith('cross') ? int(0, args[2] - 1) : int(0, L.length - 1);
      L[j] = pick([max, max + 1, -1, -(2 ** 31), 2 ** 31 - 1]);
      expect = 'reject';
    }
  } else if (m < 0.93 && (call.kinds[0] === 'op')) {
    mutation = 'unknown-op';
    args[0] = pick(['cube', 'mean', 'Exp', 'add ', '', 'sigmoidgrad', 'x'.repeat(31), 'x'.repeat(32), 'é']);
    expect = 'reject';
  } else {
    mutation = 'random-args';
    const pool = () => pick([
      () => f32(int(0, 40)), () => i32(int(0, 8), 12).map((v) => v - 2), () => new Float64Array(4), () => int(-2, 10), () => r() * 5,
      () => NaN, () => 2 ** 40, () => true, () => false, () => null, () => undefined, () => pick(['sum', 'add', 'exp', 'pow']),
      () => randShape(), () => [1, 0], () => ({}), () => detached(), () => onShared(f32(int(0, 12))),
    ])();
    args.length = 0;
    for (let j = int(0, 14); j > 0; j--) args.push(pool());
    expect = 'may';
  }

  stats.byMutation[mutation] = (stats.byMutation[mutation] ?? 0) + 1;
  stats.byEntry[fn] = (stats.byEntry[fn] ?? 0) + 1;
  stats.calls++;

  if (fn === 'setNumThreads' && typeof args[0] === 'number' && args[0] > 8 && args[0] <= 1024 && Number.isInteger(args[0])) args[0] = 2; // do not spawn hundreds of BLAS threads

  let ref = null;
  if (shared) {
    ref = cloneArgs(args);
    const rr = await invoke(fn, ref, isAsync);
    if (!rr.ok) return fail('valid call rejected', fn, 'shared-reference', `${rr.error?.message} | ${describeArgs(ref)}`);
    for (const i of taIdx) args[i] = onShared(args[i]);
  }
  const inputsFinite = args.every((a) => !isTA(a) || a instanceof Int32Array || Array.prototype.every.call(a, Number.isFinite));
  const res = await invoke(fn, args, isAsync);
  if (!res.ok) {
    if (expect === 'accept') return fail('valid call rejected', fn, mutation, `${res.error?.message} | ${describeArgs(args)}`);
    return checkRejection(fn, mutation, res, args);
  }
  if (expect === 'reject') return fail('bad call accepted', fn, mutation, describeArgs(args));
  if (expect === 'may') { stats.acceptedMaybe++; return; }
  stats.valid++;
  if (inputsFinite) finiteOutputs(call, args, fn, mutation, res.value);
  if (shared) {
    for (const i of call.outs) {
      const x = args[i], y = ref[i];
      for (let j = 0; j < x.length; j++) {
        if (!Object.is(x[j], y[j])) return fail(`SharedArrayBuffer result differs at ${j} of argument ${i}: ${x[j]} vs ${y[j]}`, fn, mutation, describeArgs(args));
      }
    }
    if (call.returnsNumber && !Object.is(res.value, (await invoke(fn, cloneArgs(ref), isAsync)).value)) fail('SharedArrayBuffer return value differs', fn, mutation, '');
  }
}

// gemmAsync whose buffer is transferred (detached) while the work is pending, the transferee dropped
// and collected: the kernel must neither crash nor write into memory that now belongs to someone else.
async function asyncTransfer() {
  stats.byMutation['async-transfer'] = (stats.byMutation['async-transfer'] ?? 0) + 1;
  stats.byEntry.gemmAsync = (stats.byEntry.gemmAsync ?? 0) + 1;
  stats.calls++;
  const n = int(800, 1400); // large enough that the freed buffer is unmapped before the kernel writes it
  const a = f32(n * n, -1, 1), b = f32(n * n, -1, 1), c = new Float32Array(n * n);
  const p = A.gemmAsync(false, false, n, n, n, 1, a, b, 0, c);
  structuredClone(c.buffer, { transfer: [c.buffer] });
  if (typeof global.gc === 'function') global.gc();
  const fresh = Array.from({ length: 4 }, () => new Float32Array(n * n));
  try { await p; stats.acceptedMaybe++; } catch (e) { checkRejection('gemmAsync', 'async-transfer', { error: e }, []); }
  if (fresh.some((f) => f.some((v) => v !== 0))) fail('use after free: gemmAsync wrote into a new allocation after its output buffer was transferred and collected', 'gemmAsync', 'async-transfer', `n=${n}`);
}

const t0 = Date.now();
for (let t = 0; t < CALLS; t++) {
  const fn = unknownEntries.length && chance(0.02) ? pick(unknownEntries) : pick(ENTRY);
  if (!gens[fn]) {
    const args = Array.from({ length: int(0, 12) }, () => pick([f32(4), 1, null, 'x', [1]]));
    stats.calls++;
    const res = await invoke(fn, args, false);
    if (!res.ok) checkRejection(fn, 'random-args', res, args);
    continue;
  }
  if (fn === 'gemmAsync' && chance(0.05)) await asyncTransfer();
  else await one(fn);
  if (t % 5000 === 4999 && typeof global.gc === 'function') global.gc();
  if (!QUIET && t % 20000 === 19999) console.log(`fuzz: ${t + 1} calls, ${failures.length} failures, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
A.setNumThreads(2);

const report = {
  seed: SEED, entryPoints: ENTRY, calls: stats.calls, rejected: stats.rejected, valid: stats.valid, acceptedMaybe: stats.acceptedMaybe,
  byEntry: stats.byEntry, byMutation: stats.byMutation, failures, knownDeviations: [...known], ms: Date.now() - t0,
  rssMB: Math.round(process.memoryUsage().rss / 2 ** 20),
};
if (!QUIET) {
  console.log(`fuzz: entry points: ${ENTRY.join(', ')}`);
  for (const f of failures.slice(0, 20)) console.log(`FAIL ${f.fn} [${f.mutation}]: ${f.what}: ${f.detail}`);
  for (const k of known) console.log(`note: ${k}`);
}
console.log(`FUZZ-RESULT ${JSON.stringify(report)}`);
process.exit(failures.length ? 1 : 0);
