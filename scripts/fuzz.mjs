#!/usr/bin/env node
// Fuzz the native addon's Node-API boundary.
//
//   node scripts/fuzz.mjs [--calls N] [--seed S] [--quiet]     (npm run fuzz -- --calls 100000)
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
// Set TAPEGRAD_SRC=1 (with --import ./scripts/ts-register.mjs) to fuzz through the TypeScript sources.
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
const addon = await nativeAddon();
const { KERNELS, OPTION_FIELDS, UNARY_OPS, BINARY_OPS, REDUCE_OPS } = await catalogue();
if (!addon) {
  console.log('fuzz: the native addon is not available; nothing to fuzz');
  console.log(`FUZZ-RESULT ${JSON.stringify({ calls: 0, rejected: 0, valid: 0, failures: [], skipped: true })}`);
  process.exit(0);
}
const A = addon;
const ENTRY = Object.keys(A).filter((k) => typeof A[k] === 'function');

function mulberry32(a) {
  return () => {
    a |= 0; a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const r = mulberry32(SEED);
const int = (lo, hi) => lo + Math.floor(r() * (hi - lo + 1)); // inclusive
const pick = (xs) => xs[Math.floor(r() * xs.length)];
const chance = (p) => r() < p;
const dimv = (max = 6) => (chance(0.1) ? 0 : int(1, max));
const prod = (s) => s.reduce((p, d) => p * d, 1);
const f32 = (n, lo = 0.1, hi = 2) => { const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r(); return a; };
const i32 = (n, max) => { const a = new Int32Array(n); for (let i = 0; i < n; i++) a[i] = int(0, Math.max(0, max - 1)); return a; };
const detached = (T = Float32Array, n = 8) => { const a = new T(n); structuredClone(a.buffer, { transfer: [a.buffer] }); return a; };
const onShared = (a) => { const s = new a.constructor(new SharedArrayBuffer(a.byteLength)); s.set(a); return s; };
const atOffset = (a) => { const k = int(1, 3); const big = new a.constructor(a.length + k + 2); big.set(a, k); return big.subarray(k, k + a.length); };
const isTA = (v) => ArrayBuffer.isView(v) && !(v instanceof DataView);

// ---- valid calls, one generator per entry point ------------------------------------------------------
// Each returns { args, need, outs, alias?, ... } where need[i] is the exact number of elements a typed-array
// argument must have (0: not checked), outs the indices of written arrays, alias what aliasing is refused.
// For a kernel, kinds (how each argument is validated) and min/max (the accepted argument counts) come
// from the catalogue (lib/backend/catalogue.ts); the other entry points give them here.
const UNARY = UNARY_OPS, BINARY = BINARY_OPS;

function randShape(rank = int(0, 4), max = 4) { return Array.from({ length: rank }, () => dimv(max)); }
function broadcastFrom(out) {
  const rank = int(0, out.length);
  return out.slice(out.length - rank).map((d) => (chance(0.3) ? 1 : d));
}

const gens = {
  gemm() {
    const tA = chance(0.5), tB = chance(0.5), m = dimv(9), n = dimv(9), k = dimv(9);
    const batched = chance(0.3), batch = batched ? int(1, 3) : 1;
    const a = f32(batch * m * k, -1, 1), b = f32(batch * k * n, -1, 1), c = f32(batch * m * n, -1, 1);
    const args = [tA, tB, m, n, k, r() * 2 - 1, a, b, r() * 2 - 1, c];
    if (batched) args.push(batch, m * k, k * n, m * n);
    const mn = m * n, touched = mn > 0 && batch > 0;
    const need = [0, 0, 0, 0, 0, 0, touched && m * k ? a.length : 0, touched && k * n ? b.length : 0, 0, touched ? c.length : 0];
    return { args, need, outs: [9], alias: touched ? [[9, 6, m * k > 0], [9, 7, k * n > 0]] : [], dims: [m, n, k] };
  },
  unary() {
    const op = pick(UNARY), L = int(0, 40), x = f32(L), out = f32(L);
    const args = [op, x, out];
    if (op === 'pow') args.push(int(-2, 3));
    if (op === 'clamp') { const lo = r(); args.push(lo, lo + r()); }
    if (op === 'affine') args.push(r() * 4 - 2, r() * 4 - 2);
    return { args, need: [0, 0, L], outs: [2], alias: [], inplace: [[2, 1]], dims: [L] };
  },
  binary() {
    const op = pick(BINARY), os = randShape(), as = broadcastFrom(os), bs = broadcastFrom(os);
    const a = f32(prod(as)), b = f32(prod(bs)), out = f32(prod(os));
    return {
      args: [op, a, as, b, bs, out, os], need: [0, a.length, 0, b.length, 0, out.length, 0], outs: [5], alias: [], dims: os,
    };
  },
  reduce() {
    const op = pick(REDUCE_OPS), outer = dimv(), n = int(1, 6), inner = dimv();
    const x = f32(outer * n * inner), out = f32(outer * inner);
    return { args: [op, x, outer, n, inner, out], need: [0, x.length, 0, 0, 0, out.length], outs: [5], alias: [], dims: [outer, n, inner] };
  },
  argmax() {
    const outer = dimv(), n = int(1, 6), inner = dimv();
    const x = f32(outer * n * inner), out = new Int32Array(outer * inner);
    return { args: [x, outer, n, inner, out], need: [x.length, 0, 0, 0, out.length], outs: [4], alias: [], dims: [outer, n, inner] };
  },
  sumTo() {
    const xs = randShape(), os = broadcastFrom(xs), x = f32(prod(xs)), out = f32(prod(os));
    return { args: [x, xs, out, os], need: [x.length, 0, out.length, 0], outs: [2], alias: [], dims: xs };
  },
  softmax() {
    const outer = dimv(), n = int(1, 6), inner = dimv(), x = f32(outer * n * inner, -3, 3), out = f32(x.length);
    return { args: [x, outer, n, inner, out, chance(0.5)], need: [x.length, 0, 0, 0, out.length, 0], outs: [4], alias: [], inplace: [[4, 0]], dims: [outer, n, inner] };
  },
  crossEntropy() {
    const rows = dimv(), classes = int(1, 7), logits = f32(rows * classes, -3, 3), labels = i32(rows, classes), probs = f32(rows * classes);
    return { args: [logits, labels, rows, classes, probs], need: [logits.length, rows, 0, 0, probs.length], outs: [4], alias: [], labels: [1, classes], dims: [rows, classes], returnsNumber: rows > 0 }; // mean over 0 rows is NaN, as in PyTorch
  },
  crossEntropyBackward() {
    const rows = dimv(), classes = int(1, 7), probs = f32(rows * classes, 0, 1), labels = i32(rows, classes), out = f32(rows * classes);
    return { args: [probs, labels, rows, classes, r(), out], need: [probs.length, rows, 0, 0, 0, out.length], outs: [5], alias: [], labels: [1, classes], dims: [rows, classes] };
  },
  indexSelect() {
    const outer = dimv(), n = int(1, 6), inner = dimv(), idx = i32(int(0, 6), n);
    const x = f32(outer * n * inner), out = f32(outer * idx.length * inner);
    return { args: [x, outer, n, inner, idx, out], need: [x.length, 0, 0, 0, 0, out.length], outs: [5], alias: out.length && x.length ? [[5, 0, true]] : [], labels: out.length ? [4, n] : null, dims: [outer, n, inner] };
  },
  indexAdd() {
    const outer = dimv(), n = int(1, 6), inner = dimv(), idx = i32(int(0, 6), n);
    const g = f32(outer * idx.length * inner), out = f32(outer * n * inner);
    return { args: [g, outer, n, inner, idx, out], need: [g.length, 0, 0, 0, 0, out.length], outs: [5], alias: [], labels: g.length ? [4, n] : null, dims: [outer, n, inner] };
  },
  permute() {
    const shape = randShape(int(0, 4)), perm = shape.map((_, i) => i);
    for (let i = perm.length - 1; i > 0; i--) { const j = int(0, i); [perm[i], perm[j]] = [perm[j], perm[i]]; }
    const x = f32(prod(shape)), out = f32(x.length);
    return { args: [x, shape, perm, out], need: [x.length, 0, 0, out.length], outs: [3], alias: x.length ? [[3, 0, true]] : [], dims: shape };
  },
  sgdStep() { // buf may be null when momentum = 0 or nothing is touched (param.length 0)
    const L = int(0, 30), momentum = chance(0.5) ? 0 : r();
    const o = { lr: r(), momentum, dampening: r() * 0.5, nesterov: momentum > 0 && chance(0.5), weightDecay: r() * 0.1 };
    const args = [f32(L), f32(L, -1, 1), momentum || chance(0.5) ? f32(L) : null, chance(0.5), o];
    return { args, need: [0, L, momentum ? L : 0, 0, 0], outs: [0], alias: [], inplace: [[1, 0]], dims: [L] };
  },
  adamStep() {
    const L = int(0, 30);
    const o = { lr: r() * 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: r() * 0.1, decoupled: chance(0.5) };
    const args = [f32(L), f32(L, -1, 1), f32(L, -0.1, 0.1), f32(L, 0, 0.1), int(1, 100), o];
    return { args, need: [0, L, L, L, 0, 0], outs: [0, 2, 3], alias: [], dims: [L] };
  },
  setNumThreads() {
    return { args: [int(1, 2)], kinds: ['threads'], need: [0], outs: [], min: 1, max: 1, alias: [], dims: [1] };
  },
  getNumThreads() { return { args: [], kinds: [], need: [], outs: [], min: 0, max: 0, alias: [], dims: [], returnsNumber: true }; },
  info() { return { args: [], kinds: [], need: [], outs: [], min: 0, max: 0, alias: [], dims: [] }; },
};
gens.gemmAsync = () => ({ ...gens.gemm(), async: true });
// A kernel's argument kinds and counts, from the catalogue ('unaryOp' etc. are all 'op'; '?' optional).
for (const [name, spec] of Object.entries(KERNELS)) {
  const kinds = spec.args.map((k) => k.replace(/\?$/, '').replace(/^\w+Op$/, 'op'));
  const min = spec.args.filter((k) => !k.endsWith('?')).length, gen = gens[name];
  if (!gen) throw new Error(`fuzz: no generator for the kernel '${name}'`);
  gens[name] = () => { const c = gen(); return { ...c, kinds: kinds.slice(0, c.args.length), min, max: kinds.length }; };
}
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
    if (args[i] === undefined && fn.startsWith('gemm') && i >= 10) expect = 'may'; // optional batch/strides
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
