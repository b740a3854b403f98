// The native backend against the JS reference: one conformance suite over every kernel, async gemm,
// bad calls straight into the addon (must throw TypeError/RangeError, never crash), and the addon
// in 4 worker_threads at once.
//
// Tolerance: 1e-5 relative (plus 1e-7 absolute for results near 0). Exceptions, and why:
//  - gemm: OpenBLAS sums in float32 with FMA in blocked order, the JS backend in float64. The
//    error is bounded relative to (|A|·|B|)ij, not to Cij (which can cancel to ~0), so gemm is
//    checked as |C - Cref| <= 1e-5 · (|A|·|B|)ij + 1e-6.
//  - reduce sum / sumTo: both accumulate in double but in a different order; an absolute 1e-5
//    covers sums that cancel to ~0 (the inputs are O(1), up to 4096 terms).
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import type { Backend, UnaryOp } from '../lib/backend/backend.js';
import * as catalogue from '../lib/backend/catalogue.js';
import { BINARY_OPS, KERNEL_NAMES, NO_SMALL_WORK, REDUCE_OPS, UNARY_OPS } from '../lib/backend/catalogue.js';
// @ts-expect-error: a plain JS module without types
import { kernelCases } from '../tools/kernel-cases.mjs';
import { jsBackend } from '../lib/backend/js.js';
import { loadNative, makeNativeBackend, nativeAddon, nativeAddonPath } from '../lib/backend/native.js';

const addon = nativeAddon();
const { reason } = loadNative();
const requireNative = process.env.CI_REQUIRE_NATIVE === '1';

if (!addon && !requireNative) {
  console.warn(`[native.test] SKIPPED: the native addon is not built (${reason}). Build it with \`npm run build:native\`.`);
}

describe.runIf(!addon && requireNative)('native addon required (CI_REQUIRE_NATIVE=1)', () => {
  it('loads', () => {
    expect.fail(`CI_REQUIRE_NATIVE=1 but the native addon did not load: ${reason}`);
  });
});

// ---- helpers ------------------------------------------------------------------------------------

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
}
function randn(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r();
  return a;
}
function randInt(n: number, max: number, seed: number): Int32Array {
  const r = rng(seed);
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.floor(r() * max);
  return a;
}
const prod = (s: readonly number[]): number => s.reduce((p, d) => p * d, 1);

/** |a - e| <= atol + rtol·|e| element-wise; NaN matches NaN, infinities must match exactly. */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rtol = 1e-5, atol = 1e-7,
  scale?: ArrayLike<number>): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (!Number.isFinite(e) || !Number.isFinite(a)) {
      if (a !== e) expect.fail(`${what}: element ${i}: native ${a}, js ${e}`);
      continue;
    }
    const tol = atol + rtol * (scale ? scale[i] : Math.abs(e));
    if (!(Math.abs(a - e) <= tol)) expect.fail(`${what}: element ${i}: native ${a}, js ${e} (tolerance ${tol})`);
  }
}

