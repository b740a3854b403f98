// gemmPair (two independent gemms at once, native/pair.cc) and the linear/matmul VJPs that use it
// with 2+ threads. The paired products must be bitwise those of two single-threaded gemm calls, every
// time: a race (a shared packing buffer, a lost wake-up) shows up as a wrong bit or a hang, so the
// native cases repeat thousands of pairs. Teardown cases run in child processes.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../lib/backend/backend.js';
import { getBackend, getNumThreads, kernels, setNumThreads, withBackend } from '../lib/backend/index.js';
import { jsBackend } from '../lib/backend/js.js';
import { nativeAddon, nativeAddonPath } from '../lib/backend/native.js';
import * as tg from '../lib/index.js';

const addon = nativeAddon();
const native = getBackend() === 'native' && addon !== null;

function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296) * 2 - 1;
  return a;
}
const same = (a: Float32Array, b: Float32Array): boolean => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

function withThreads<T>(n: number, fn: () => T): T {
  const before = getNumThreads();
  setNumThreads(n);
  try { return fn(); } finally { setNumThreads(before); }
}

// A layer's backward: dX = g·W [rows, inF] and dW = gᵀ·x [outF, inF], as gemmPair arguments.
function layerPair(rows: number, inF: number, outF: number, seed: number, beta = 0) {
  const g = rand(rows * outF, seed), w = rand(outF * inF, seed + 1), x = rand(rows * inF, seed + 2);
  const dx = new Float32Array(rows * inF).fill(NaN), dw = rand(outF * inF, seed + 3);
  const args = (cx: Float32Array, cw: Float32Array) => [false, false, rows, inF, outF, 1, g, w, 0, cx,
    true, false, outF, inF, rows, 1, g, x, beta, cw] as const;
  return { dx, dw, args };
}

type PairArgs = Parameters<Backend['gemmPair']>;
type GemmArgs = Parameters<Backend['gemm']>;
function sequential(k: Backend, ...a: PairArgs): void {
  k.gemm(...(a.slice(0, 10) as GemmArgs));
  k.gemm(...(a.slice(10) as GemmArgs));
}

describe('gemmPair equals two gemm calls', () => {
  it('on the active backend, bitwise, with beta = 0 and 1 and transposes on either side', () => {
    const k = kernels();
    for (const [rows, inF, outF, beta] of [[128, 256, 10, 0], [64, 96, 48, 1], [5, 7, 3, 1], [33, 65, 17, 0]]) {
      const { dx, dw, args } = layerPair(rows, inF, outF, rows + inF, beta);
      const px = dx.slice(), pw = dw.slice(), sx = dx.slice(), sw = dw.slice();
      k.gemmPair(...args(px, pw));
      // single-threaded: OpenBLAS's threaded driver may round differently (its Haswell kernel does)
      withThreads(1, () => sequential(k, ...args(sx, sw)));
      expect(same(px, sx) && same(pw, sw), `${rows}x${inF}x${outF} beta ${beta}`).toBe(true);
      // and (JS backend) the reference computes the same products
      const jx = dx.slice(), jw = dw.slice();
      jsBackend.gemmPair(...args(jx, jw));
      for (let i = 0; i < jx.length; i++) expect(Math.abs(jx[i] - px[i])).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(jx[i])));
      for (let i = 0; i < jw.length; i++) expect(Math.abs(jw[i] - pw[i])).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(jw[i])));
    }
  });
});

describe.runIf(native)('gemmPair on two threads (native)', () => {
  it('gives bitwise the single-threaded results, 3000 pairs over the mlp layer shapes', () => {
    const shapes: [number, number, number][] = [[128, 256, 10], [128, 512, 256], [17, 300, 41], [64, 64, 64]];
    const cases = shapes.map(([r, i, o], j) => layerPair(r, i, o, 10 * j + 1, j % 2));
    const expected = cases.map(({ dx, dw, args }) => withThreads(1, () => {
      const ex = dx.slice(), ew = dw.slice();
      sequential(addon!, ...args(ex, ew));
      return [ex, ew];
    }));
    withThreads(2, () => {
      let bad = 0;
      for (let t = 0; t < 3000; t++) {
        const j = t % cases.length, { dx, dw, args } = cases[j];
        if (j === 1 && t % 8 !== 1) continue; // the 33 MFLOP shape less often
        const px = dx.slice(), pw = dw.slice();
        addon!.gemmPair(...args(px, pw));
        if (!same(px, expected[j][0]) || !same(pw, expected[j][1])) bad++;
      }
      expect(bad).toBe(0);
      expect(getNumThreads()).toBe(2); // restored after every pair
    });
  });

  it('refuses an output that overlaps the other product\'s arrays, naming gemmPair and both arguments', () => {
    const big = new Float32Array(64), f = (n: number) => new Float32Array(n);
    const call = (c: Float32Array, a2: Float32Array, c2: Float32Array) => () =>
      addon!.gemmPair(false, false, 2, 2, 2, 1, f(4), f(4), 0, c, false, false, 2, 2, 2, 1, a2, f(4), 0, c2);
    expect(call(big.subarray(0, 4), big.subarray(2, 6), f(4))).toThrow(/^gemmPair: argument 'c' overlaps argument 'a2'/);
    expect(call(f(4), big.subarray(0, 4), big.subarray(2, 6))).toThrow(/^gemmPair: argument 'c2' overlaps argument 'a2'/);
    expect(call(big.subarray(0, 4), f(4), big.subarray(3, 7))).toThrow(/^gemmPair: argument 'c' overlaps argument 'c2'/);
    expect(call(f(4), f(3), f(4))).toThrow(/^gemmPair: argument 'a2' has 3 elements, needs 4/);
    expect(() => (addon!.gemmPair as (...a: unknown[]) => void)(false, false, 2, 2, 2, 1, f(4), f(4), 0, f(4))).toThrow(TypeError);
    // inputs may be shared (dX and dW both read g)
    const g = rand(4, 3), c1 = f(4), c2 = f(4);
    withThreads(2, () => addon!.gemmPair(false, false, 2, 2, 2, 1, g, g, 0, c1, true, false, 2, 2, 2, 1, g, g, 0, c2));
    const want = [g[0] * g[0] + g[1] * g[2], g[0] * g[1] + g[1] * g[3], g[2] * g[0] + g[3] * g[2], g[2] * g[1] + g[3] * g[3]];
    want.forEach((v, i) => expect(c1[i]).toBeCloseTo(v, 6));
    [g[0] * g[0] + g[2] * g[2], g[0] * g[1] + g[2] * g[3], g[1] * g[0] + g[3] * g[2], g[1] * g[1] + g[3] * g[3]]
      .forEach((v, i) => expect(c2[i]).toBeCloseTo(v, 6));
  });

  // A child process, so a crash or a hang shows as a signal or an exit code.
  function child(code: string): { status: number | null; signal: string | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, ['-e', `const a = require(${JSON.stringify(nativeAddonPath())});\n${code}`], { encoding: 'utf8', timeout: 60_000 });
    return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
  }
  const pairLoop = (n: number) => `{ const m = 96, A = new Float32Array(m * m).fill(0.5), C1 = new Float32Array(m * m), C2 = new Float32Array(m * m);
for (let i = 0; i < ${n}; i++) a.gemmPair(false, false, m, m, m, 1, A, A, 0, C1, true, false, m, m, m, 1, A, A, 0, C2); globalThis.c = [C1[0], C2[0]]; }`;

  it('process exit with the helper thread alive, a worker terminated while it calls gemmPair, and 1 thread', () => {
    // the helper thread is waiting for work when the process exits (normally, and by process.exit)
    for (const exit of ['', 'process.exit(0);']) {
      const r = child(`a.setNumThreads(2);\n${pairLoop(200)}\nconsole.log('done', ...c);${exit}`);
      expect({ status: r.status, signal: r.signal, out: r.stdout.trim() }, r.stderr).toEqual({ status: 0, signal: null, out: 'done 24 24' });
    }
    // a worker in a gemmPair loop is terminated while the main thread keeps pairing (the two take
    // turns on the helper), then the process exits
    const r = child(`a.setNumThreads(2);
const { Worker } = require('node:worker_threads');
const w = new Worker(\`const a = require(\${JSON.stringify(${JSON.stringify(nativeAddonPath())})});
require('node:worker_threads').parentPort.postMessage('go');
${pairLoop(1e9).replace(/`/g, '\\`')}\`, { eval: true });
w.on('message', () => { ${pairLoop(300)} setTimeout(() => w.terminate(), 20); });
w.on('exit', (code) => { ${pairLoop(50)} a.setNumThreads(1); ${pairLoop(50)} console.log('worker exited', code, a.getNumThreads()); });`);
    expect({ status: r.status, signal: r.signal, out: r.stdout.trim() }, r.stderr).toEqual({ status: 0, signal: null, out: 'worker exited 1 1' });
  });
});