describe.skipIf(!addon)(`native backend (${reason})`, () => {
  const nat: Backend = makeNativeBackend(addon!, NO_SMALL_WORK); // every call goes to the addon
  const js = jsBackend;

  it('the addon and the native backend have exactly the catalogue\'s kernels (plus thread controls and info)', () => {
    const A = addon as unknown as Record<string, unknown>;
    expect(Object.keys(A).filter((k) => typeof A[k] === 'function').sort())
      .toEqual([...KERNEL_NAMES, 'setNumThreads', 'getNumThreads', 'info'].sort());
    for (const name of KERNEL_NAMES) expect(typeof nat[name], name).toBe('function');
  });
  it('the addon knows exactly the catalogue\'s op names (from its "unknown op" message)', () => {
    const A = addon as unknown as Record<string, (...args: unknown[]) => unknown>;
    const f = new Float32Array(1);
    const calls: [readonly string[], () => unknown][] = [
      [UNARY_OPS, () => A.unary('?', f, f)],
      [BINARY_OPS, () => A.binary('?', f, [1], f, [1], f, [1])],
      [REDUCE_OPS, () => A.reduce('?', f, 1, 1, 1, f)],
    ];
    for (const [ops, call] of calls) {
      expect(call).toThrow(RangeError);
      try { call(); } catch (e) {
        expect(/\(expected (.*)\)$/.exec((e as Error).message)?.[1].split(', ')).toEqual([...ops]);
      }
    }
  });

  // Every kernel, from the catalogue: random valid calls (tools/kernel-cases.mjs, the fuzzer's) give
  // the same outputs on both backends. Sizes are small (k <= 9, O(1) inputs), so one tolerance fits all.
  describe('every kernel of the catalogue agrees with the JS backend on random valid calls', () => {
    const cases = kernelCases(rng(77), catalogue) as Record<string, () => { args: unknown[]; outs: number[] }>;
    const copy = (args: unknown[]) => args.map((a) => (ArrayBuffer.isView(a) ? (a as Float32Array).slice() : a));
    for (const name of KERNEL_NAMES) {
      it(name, async () => {
        const run = (k: Backend, args: unknown[]) => (k[name] as (...a: unknown[]) => unknown)(...args);
        for (let t = 0; t < 300; t++) {
          const { args, outs } = cases[name]();
          const aj = copy(args), an = copy(args);
          const rj = await run(js, aj), rn = await run(nat, an);
          const what = `${name} #${t} (${args.map((a) => (ArrayBuffer.isView(a) ? `[${(a as Float32Array).length}]` : JSON.stringify(a))).join(', ')})`;
          for (const i of outs) expectClose(an[i] as Float32Array, aj[i] as Float32Array, what, 1e-5, 1e-5);
          if (typeof rj === 'number') expectClose([rn as number], [rj], `${what}: result`, 1e-5, 1e-6);
        }
      });
    }
  });

  // ---- dropout, batch and layer norm at sizes the random calls do not reach ---------------------------
  describe('dropout, batchNorm and layerNorm on large inputs', () => {
    it('dropout: the same mask bit for bit and the same advanced state as the JS kernel', () => {
      for (const p of [0.1, 0.5, 0.97]) {
        const x = randn(100_003, 3), sj = Int32Array.from([1, -2, 0x7fffffff, -0x80000000]), sn = sj.slice();
        const oj = new Float32Array(x.length), mj = new Float32Array(x.length), on = new Float32Array(x.length), mn = new Float32Array(x.length);
        js.dropout(x, p, sj, oj, mj);
        nat.dropout(x, p, sn, on, mn);
        expect(Array.from(sn)).toEqual(Array.from(sj));
        expect(mn).toEqual(mj);
        expect(on).toEqual(oj);
        // without a mask (what the backward does): the same output and state
        const s2 = Int32Array.from([1, -2, 0x7fffffff, -0x80000000]), o2 = new Float32Array(x.length);
        nat.dropout(x, p, s2, o2, null);
        expect(o2).toEqual(oj);
        expect(Array.from(s2)).toEqual(Array.from(sj));
      }
    });
    it('batchNorm and its backward, [N, C] and [N, C, L], with and without weight and bias', () => {
      for (const [n, c, l, affine] of [[512, 300, 1, true], [64, 7, 33, false], [3, 1000, 1, false]] as const) {
        const size = n * c * l, x = randn(size, 20, -3, 5), g = randn(size, 21);
        const w = affine ? randn(c, 22) : null, b = affine ? randn(c, 23) : null;
        const outs = [0, 1].map(() => [new Float32Array(size), new Float32Array(c), new Float32Array(c)]);
        js.batchNorm(x, n, c, l, w, b, 1e-5, ...outs[0] as [Float32Array, Float32Array, Float32Array]);
        nat.batchNorm(x, n, c, l, w, b, 1e-5, ...outs[1] as [Float32Array, Float32Array, Float32Array]);
        outs[0].forEach((o, i) => expectClose(outs[1][i], o, `batchNorm [${n}, ${c}, ${l}] output ${i}`));
        const grads = [0, 1].map(() => [new Float32Array(size), new Float32Array(c), new Float32Array(c)]);
        js.batchNormBackward(x, g, n, c, l, outs[0][1], outs[0][2], 1e-5, w, ...grads[0] as [Float32Array, Float32Array, Float32Array]);
        nat.batchNormBackward(x, g, n, c, l, outs[0][1], outs[0][2], 1e-5, w, ...grads[1] as [Float32Array, Float32Array, Float32Array]);
        grads[0].forEach((o, i) => expectClose(grads[1][i], o, `batchNormBackward [${n}, ${c}, ${l}] output ${i}`, 1e-5, 1e-4));
      }
    });
    it('layerNorm and its backward', () => {
      for (const [rows, cols, affine] of [[512, 2048, true], [1000, 3, false]] as const) {
        const size = rows * cols, x = randn(size, 30, -3, 5), g = randn(size, 31);
        const w = affine ? randn(cols, 32) : null, b = affine ? randn(cols, 33) : null;
        const outs = [0, 1].map(() => [new Float32Array(size), new Float32Array(rows), new Float32Array(rows)]);
        js.layerNorm(x, rows, cols, w, b, 1e-5, ...outs[0] as [Float32Array, Float32Array, Float32Array]);
        nat.layerNorm(x, rows, cols, w, b, 1e-5, ...outs[1] as [Float32Array, Float32Array, Float32Array]);
        outs[0].forEach((o, i) => expectClose(outs[1][i], o, `layerNorm [${rows}, ${cols}] output ${i}`));
        const grads = [0, 1].map(() => [new Float32Array(size), new Float32Array(cols), new Float32Array(cols)]);
        js.layerNormBackward(x, g, rows, cols, outs[0][1], outs[0][2], 1e-5, w, ...grads[0] as [Float32Array, Float32Array, Float32Array]);
        nat.layerNormBackward(x, g, rows, cols, outs[0][1], outs[0][2], 1e-5, w, ...grads[1] as [Float32Array, Float32Array, Float32Array]);
        grads[0].forEach((o, i) => expectClose(grads[1][i], o, `layerNormBackward [${rows}, ${cols}] output ${i}`, 1e-5, 1e-4));
      }
    });
    it('bad calls name the kernel and the argument', () => {
      const A = addon as unknown as Record<string, (...args: unknown[]) => unknown>;
      const f = (n: number) => new Float32Array(n);
      expect(() => A.dropout(f(4), 1.5, new Int32Array(4), f(4), f(4))).toThrow(/dropout.*'p'.*\[0, 1\]/);
      expect(() => A.dropout(f(4), 0.5, new Int32Array(3), f(4), f(4))).toThrow(/dropout.*'state'/);
      const x = f(8);
      expect(() => A.dropout(x, 0.5, new Int32Array(4), f(8), x)).toThrow(/dropout.*'mask' overlaps/);
      expect(() => A.batchNorm(f(6), 2, 3, 1, f(2), null, 1e-5, f(6), f(3), f(3))).toThrow(/batchNorm.*'weight'/);
      expect(() => A.batchNorm(f(6), 2, 3, 1, null, null, -1, f(6), f(3), f(3))).toThrow(/batchNorm.*'eps'/);
      expect(() => A.layerNormBackward(f(6), f(5), 2, 3, f(2), f(2), 1e-5, null, f(6), null, null)).toThrow(/layerNormBackward.*'g'/);
    });
  });

  // ---- gemm -------------------------------------------------------------------------------------
  describe('gemm', () => {
    const shapes: [number, number, number][] = [
      [1, 1, 1], [1, 5, 1], [7, 1, 3], [5, 3, 1], [300, 4, 17], [3, 700, 9], [64, 64, 64], [520, 530, 48], [37, 29, 515],
      [1, 130, 517], // one row: sgemv
      [9, 100, 33], [64, 200, 70], // 2 to 64 rows, no transposes: gemm_rows.cc on AVX-512 (column tails of 36 and 8)
    ];
    const flags: [boolean, boolean][] = [[false, false], [true, false], [false, true], [true, true]];
    function runGemm(tA: boolean, tB: boolean, m: number, n: number, k: number, alpha: number, beta: number,
      batch = 1, sA = m * k, sB = k * n, sC = m * n, seed = 1): void {
      const a = randn(Math.max(0, (batch - 1) * sA) + m * k, seed);
      const b = randn(Math.max(0, (batch - 1) * sB) + k * n, seed + 1);
      const c0 = randn(Math.max(0, (batch - 1) * sC) + m * n, seed + 2);
      if (beta === 0) c0.fill(NaN); // beta = 0 must ignore C's old contents
      const cj = c0.slice(), cn = c0.slice();
      js.gemm(tA, tB, m, n, k, alpha, a, b, beta, cj, batch, sA, sB, sC);
      nat.gemm(tA, tB, m, n, k, alpha, a, b, beta, cn, batch, sA, sB, sC);
      // Error scale: |alpha|·(|A|·|B|) + |beta|·|C0|
      const absA = a.map(Math.abs), absB = b.map(Math.abs), scale = c0.map((v) => (beta === 0 ? 0 : Math.abs(beta * v)));
      js.gemm(tA, tB, m, n, k, Math.abs(alpha), absA, absB, 1, scale, batch, sA, sB, sC);
      expectClose(cn, cj, `gemm ${tA ? 'T' : 'N'}${tB ? 'T' : 'N'} ${m}x${n}x${k} batch ${batch}`, 1e-5, 1e-6, scale);
    }
    for (const [m, n, k] of shapes) {
      it(`${m}x${n}x${k}, all transposes`, () => {
        for (const [tA, tB] of flags) runGemm(tA, tB, m, n, k, 1, 0);
      });
    }
    it('alpha and beta (accumulate into C)', () => {
      for (const [tA, tB] of flags) {
        runGemm(tA, tB, 33, 17, 21, 0.5, 2);
        runGemm(tA, tB, 1, 17, 21, 0.5, 2);
      }
      runGemm(false, false, 8, 8, 8, -1.5, 1);
      runGemm(false, false, 8, 8, 8, 0, 0.5);
    });
    it('batched, with dense strides and stride 0 (broadcast)', () => {
      for (const [tA, tB] of flags) {
        runGemm(tA, tB, 6, 5, 4, 1, 0, 3);
        runGemm(tA, tB, 6, 5, 4, 1, 0, 4, 0, 20, 30); // A shared by all
        runGemm(tA, tB, 6, 5, 4, 1, 0, 4, 24, 0, 30); // B shared by all
        runGemm(tA, tB, 6, 5, 4, 1, 0, 2, 30, 25, 40); // padded strides
        runGemm(tA, tB, 1, 5, 4, 1, 0, 3, 6, 25, 7); // one row per matrix, padded strides
      }
      runGemm(false, false, 3, 4, 5, 1, 1, 5, 15, 20, 0); // stride C 0: accumulates sequentially
    });
    it('degenerate sizes: k = 0 (C = beta·C), m = 0, n = 0, batch = 0', () => {
      runGemm(false, false, 4, 3, 0, 1, 0);
      runGemm(false, false, 4, 3, 0, 1, 2);
      runGemm(false, false, 0, 3, 4, 1, 0);
      runGemm(false, false, 4, 0, 4, 1, 0);
      const c = new Float32Array([7]);
      nat.gemm(false, false, 1, 1, 1, 1, new Float32Array([2]), new Float32Array([3]), 0, c, 0);
      expect(c[0]).toBe(7);
    });
    it('subarray views (byteOffset) are read and written in place, zero copy', () => {
      const big = randn(200, 9);
      const a = big.subarray(3, 3 + 12), b = big.subarray(50, 50 + 20), c = new Float32Array(40).subarray(5, 5 + 15);
      const cj = new Float32Array(15);
      nat.gemm(false, false, 3, 5, 4, 1, a, b, 0, c);
      js.gemm(false, false, 3, 5, 4, 1, a, b, 0, cj);
      expectClose(c, cj, 'subarray gemm', 1e-6, 1e-6);
      expect(c.buffer.byteLength).toBe(160);
    });
    it('gemmAsync gives bit-identical results and keeps the event loop free', async () => {
      const m = 512, n = 384, k = 256;
      const a = randn(m * k, 11), b = randn(k * n, 12);
      const cs = new Float32Array(m * n), ca = new Float32Array(m * n);
      addon!.gemm(false, true, m, n, k, 1, a, b.slice(), 0, cs); // b as n x k: transB
      const p = addon!.gemmAsync(false, true, m, n, k, 1, a, b, 0, ca);
      expect(p).toBeInstanceOf(Promise);
      await p;
      expect(Buffer.from(ca.buffer).equals(Buffer.from(cs.buffer))).toBe(true);
      // Several at once (each on the libuv pool), batched.
      const outs = [0, 1, 2, 3].map(() => new Float32Array(2 * 64 * 64));
      const x = randn(2 * 64 * 64, 13), y = randn(64 * 64, 14);
      await Promise.all(outs.map((o) => addon!.gemmAsync(false, false, 64, 64, 64, 1, x, y, 0, o, 2, 4096, 0, 4096)));
      const ref = new Float32Array(2 * 64 * 64);
      addon!.gemm(false, false, 64, 64, 64, 1, x, y, 0, ref, 2, 4096, 0, 4096);
      for (const o of outs) expect(Array.from(o)).toEqual(Array.from(ref));
    });
    it('the backend\'s gemmAsync matches the JS backend\'s', async () => {
      const a = randn(40 * 30, 15), b = randn(30 * 20, 16), cn = new Float32Array(40 * 20), cj = new Float32Array(40 * 20);
      await Promise.all([nat.gemmAsync(false, false, 40, 20, 30, 1, a, b, 0, cn), js.gemmAsync(false, false, 40, 20, 30, 1, a, b, 0, cj)]);
      const scale = new Float32Array(40 * 20);
      js.gemm(false, false, 40, 20, 30, 1, a.map(Math.abs), b.map(Math.abs), 0, scale);
      expectClose(cn, cj, 'gemmAsync 40x20x30', 1e-5, 1e-6, scale);
    });
    it('gemmAsync rejects (does not throw) on bad arguments', async () => {
      const a = new Float32Array(4);
      await expect(addon!.gemmAsync(false, false, 2, 2, 2, 1, a, a, 0, new Float32Array(3))).rejects.toThrow(RangeError);
      await expect((addon!.gemmAsync as (...x: unknown[]) => Promise<void>)(1, 2)).rejects.toThrow(TypeError);
    });
  });

  // ---- element-wise ---------------------------------------------------------------------------
  describe('unary', () => {
    const specials = new Float32Array([0, -0, 1, -1, 0.5, -2.5, 3e38, -3e38, 1e-40, Infinity, -Infinity, NaN, 88.8, -104, 20, -20]);
    // Parameters (p0, p1) and whether the op needs positive inputs; an op not listed runs once without.
    const params: Partial<Record<UnaryOp, [number?, number?, boolean?][]>> = {
      log: [[undefined, undefined, true]], sqrt: [[undefined, undefined, true]],
      pow: [[2], [3], [0.5, undefined, true], [-1, undefined, true], [1], [NaN], [Infinity], [0]],
      clamp: [[-0.5, 0.5], [-Infinity, 0], [NaN, 1], [0, NaN]], affine: [[2, -1], [-0.1, 3]],
      softplus: [[1, 20], [2, 1], [0.5, 20], [-1, 20]],
    };
    for (const op of UNARY_OPS) {
      for (const [p0, p1, positive] of params[op] ?? [[]]) {
        it(`${op}${p0 !== undefined ? `(${p0}${p1 !== undefined ? `, ${p1}` : ''})` : ''}`, () => {
          for (const x of [randn(1037, 5, positive ? 0.01 : -6, 6), specials, randn(1, 6)]) {
            const oj = new Float32Array(x.length), on = new Float32Array(x.length);
            js.unary(op, x, oj, p0, p1);
            nat.unary(op, x, on, p0, p1);
            expectClose(on, oj, `unary ${op}`);
          }
        });
      }
    }
    it('in place (out aliases x)', () => {
      const x = randn(100, 8), y = x.slice(), ref = new Float32Array(100);
      js.unary('tanh', x, ref);
      nat.unary('tanh', y, y);
      expectClose(y, ref, 'tanh in place');
    });
  });

  describe('binary with broadcasting', () => {
    const shapes: [number[], number[], number[], string][] = [
      [[7, 33], [7, 33], [7, 33], 'same shape'],
      [[7, 33], [1], [7, 33], 'scalar right'],
      [[], [7, 33], [7, 33], 'scalar left (rank 0)'],
      [[7, 33], [33], [7, 33], 'row [m,n]∘[n]'],
      [[7, 33], [7, 1], [7, 33], 'column [m,n]∘[m,1]'],
      [[7, 1], [7, 33], [7, 33], 'column left'],
      [[2, 3, 4, 5], [3, 1, 5], [2, 3, 4, 5], 'generic 4-d'],
      [[4, 1, 6], [1, 5, 1], [4, 5, 6], 'both broadcast'],
      [[5], [3, 1], [3, 5], 'outer product'],
      [[1, 1], [1], [1, 1], 'single element'],
      [[3, 0, 2], [2], [3, 0, 2], 'empty'],
      [[64, 1, 32], [64, 16, 32], [64, 16, 32], 'middle broadcast, large'],
    ];
    for (const op of BINARY_OPS) {
      it(op, () => {
        let seed = 100;
        for (const [as, bs, os, name] of shapes) {
          const unit = op === 'sigmoidGrad' || op === 'tanhGrad';
          const a = randn(prod(as), seed++, unit ? 0 : -2, unit ? 1 : 2);
          const b = randn(prod(bs), seed++, -2, 2);
          if (op === 'eq') for (let i = 0; i < Math.min(a.length, b.length); i += 2) a[i] = b[i];
          const oj = new Float32Array(prod(os)), on = new Float32Array(prod(os));
          js.binary(op, a, as, b, bs, oj, os);
          nat.binary(op, a, as, b, bs, on, os);
          expectClose(on, oj, `binary ${op} ${name}`);
        }
      });
    }
    it('NaN propagation in maximum, and out aliasing a', () => {
      const a = new Float32Array([NaN, 1, 2, NaN]), b = new Float32Array([1, NaN, 3, NaN]);
      for (const op of ['maximum', 'reluGrad'] as const) {
        const oj = new Float32Array(4), on = new Float32Array(4);
        js.binary(op, a, [4], b, [4], oj, [4]);
        nat.binary(op, a, [4], b, [4], on, [4]);
        expectClose(on, oj, op);
      }
      const x = randn(60, 3), y = randn(60, 4), ref = new Float32Array(60);
      js.binary('mul', x, [6, 10], y, [6, 10], ref, [6, 10]);
      nat.binary('mul', x, [6, 10], y, [6, 10], x, [6, 10]);
      expectClose(x, ref, 'mul in place');
    });
  });

  // ---- reductions -----------------------------------------------------------------------------
  describe('reductions', () => {
    const dims: [number, number, number][] = [[1, 1000, 1], [7, 13, 5], [3, 1, 4], [1, 4096, 1], [2, 0, 3], [5, 3, 1], [1, 1, 1]];
    it('reduce (every op)', () => {
      for (const op of REDUCE_OPS) {
        for (const [o, n, i] of dims) {
          const x = randn(o * n * i, o + n + i);
          const rj = new Float32Array(o * i), rn = new Float32Array(o * i);
          js.reduce(op, x, o, n, i, rj);
          nat.reduce(op, x, o, n, i, rn);
          expectClose(rn, rj, `reduce ${op} [${o},${n},${i}]`, 1e-5, op === 'sum' ? 1e-5 : 0);
        }
      }
      const x = new Float32Array([1, NaN, 3, 4, 5, 6]), rj = new Float32Array(2), rn = new Float32Array(2);
      js.reduce('max', x, 2, 3, 1, rj);
      nat.reduce('max', x, 2, 3, 1, rn);
      expectClose(rn, rj, 'max with NaN');
    });
    it('argmax (first maximum; NaN is the maximum)', () => {
      for (const [o, n, i] of dims.filter((d) => d[1] > 0)) {
        const x = randn(o * n * i, 3 * o + n);
        const rj = new Int32Array(o * i), rn = new Int32Array(o * i);
        js.argmax(x, o, n, i, rj);
        nat.argmax(x, o, n, i, rn);
        expect(Array.from(rn), `argmax [${o},${n},${i}]`).toEqual(Array.from(rj));
      }
      for (const x of [new Float32Array([1, 3, 3, 2]), new Float32Array([1, NaN, 5, NaN]), new Float32Array([NaN, 1, 2, 3]), new Float32Array(4)]) {
        const rj = new Int32Array(1), rn = new Int32Array(1);
        js.argmax(x, 1, 4, 1, rj);
        nat.argmax(x, 1, 4, 1, rn);
        expect(rn[0], `argmax ${Array.from(x)}`).toBe(rj[0]);
      }
    });
    it('sumTo (the VJP of broadcasting)', () => {
      const cases: [number[], number[]][] = [
        [[4, 5, 6], [5, 6]], [[4, 5, 6], [4, 1, 6]], [[4, 5, 6], [1]], [[4, 5, 6], []], [[4, 5, 6], [4, 5, 1]],
        [[3, 1], [3, 1]], [[2, 3, 4, 5], [3, 1, 5]], [[1000, 7], [7]], [[7, 1000], [7, 1]], [[3, 0], [3, 1]], [[8, 9], [8, 9]],
      ];
      let seed = 40;
      for (const [xs, os] of cases) {
        const x = randn(prod(xs), seed++);
        const rj = new Float32Array(prod(os)).fill(NaN), rn = new Float32Array(prod(os)).fill(NaN);
        js.sumTo(x, xs, rj, os);
        nat.sumTo(x, xs, rn, os);
        expectClose(rn, rj, `sumTo [${xs}] -> [${os}]`, 1e-5, 1e-5);
      }
    });
    it('softmax and log-softmax over any axis', () => {
      for (const log of [false, true]) {
        for (const [o, n, i] of [[1, 10, 1], [4, 7, 3], [2, 1, 5], [3, 1000, 1], [1, 5, 64]] as [number, number, number][]) {
          const x = randn(o * n * i, o * 7 + n, -30, 30);
          const rj = new Float32Array(x.length), rn = new Float32Array(x.length);
          js.softmax(x, o, n, i, rj, log);
          nat.softmax(x, o, n, i, rn, log);
          expectClose(rn, rj, `${log ? 'log' : ''}softmax [${o},${n},${i}]`);
        }
      }
      // Stability: huge logits, and out aliasing x.
      const x = new Float32Array([1000, 999, -1000, 0]), rj = new Float32Array(4);
      js.softmax(x, 1, 4, 1, rj, false);
      nat.softmax(x, 1, 4, 1, x, false);
      expectClose(x, rj, 'softmax large logits in place');
    });
  });

  // ---- loss -----------------------------------------------------------------------------------
  describe('cross-entropy', () => {
    for (const [rows, classes] of [[32, 10], [1, 1], [128, 1000], [3, 2]] as [number, number][]) {
      it(`${rows} x ${classes}`, () => {
        const logits = randn(rows * classes, rows + classes, -8, 8), labels = randInt(rows, classes, rows);
        const pj = new Float32Array(rows * classes), pn = new Float32Array(rows * classes);
        const lj = js.crossEntropy(logits, labels, rows, classes, pj);
        const ln = nat.crossEntropy(logits, labels, rows, classes, pn);
        expectClose([ln], [lj], 'loss');
        expectClose(pn, pj, 'probs');
        const gj = new Float32Array(rows * classes), gn = new Float32Array(rows * classes);
        js.crossEntropyBackward(pj, labels, rows, classes, 0.7 / rows, gj);
        nat.crossEntropyBackward(pj, labels, rows, classes, 0.7 / rows, gn);
        expectClose(gn, gj, 'dlogits');
      });
    }
  });

  // ---- indexing and layout --------------------------------------------------------------------
  describe('indexSelect / indexAdd / permute', () => {
    it('indexSelect and indexAdd (repeated indices accumulate)', () => {
      for (const [o, n, i] of [[2, 10, 3], [1, 10, 1], [3, 4, 17], [1, 1, 1]] as [number, number, number][]) {
        const idx = randInt(13, n, o + n + i);
        const x = randn(o * n * i, 77);
        const sj = new Float32Array(o * idx.length * i), sn = new Float32Array(o * idx.length * i);
        js.indexSelect(x, o, n, i, idx, sj);
        nat.indexSelect(x, o, n, i, idx, sn);
        expect(Array.from(sn)).toEqual(Array.from(sj));
        const g = randn(o * idx.length * i, 78), base = randn(o * n * i, 79);
        const aj = base.slice(), an = base.slice();
        js.indexAdd(g, o, n, i, idx, aj);
        nat.indexAdd(g, o, n, i, idx, an);
        expectClose(an, aj, `indexAdd [${o},${n},${i}]`);
      }
    });
    it('permute: every permutation of rank 3, rank 4, rank 1 and 0', () => {
      const perms3 = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
      const cases: [number[], number[]][] = [
        ...perms3.map((p): [number[], number[]] => [[2, 3, 4], p]), [[2, 3, 4, 5], [3, 1, 0, 2]], [[7], [0]], [[], []],
        [[1, 5, 1, 3], [3, 2, 1, 0]], [[33, 65], [1, 0]],
      ];
      for (const [shape, perm] of cases) {
        const x = randn(prod(shape), 5);
        const rj = new Float32Array(x.length), rn = new Float32Array(x.length);
        js.permute(x, shape, perm, rj);
        nat.permute(x, shape, perm, rn);
        expect(Array.from(rn), `permute [${shape}] by [${perm}]`).toEqual(Array.from(rj));
      }
    });
  });

  // ---- optimizers -----------------------------------------------------------------------------
  describe('optimizers (PyTorch 1.13 formulas, as in the JS backend)', () => {
    it('sgdStep: momentum, dampening, nesterov, weight decay, over several steps', () => {
      const configs = [
        { lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 },
        { lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0.01 },
        { lr: 0.05, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0 },
        { lr: 0.05, momentum: 0.9, dampening: 0.1, nesterov: false, weightDecay: 1e-3 },
        { lr: 0.05, momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 1e-2 },
      ];
      for (const o of configs) {
        const pj = randn(257, 1), pn = pj.slice(), bj = new Float32Array(257), bn = new Float32Array(257);
        for (let step = 0; step < 4; step++) {
          const g = randn(257, 10 + step);
          js.sgdStep(pj, g, o.momentum ? bj : null, step === 0, o);
          nat.sgdStep(pn, g, o.momentum ? bn : null, step === 0, o);
        }
        expectClose(pn, pj, `sgd ${JSON.stringify(o)}`);
        expectClose(bn, bj, `sgd buffer ${JSON.stringify(o)}`);
      }
    });
    it('adamStep: Adam and AdamW, with and without weight decay', () => {
      for (const decoupled of [false, true]) {
        for (const weightDecay of [0, 0.01]) {
          const o = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay, decoupled };
          const pj = randn(301, 2), pn = pj.slice();
          const mj = new Float32Array(301), mn = new Float32Array(301), vj = new Float32Array(301), vn = new Float32Array(301);
          for (let step = 1; step <= 5; step++) {
            const g = randn(301, 20 + step);
            js.adamStep(pj, g, mj, vj, step, o);
            nat.adamStep(pn, g, mn, vn, step, o);
          }
          expectClose(pn, pj, `adam ${JSON.stringify(o)} param`);
          expectClose(mn, mj, 'adam m');
          expectClose(vn, vj, 'adam v');
        }
      }
    });
    it('float64 arrays are delegated to the JS reference', () => {
      const x = new Float64Array([1, -2, 3]), out = new Float64Array(3);
      nat.unary('relu', x, out);
      expect(Array.from(out)).toEqual([1, 0, 3]);
    });
  });

  describe('threads', () => {
    it('setNumThreads / getNumThreads wrap OpenBLAS', () => {
      const before = nat.getNumThreads();
      expect(before).toBeGreaterThanOrEqual(1);
      nat.setNumThreads(1);
      expect(nat.getNumThreads()).toBe(1);
      nat.setNumThreads(2);
      expect(nat.getNumThreads()).toBe(2);
      nat.setNumThreads(before);
    });
  });

  // ---- validation: bad calls throw TypeError / RangeError, never crash -------------------------
  describe('bad calls straight into the addon', () => {
    const A = addon as unknown as Record<string, (...args: unknown[]) => unknown>;
    const f = (n: number): Float32Array => new Float32Array(n);
    const detached = (): Float32Array => {
      const buf = new Float32Array(16);
      structuredClone(buf.buffer, { transfer: [buf.buffer] });
      return buf;
    };
    const sgd = (over: Record<string, unknown>) => ({ lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, ...over });
    const adam = (over: Record<string, unknown>) => ({ lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, ...over });
    const g = (over: Record<number, unknown>, base: unknown[] = [false, false, 2, 3, 4, 1, f(8), f(12), 0, f(6)]) =>
      base.map((v, i) => (i in over ? over[i] : v));
    const cases: [string, string, unknown[], typeof TypeError | typeof RangeError, RegExp][] = [
      ['no arguments', 'gemm', [], TypeError, /^gemm: expected 10 to 14 arguments, got 0$/],
      ['too many arguments', 'gemm', [...g({}), 1, 0, 0, 0, 99], TypeError, /expected 10 to 14 arguments, got 15/],
      ['Float64Array', 'gemm', g({ 6: new Float64Array(8) }), TypeError, /gemm: argument 'a' must be a Float32Array, got a Float64Array/],
      ['plain Array', 'gemm', g({ 7: [1, 2, 3] }), TypeError, /argument 'b' must be a Float32Array, got an Array/],
      ['transA not boolean', 'gemm', g({ 0: 1 }), TypeError, /argument 'transA' must be a boolean, got the number 1/],
      ['dim as string', 'gemm', g({ 2: '2' }), TypeError, /argument 'm' must be a number, got a string/],
      ['negative dim', 'gemm', g({ 3: -1 }), RangeError, /argument 'n' must be an integer in \[0, 2\^31-1\], got -1/],
      ['NaN dim', 'gemm', g({ 4: NaN }), RangeError, /argument 'k' .* got NaN/],
      ['fractional dim', 'gemm', g({ 2: 1.5 }), RangeError, /argument 'm' .* got 1.5/],
      ['infinite dim', 'gemm', g({ 2: Infinity }), RangeError, /got Infinity/],
      ['dim 2^31', 'gemm', g({ 2: 2 ** 31 }), RangeError, /argument 'm'/],
      ['huge product', 'gemm', g({ 2: 2 ** 31 - 1, 3: 2 ** 31 - 1, 4: 2 }), RangeError, /exceeds the 2\^31-1 limit/],
      ['short c', 'gemm', g({ 9: f(5) }), RangeError, /^gemm: argument 'c' has 5 elements, needs 6 \(m\*n\)$/],
      ['short a', 'gemm', g({ 6: f(7) }), RangeError, /argument 'a' has 7 elements, needs 8 \(m\*k\)/],
      ['batched strides too long', 'gemm', [...g({}), 3, 8, 0, 6], RangeError, /argument 'a' has 8 elements, needs 24 \(\(batch-1\)\*strideA \+ m\*k\)/],
      ['negative stride', 'gemm', [...g({}), 2, -8], RangeError, /argument 'strideA'/],
      ['detached buffer', 'gemm', g({ 6: detached() }), TypeError, /argument 'a' is backed by a detached ArrayBuffer/],
      ['c aliases a', 'gemm', (() => { const x = f(12); return [false, false, 2, 2, 2, 1, x, f(4), 0, x.subarray(2)]; })(), RangeError, /overlaps/],
      ['alpha not number', 'gemm', g({ 5: null }), TypeError, /argument 'alpha' must be a number, got null/],
      ['unknown unary op', 'unary', ['cube', f(2), f(2)], RangeError, /unary: unknown op 'cube'/],
      ['op not a string', 'unary', [3, f(2), f(2)], TypeError, /argument 'op' must be a string/],
      ['pow without p0', 'unary', ['pow', f(2), f(2)], TypeError, /argument 'p0' must be a number, got undefined/],
      ['short out', 'unary', ['exp', f(3), f(2)], RangeError, /argument 'out' has 2 elements, needs 3/],
      ['detached out', 'unary', ['exp', f(3), detached()], TypeError, /detached/],
      ['no broadcast', 'binary', ['add', f(6), [2, 3], f(4), [4], f(6), [2, 3]], RangeError, /^binary: \(add\) bShape: shapes \[2,3\] and \[4\] do not broadcast to outShape \[2,3\]$/],
      ['shape not array', 'binary', ['add', f(6), 6, f(6), [6], f(6), [6]], TypeError, /argument 'aShape' must be an Array/],
      ['shape with -1', 'binary', ['add', f(6), [-1], f(6), [6], f(6), [6]], RangeError, /argument 'aShape'\[0\]/],
      ['shape with NaN', 'binary', ['add', f(6), [6], f(6), [NaN], f(6), [6]], RangeError, /argument 'bShape'\[0\] .* NaN/],
      ['shape with string', 'binary', ['add', f(6), [6], f(6), ['6'], f(6), [6]], TypeError, /'bShape'\[0\] must be a number/],
      ['huge shape', 'binary', ['add', f(6), [65536, 65536], f(6), [1], f(6), [6]], RangeError, /more than 2\^31-1 elements/],
      ['short binary input', 'binary', ['mul', f(5), [2, 3], f(6), [2, 3], f(6), [2, 3]], RangeError, /argument 'a' has 5 elements, needs 6/],
      ['unknown reduce', 'reduce', ['mean', f(4), 1, 4, 1, f(1)], RangeError, /unknown op 'mean'/],
      ['short reduce x', 'reduce', ['sum', f(4), 2, 4, 1, f(2)], RangeError, /argument 'x' has 4 elements, needs 8 \(outer\*n\*inner\)/],
      ['argmax Float32 out', 'argmax', [f(4), 1, 4, 1, f(1)], TypeError, /argument 'out' must be an Int32Array, got a Float32Array/],
      ['argmax empty axis', 'argmax', [f(0), 1, 0, 1, new Int32Array(1)], RangeError, /empty axis/],
      ['sumTo bad target', 'sumTo', [f(6), [2, 3], f(2), [2]], RangeError, /does not broadcast/],
      ['softmax log not bool', 'softmax', [f(4), 1, 4, 1, f(4), 0], TypeError, /argument 'log' must be a boolean/],
      ['label too big', 'crossEntropy', [f(20), new Int32Array([1, 10]), 2, 10, f(20)], RangeError, /labels\[1\] = 10 is outside \[0, 10\)/],
      ['negative label', 'crossEntropyBackward', [f(20), new Int32Array([-1, 0]), 2, 10, 1, f(20)], RangeError, /labels\[0\] = -1/],
      ['labels as Float32Array', 'crossEntropy', [f(20), f(2), 2, 10, f(20)], TypeError, /argument 'labels' must be an Int32Array/],
      ['short labels', 'crossEntropy', [f(20), new Int32Array(1), 2, 10, f(20)], RangeError, /argument 'labels' has 1 elements, needs 2 \(rows\)/],
      ['index out of range', 'indexSelect', [f(10), 1, 10, 1, new Int32Array([0, 10]), f(2)], RangeError, /idx\[1\] = 10 is outside \[0, 10\)/],
      ['negative index', 'indexAdd', [f(2), 1, 10, 1, new Int32Array([3, -2]), f(10)], RangeError, /idx\[1\] = -2/],
      ['short indexSelect out', 'indexSelect', [f(10), 1, 10, 1, new Int32Array([0, 1, 2]), f(2)], RangeError, /argument 'out' has 2 elements, needs 3/],
      ['bad permutation', 'permute', [f(6), [2, 3], [0, 0], f(6)], RangeError, /not a permutation/],
      ['perm too long', 'permute', [f(6), [2, 3], [0, 1, 2], f(6)], RangeError, /not a permutation/],
      ['momentum without buffer', 'sgdStep', [f(4), f(4), null, true, sgd({ momentum: 0.9 })], TypeError, /argument 'buf' must be a Float32Array when momentum != 0/],
      ['NaN lr', 'sgdStep', [f(4), f(4), null, true, sgd({ lr: NaN })], RangeError, /^sgdStep: argument 'o.lr' must be a finite number, got NaN$/],
      ['missing option', 'sgdStep', [f(4), f(4), null, true, { lr: 0.1 }], TypeError, /argument 'o.momentum' must be a number, got undefined/],
      ['nesterov not boolean', 'sgdStep', [f(4), f(4), null, true, sgd({ nesterov: 1 })], TypeError, /argument 'o.nesterov' must be a boolean, got the number 1/],
      ['options not an object', 'sgdStep', [f(4), f(4), null, true, 2], TypeError, /^sgdStep: argument 'o' must be an options object, got the number 2$/],
      ['old positional call', 'sgdStep', [f(4), f(4), null, true, 0.1, 0, 0, false, 0], TypeError, /expected 5 to 6 arguments, got 9/],
      ['short grad', 'sgdStep', [f(4), f(3), null, true, sgd({})], RangeError, /argument 'grad' has 3 elements, needs 4/],
      ['adam step 0', 'adamStep', [f(4), f(4), f(4), f(4), 0, adam({})], RangeError, /step' must be >= 1/],
      ['adam short v', 'adamStep', [f(4), f(4), f(4), f(1), 1, adam({})], RangeError, /argument 'v' has 1 elements/],
      ['adam Infinity eps', 'adamStep', [f(4), f(4), f(4), f(4), 1, adam({ eps: Infinity })], RangeError, /argument 'o.eps' must be a finite number, got Infinity/],
      ['adam decoupled missing', 'adamStep', [f(4), f(4), f(4), f(4), 1, adam({ decoupled: undefined })], TypeError, /argument 'o.decoupled' must be a boolean, got undefined/],
      ['threads 0', 'setNumThreads', [0], RangeError, /setNumThreads: argument 'n' must be in \[1, 1024\]/],
      ['threads string', 'setNumThreads', ['2'], TypeError, /argument 'n' must be a number/],
      ['getNumThreads with args', 'getNumThreads', [1], TypeError, /expected 0 arguments, got 1/],
    ];
    for (const [name, fn, args, Err, msg] of cases) {
      it(`${fn}: ${name}`, () => {
        let caught: unknown;
        try {
          A[fn](...args);
        } catch (e) {
          caught = e;
        }
        expect(caught, 'should throw').toBeInstanceOf(Err);
        expect((caught as Error).message).toMatch(msg);
      });
    }
    it('an exception from a shape or option getter propagates unchanged', () => {
      const s = [2];
      Object.defineProperty(s, 0, { get() { throw new Error('boom'); } });
      expect(() => A.binary('add', f(2), s, f(2), [2], f(2), [2])).toThrow('boom');
      const o = adam({});
      Object.defineProperty(o, 'lr', { get() { throw new Error('bang'); } });
      expect(() => A.adamStep(f(2), f(2), f(2), f(2), 1, o)).toThrow('bang');
    });
    it('a shape getter that detaches an array buffer cannot make the kernel touch freed memory', () => {
      const a = f(1 << 16), s = [1 << 16];
      Object.defineProperty(s, 0, { get() { structuredClone(a.buffer, { transfer: [a.buffer] }); return 1 << 16; } });
      expect(() => A.binary('add', a, s, f(1 << 16), [1 << 16], f(1 << 16), [1 << 16])).toThrow(/argument 'a' is backed by a detached ArrayBuffer/);
      const x = f(64), xs = [8, 8];
      Object.defineProperty(xs, 1, { get() { structuredClone(x.buffer, { transfer: [x.buffer] }); return 8; } });
      expect(() => A.sumTo(x, xs, f(8), [8])).toThrow(TypeError);
      const y = f(64), perm = [1, 0];
      Object.defineProperty(perm, 0, { get() { structuredClone(y.buffer, { transfer: [y.buffer] }); return 1; } });
      expect(() => A.permute(y, [8, 8], perm, f(64))).toThrow(/argument 'x' is backed by a detached ArrayBuffer/);
      const p = f(64), o = sgd({});
      Object.defineProperty(o, 'weightDecay', { get() { structuredClone(p.buffer, { transfer: [p.buffer] }); return 0; } });
      expect(() => A.sgdStep(p, f(64), null, true, o)).toThrow(/argument 'param' is backed by a detached ArrayBuffer/);
    });
    it('fuzz: 5000 random argument lists never crash, only TypeError/RangeError', () => {
      const r = rng(2024);
      const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
      const values = (): unknown => pick<() => unknown>([
        () => f(Math.floor(r() * 40)), () => new Int32Array(Math.floor(r() * 8)).fill(Math.floor(r() * 12) - 2),
        () => new Float64Array(4), () => Math.floor(r() * 10) - 2, () => r() * 5, () => NaN, () => 2 ** 40,
        () => true, () => false, () => null, () => undefined, () => 'sum', () => 'add', () => 'exp', () => [2, 3],
        () => [Math.floor(r() * 5)], () => ({}), () => detached(), () => [1, 0],
      ])();
      const names = Object.keys(A).filter((k) => k !== 'gemmAsync' && k !== 'setNumThreads');
      for (let t = 0; t < 5000; t++) {
        const fn = pick(names);
        const args = Array.from({ length: Math.floor(r() * 13) }, values);
        try {
          A[fn](...args);
        } catch (e) {
          if (!(e instanceof TypeError || e instanceof RangeError)) throw e;
        }
      }
    });
  });

  // ---- worker threads ---------------------------------------------------------------------------
  it('loads in 4 worker_threads at once (context-aware) and computes correct results there', async () => {
    const path = nativeAddonPath();
    const n = 96;
    const a = randn(n * n, 31), b = randn(n * n, 32);
    const ref = new Float32Array(n * n);
    addon!.gemm(false, false, n, n, n, 1, a, b, 0, ref);
    const refSoft = new Float32Array(n * n);
    addon!.softmax(a, n, n, 1, refSoft, true);
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const addon = require(workerData.path);
      const { n, a, b } = workerData;
      let c = new Float32Array(n * n), s = new Float32Array(n * n), bad = 0;
      for (let i = 0; i < 50; i++) {
        addon.gemm(false, false, n, n, n, 1, a, b, 0, c);
        try { addon.gemm(false, false, n, n, n, 1, a, b, 0, new Float32Array(3)); } catch (e) { if (e instanceof RangeError) bad++; }
      }
      addon.softmax(a, n, n, 1, s, true);
      addon.gemmAsync(false, false, n, n, n, 1, a, b, 0, new Float32Array(n * n)).then(() => {
        parentPort.postMessage({ c, s, bad, threads: addon.getNumThreads() });
      });
    `;
    const results = await Promise.all([0, 1, 2, 3].map(() => new Promise<{ c: Float32Array; s: Float32Array; bad: number; threads: number }>(
      (res, rej) => {
        const w = new Worker(code, { eval: true, workerData: { path, n, a, b } });
        w.once('message', (m) => { res(m); void w.terminate(); });
        w.once('error', rej);
        w.once('exit', (code) => { if (code !== 0 && code !== 1) rej(new Error(`worker exited with ${code}`)); });
      })));
    for (const r of results) {
      expect(Array.from(r.c)).toEqual(Array.from(ref));
      expect(Array.from(r.s)).toEqual(Array.from(refSoft));
      expect(r.bad).toBe(50);
      expect(r.threads).toBeGreaterThanOrEqual(1);
    }
    // The main thread's instance still works after the workers are gone.
    const c = new Float32Array(n * n);
    addon!.gemm(false, false, n, n, n, 1, a, b, 0, c);
    expect(Array.from(c)).toEqual(Array.from(ref));
  }, 60_000);
});