describe('the matmul VJP with gemmPair', () => {
  // The backward runs dA and dB as one gemmPair (at once with 2+ native threads); the gradients must
  // be bitwise those of the same backward with the pair replaced by two single-threaded gemm calls.
  function grads(k: Backend): Float32Array[] {
    return withBackend(k, () => withThreads(2, () => {
      tg.manualSeed(3);
      const a = tg.randn([48, 80]).requiresGrad_(), b = tg.randn([80, 72]).requiresGrad_(); // 48·80·72 ≥ 64³
      const y = tg.matmul(a, b);
      y.mul(y).sum().backward();
      return [a, b].map((p) => Float32Array.from(p.grad!.data));
    }));
  }
  it('bitwise those of two single-threaded gemm calls, as one gemmPair', () => {
    const active = kernels();
    let pairs = 0;
    const counting: Backend = { ...active, gemmPair: (...a) => { pairs++; active.gemmPair(...a); } };
    const apart: Backend = { ...active, gemmPair: (...a) => withThreads(1, () => sequential(active, ...a)) };
    const paired = grads(counting), reference = grads(apart);
    expect(pairs).toBe(1);
    for (let i = 0; i < paired.length; i++) expect(same(paired[i], reference[i]), `operand ${i}`).toBe(true);
  });
});

// The linear kernel (native/linear.cc) on two threads: a mid-sized layer split by output columns
// (each thread owns rows h.. of W; dX's sum is split and added), a narrow one by batch rows, dX and
// dW of a large one as a pair. Every plan must match the JS reference and the one-thread kernel.
describe.runIf(native)('linear and linearBackward on two threads (native)', () => {
  const close = (a: Float32Array, b: Float32Array, what: string) =>
    a.forEach((v, i) => expect(Math.abs(v - b[i]), `${what} element ${i}`).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(b[i]))));
  type Case = { rows: number; inF: number; outF: number; act: 'none' | 'relu' | 'sigmoid' | 'tanh'; bias: boolean; beta: number };
  // columns: 64·96·80 (h = 48); rows: 128·128·24 (outF < 32); one thread: 16·16·16 (below 64³)
  const cases: Case[] = [
    { rows: 64, inF: 96, outF: 80, act: 'relu', bias: true, beta: 0 },
    { rows: 64, inF: 96, outF: 80, act: 'tanh', bias: false, beta: 1 },
    { rows: 100, inF: 130, outF: 70, act: 'sigmoid', bias: true, beta: 0.5 },
    { rows: 128, inF: 128, outF: 24, act: 'none', bias: true, beta: 1 },
    { rows: 16, inF: 16, outF: 16, act: 'relu', bias: true, beta: 0 },
  ];
  function run(k: Backend, c: Case, seed: number) {
    const { rows, inF, outF, act, beta } = c;
    const x = rand(rows * inF, seed), w = rand(outF * inF, seed + 1), b = c.bias ? rand(outF, seed + 2) : null;
    const y = new Float32Array(rows * outF).fill(NaN);
    k.linear(x, w, b, act, rows, inF, outF, y);
    const g = rand(rows * outF, seed + 3), dx = new Float32Array(rows * inF).fill(NaN);
    const dw = rand(outF * inF, seed + 4), db = rand(outF, seed + 5);
    k.linearBackward(g, y, act, x, w, rows, inF, outF, dx, dw, beta, db, beta);
    // the first layer: no dX, W frozen but bias trained, and so on
    const dw2 = rand(outF * inF, seed + 6), db2 = rand(outF, seed + 7);
    k.linearBackward(g, y, act, x, w, rows, inF, outF, null, dw2, 0, null, 0);
    k.linearBackward(g, y, act, x, w, rows, inF, outF, null, null, 0, db2, beta);
    return { y, dx, dw, db, dw2, db2 };
  }
  it('every plan agrees with the JS backend and with one thread', () => {
    const nat = kernels();
    for (const [i, c] of cases.entries()) {
      const two = withThreads(2, () => run(nat, c, 10 * i)), one = withThreads(1, () => run(nat, c, 10 * i));
      const ref = run(jsBackend, c, 10 * i);
      for (const key of Object.keys(ref) as (keyof typeof ref)[]) {
        close(two[key], ref[key], `${JSON.stringify(c)} ${key} (2 threads vs JS)`);
        close(one[key], ref[key], `${JSON.stringify(c)} ${key} (1 thread vs JS)`);
      }
      // the column split really splits dX's sum: its last bits differ from one thread's
      if (i === 0) expect(same(two.dx, one.dx)).toBe(false);
    }
  });
  it('the same bits on every call, 400 calls of each split plan (a race would show)', () => {
    const nat = kernels();
    withThreads(2, () => {
      for (const c of [cases[0], cases[3]]) {
        const first = run(nat, c, 99);
        for (let t = 0; t < 200; t++) {
          const again = run(nat, c, 99);
          for (const key of Object.keys(first) as (keyof typeof first)[]) expect(same(again[key], first[key]), `${key} call ${t}`).toBe(true);
        }
      }
    });
  });
  it('sgdStep and adamStep split at W\'s rows (2 threads) give the bits of the unsplit step', () => {
    const nat = kernels();
    const rows = 512, n = rows * 784;
    for (const momentum of [0, 0.9]) {
      const o = { lr: 0.01, momentum, dampening: 0, nesterov: false, weightDecay: momentum ? 1e-4 : 0 };
      const p1 = rand(n, 1), p2 = p1.slice(), g = rand(n, 2), b1 = rand(n, 3), b2 = b1.slice();
      withThreads(2, () => { nat.sgdStep(p1, g, b1, false, o, rows); nat.sgdStep(p1, g, b1, false, o, rows); });
      withThreads(1, () => { nat.sgdStep(p2, g, b2, false, o); nat.sgdStep(p2, g, b2, false, o); });
      expect(same(p1, p2) && same(b1, b2), `momentum ${momentum}`).toBe(true);
    }
    for (const decoupled of [false, true]) {
      const o = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-2, decoupled };
      const p1 = rand(n, 4), p2 = p1.slice(), g = rand(n, 5), m1 = rand(n, 6), m2 = m1.slice(), v1 = rand(n, 7).map(Math.abs), v2 = v1.slice();
      withThreads(2, () => { nat.adamStep(p1, g, m1, v1, 1, o, rows); nat.adamStep(p1, g, m1, v1, 2, o, rows); });
      withThreads(1, () => { nat.adamStep(p2, g, m2, v2, 1, o); nat.adamStep(p2, g, m2, v2, 2, o); });
      expect(same(p1, p2) && same(m1, m2) && same(v1, v2), `adam decoupled ${decoupled}`).toBe(true);
    }
    expect(() => addon!.sgdStep(rand(10, 1), rand(10, 2), null, true, { lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 }, 3))
      .toThrow(/^sgdStep: argument 'rows' \(3\) does not divide param.length \(10\)$/);
  });
  it('an mlp trained on two threads stays within float32 rounding of one thread', () => {
    function train(threads: number): number[] {
      return withThreads(threads, () => {
        tg.manualSeed(7);
        const model = tg.nn.mlp({ inFeatures: 96, hidden: [80, 64], outFeatures: 10, activation: 'relu' });
        const opt = new tg.optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
        const x = tg.randn([64, 96]), labels = tg.randint(0, 10, [64]);
        const losses: number[] = [];
        for (let s = 0; s < 5; s++) {
          opt.zeroGrad();
          const loss = tg.nn.functional.crossEntropy(model.forward(x), labels);
          loss.backward();
          opt.step();
          losses.push(loss.item());
        }
        return losses;
      });
    }
    const one = train(1), two = train(2);
    two.forEach((v, i) => expect(v).toBeCloseTo(one[i], 5));
  });
});
