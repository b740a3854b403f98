// The JS backend against naive, obviously-correct references written here, in float64.
import { describe, it, expect } from 'vitest';
import { jsBackend as k } from '../lib/backend/js.js';
import type { BinaryOp, FloatArray, UnaryOp } from '../lib/backend/backend.js';
import { BINARY_OPS, KERNEL_NAMES, REDUCE_OPS, UNARY_OPS } from '../lib/backend/catalogue.js';
import { gemmPlainJs, SMALL_GEMM } from '../lib/backend/js/gemm.js';
import { simdGemm } from '../lib/backend/js/gemm-simd.js';
import { erfScalar } from '../lib/backend/js/erf.js';

// mulberry32: a small seeded PRNG, so failures reproduce.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = rng(12345);
function randArray(n: number, f64 = false): FloatArray {
  const a = f64 ? new Float64Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rand() * 2 - 1;
  return a;
}
const size = (s: readonly number[]): number => s.reduce((p, d) => p * d, 1);

/** |actual - expected| <= rtol·|expected| + atol, element-wise, with the first failure reported. */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol = 0): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i], a = actual[i];
    if (Number.isNaN(e)) { expect(a, `index ${i}`).toBeNaN(); continue; }
    if (a !== e && !(Math.abs(a - e) <= rtol * Math.abs(e) + atol)) {
      expect.fail(`index ${i}: got ${a}, expected ${e} (rtol ${rtol}, atol ${atol})`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
describe('catalogue', () => {
  it('the JS backend implements every kernel of the catalogue', () => {
    for (const name of KERNEL_NAMES) expect(typeof k[name], name).toBe('function');
  });
});

// ---------------------------------------------------------------------------------------------
describe('gemm', () => {
  /** Triple loop in float64; also returns Σ|alpha·a·b| + |beta·c| per element, the error scale. */
  function refGemm(
    tA: boolean, tB: boolean, m: number, n: number, kk: number, alpha: number,
    a: FloatArray, aOff: number, b: FloatArray, bOff: number, beta: number, c: ArrayLike<number>, cOff: number,
  ): { val: Float64Array; scale: Float64Array } {
    const val = new Float64Array(m * n), scale = new Float64Array(m * n);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0, abs = 0;
        for (let p = 0; p < kk; p++) {
          const av = tA ? a[aOff + p * m + i] : a[aOff + i * kk + p];
          const bv = tB ? b[bOff + j * kk + p] : b[bOff + p * n + j];
          s += av * bv;
          abs += Math.abs(av * bv);
        }
        const old = beta === 0 ? 0 : beta * c[cOff + i * n + j];
        val[i * n + j] = alpha * s + old;
        scale[i * n + j] = Math.abs(alpha) * abs + Math.abs(old);
      }
    }
    return { val, scale };
  }

  /**
   * Accumulation is in double but in a different order (blocked) and C is float32, so the error
   * is bounded by a relative 1e-6·(number of k blocks + 1) of Σ|terms|; 2e-6 covers k ≤ 512 comfortably.
   */
  function check(
    tA: boolean, tB: boolean, m: number, n: number, kk: number, alpha = 1, beta = 0, f64 = false,
  ): void {
    const a = randArray(m * kk, f64), b = randArray(kk * n, f64);
    const c = randArray(m * n, f64);
    const c0 = Float64Array.from(c);
    k.gemm(tA, tB, m, n, kk, alpha, a, b, beta, c);
    const { val, scale } = refGemm(tA, tB, m, n, kk, alpha, a, 0, b, 0, beta, c0, 0);
    const tol = f64 ? 1e-13 : 2e-6;
    for (let i = 0; i < m * n; i++) {
      if (!(Math.abs(c[i] - val[i]) <= tol * scale[i] + 1e-30)) {
        expect.fail(`gemm ${tA} ${tB} ${m}x${n}x${kk} at ${i}: got ${c[i]}, expected ${val[i]}`);
      }
    }
  }

  const shapes: [number, number, number][] = [
    [1, 1, 1], [1, 1, 7], [5, 6, 1], [3, 4, 5], // tiny, k = 1 (direct path)
    [300, 3, 7], [3, 300, 5], [200, 2, 100], // tall/skinny and wide
    [37, 41, 29], [64, 64, 64], [67, 129, 33], [5, 70, 300], // blocked path, ragged edges
  ];
  for (const [m, n, kk] of shapes) {
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        it(`${m}x${n}x${kk} transA=${tA} transB=${tB}`, () => check(tA, tB, m, n, kk));
      }
    }
  }

  it('sizes past 512 (several k blocks and n blocks), all transposes', () => {
    check(false, false, 520, 530, 600);
    check(true, true, 70, 600, 520);
    check(true, false, 520, 40, 530);
    check(false, true, 33, 520, 515);
  });

  it('alpha and beta, direct and blocked paths', () => {
    check(false, false, 4, 5, 6, 0.5, -2);
    check(true, true, 40, 50, 60, -1.5, 0.25);
    check(false, true, 40, 50, 60, 2, 1);
    check(false, false, 40, 50, 60, 0, 3); // alpha = 0: C = beta·C
  });

  it('float64 matches the reference to ~1e-13', () => {
    check(false, false, 50, 60, 70, 1.25, 0.5, true);
    check(true, true, 3, 4, 5, 1, 0, true);
  });

  it('beta = 0 overwrites C, ignoring NaN', () => {
    for (const [m, n, kk] of [[2, 3, 4], [40, 50, 60]] as const) {
      const a = randArray(m * kk), b = randArray(kk * n);
      const c = new Float32Array(m * n).fill(NaN);
      k.gemm(false, false, m, n, kk, 1, a, b, 0, c);
      const { val } = refGemm(false, false, m, n, kk, 1, a, 0, b, 0, 0, c, 0);
      expectClose(c, val, 1e-5, 1e-6);
    }
  });

  it('k = 0 gives beta·C', () => {
    const c = Float32Array.from([1, 2, 3, 4]);
    k.gemm(false, false, 2, 2, 0, 1, new Float32Array(0), new Float32Array(0), 2, c);
    expect(Array.from(c)).toEqual([2, 4, 6, 8]);
  });

  it('batched with strides, and stride 0 broadcasting', () => {
    const batch = 3, m = 6, n = 7, kk = 5;
    for (const [tA, tB, sA, sB] of [[false, false, m * kk, kk * n], [true, false, 0, kk * n], [false, true, m * kk, 0]] as const) {
      const a = randArray(sA === 0 ? m * kk : batch * m * kk), b = randArray(sB === 0 ? kk * n : batch * kk * n);
      const c = randArray(batch * m * n);
      const c0 = Float64Array.from(c);
      k.gemm(tA, tB, m, n, kk, 1.5, a, b, 0.5, c, batch, sA, sB, m * n);
      for (let t = 0; t < batch; t++) {
        const { val } = refGemm(tA, tB, m, n, kk, 1.5, a, t * sA, b, t * sB, 0.5, c0, t * m * n);
        expectClose(c.subarray(t * m * n, (t + 1) * m * n), val, 1e-5, 1e-6);
      }
    }
    // Blocked path with a broadcast B (a shared weight matrix).
    const bm = 40, bn = 30, bk = 50;
    const a = randArray(2 * bm * bk), b = randArray(bk * bn), c = new Float32Array(2 * bm * bn);
    k.gemm(false, false, bm, bn, bk, 1, a, b, 0, c, 2, bm * bk, 0, bm * bn);
    for (let t = 0; t < 2; t++) {
      const { val } = refGemm(false, false, bm, bn, bk, 1, a, t * bm * bk, b, 0, 0, c, 0);
      expectClose(c.subarray(t * bm * bn, (t + 1) * bm * bn), val, 1e-5, 1e-6);
    }
  });

  it('gemmAsync resolves with gemm\'s result, and rejects (does not throw) on bad arguments', async () => {
    const a = randArray(3 * 4), b = randArray(4 * 5), c1 = new Float32Array(15), c2 = new Float32Array(15);
    k.gemm(false, false, 3, 5, 4, 1, a, b, 0, c1);
    const p = k.gemmAsync(false, false, 3, 5, 4, 1, a, b, 0, c2);
    expect(p).toBeInstanceOf(Promise);
    await p;
    expect(Array.from(c2)).toEqual(Array.from(c1));
    await expect(k.gemmAsync(false, false, 2, 2, 2, 1, a, a, 0, new Float32Array(3))).rejects.toThrow(RangeError);
  });

  it('throws a RangeError naming gemm when an array is too small', () => {
    expect(() => k.gemm(false, false, 2, 2, 2, 1, new Float32Array(3), new Float32Array(4), 0, new Float32Array(4)))
      .toThrow(/gemm.*A/);
  });

  // Random shapes against refGemm, on both micro-kernels: WebAssembly SIMD (what jsBackend.gemm runs
  // here) and plain JS (what runs where SIMD is missing). Dimensions 0..37 exercise every ragged
  // edge of the 4×4 tiles; sizes past KC = NC = 256 and ROWS = 512 (gemm-simd.ts) cross the blocks.
  describe('random shapes, transposes, batches and strides', () => {
    const r = rng(2024);
    const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
    const dim = (): number => (r() < 0.6 ? int(0, 37) : int(38, 300));
    type Case = { tA: boolean; tB: boolean; m: number; n: number; kk: number; alpha: number; beta: number; batch: number; sA: number; sB: number; sC: number };
    const cases: Case[] = [];
    const add = (m: number, n: number, kk: number): void => {
      const batch = r() < 0.3 ? int(2, 3) : 1;
      // strides: packed, with a gap, or 0 (one operand shared by every batch)
      const stride = (size: number): number => (batch > 1 && r() < 0.25 ? 0 : size + (r() < 0.5 ? int(1, 9) : 0));
      cases.push({
        tA: r() < 0.5, tB: r() < 0.5, m, n, kk, batch,
        alpha: [1, -0.5, 2.25][int(0, 2)], beta: [0, 0, 1, 0.5][int(0, 3)],
        sA: stride(m * kk), sB: stride(kk * n), sC: m * n + (r() < 0.5 ? int(1, 5) : 0),
      });
    };
    for (let i = 0; i < 150; i++) add(dim(), dim(), dim());
    for (let m = 0; m <= 37; m++) add(m, 37 - m + int(30, 60), int(20, 40)); // every tail of m past SMALL_GEMM
    for (const [m, n, kk] of [[530, 37, 70], [33, 261, 300], [70, 40, 520], [600, 270, 9], [515, 258, 257]]) add(m, n, kk);

    function run(g: typeof k.gemm, c: Case): void {
      const { tA, tB, m, n, kk, alpha, beta, batch, sA, sB, sC } = c;
      const a = randArray(Math.max(m * kk, (batch - 1) * sA + m * kk));
      const b = randArray(Math.max(kk * n, (batch - 1) * sB + kk * n));
      const out = randArray((batch - 1) * sC + m * n);
      if (beta === 0) out.fill(NaN); // beta = 0 overwrites, NaN or not
      const c0 = Float64Array.from(out);
      g(tA, tB, m, n, kk, alpha, a, b, beta, out, batch, sA, sB, sC);
      const what = `${m}x${n}x${kk} tA=${tA} tB=${tB} alpha=${alpha} beta=${beta} batch=${batch} strides ${sA},${sB},${sC}`;
      for (let t = 0; t < batch; t++) {
        const { val, scale } = refGemm(tA, tB, m, n, kk, alpha, a, t * sA, b, t * sB, beta, c0, t * sC);
        for (let i = 0; i < m * n; i++) {
          const got = out[t * sC + i];
          if (!(Math.abs(got - val[i]) <= 2e-6 * scale[i] + 1e-30)) expect.fail(`${what}: batch ${t} element ${i}: got ${got}, expected ${val[i]}`);
        }
        // the gap between two batches' C is not written
        for (let i = m * n; i < sC && t + 1 < batch; i++) expect(Object.is(out[t * sC + i], c0[t * sC + i]), `${what}: gap ${i}`).toBe(true);
      }
    }

    it('covers the blocked path on many ragged shapes', () => {
      expect(cases.filter((c) => c.m * c.n * c.kk > SMALL_GEMM && Math.min(c.m % 4, c.n % 4) > 0).length).toBeGreaterThan(40);
    });
    it('WebAssembly SIMD micro-kernel (jsBackend.gemm)', () => {
      expect(simdGemm()).not.toBeNull(); // Node ≥ 16.4 has WebAssembly SIMD on every platform it ships for
      for (const c of cases) run(k.gemm, c);
    });
    it('plain-JS micro-kernel', () => {
      for (const c of cases) run(gemmPlainJs, c);
    });
    it('both micro-kernels give bit-identical results (the same float64 operations in the same order)', () => {
      for (const c of cases.filter((x) => x.m * x.n * x.kk > SMALL_GEMM)) {
        const { tA, tB, m, n, kk, alpha, beta } = c;
        const a = randArray(m * kk), b = randArray(kk * n), c1 = randArray(m * n), c2 = Float32Array.from(c1);
        k.gemm(tA, tB, m, n, kk, alpha, a, b, beta, c1);
        gemmPlainJs(tA, tB, m, n, kk, alpha, a, b, beta, c2);
        expect(Buffer.from(c1.buffer).equals(Buffer.from(c2.buffer)), `${m}x${n}x${kk} tA=${tA} tB=${tB}`).toBe(true);
      }
    });
    it('float64 through both micro-kernels matches to ~1e-13', () => {
      for (const g of [k.gemm, gemmPlainJs]) {
        for (const [tA, tB, m, n, kk] of [[false, true, 37, 41, 300], [true, false, 530, 6, 33]] as const) {
          const a = randArray(m * kk, true), b = randArray(kk * n, true), out = new Float64Array(m * n).fill(NaN);
          g(tA, tB, m, n, kk, 1.5, a, b, 0, out);
          const { val, scale } = refGemm(tA, tB, m, n, kk, 1.5, a, 0, b, 0, 0, out, 0);
          for (let i = 0; i < m * n; i++) expect(Math.abs(out[i] - val[i]) <= 1e-13 * scale[i], `${m}x${n}x${kk} at ${i}`).toBe(true);
        }
      }
    });
  });
});

// ---------------------------------------------------------------------------------------------
describe('unary', () => {
  const x = Float64Array.from([-3, -1.5, -0.5, 0, 0.25, 1, 2.5, 800, -800]);
  const cases: [UnaryOp, (v: number) => number, number?, number?][] = [
    ['exp', Math.exp], ['log', Math.log], ['sqrt', Math.sqrt], ['abs', Math.abs],
    ['sigmoid', (v) => 1 / (1 + Math.exp(-v))], ['tanh', Math.tanh], ['relu', (v) => (v > 0 ? v : 0)],
    ['sign', (v) => Math.sign(v)],
    ['pow', (v) => v ** 3, 3], ['pow', (v) => v * v, 2], ['pow', (v) => v ** 0.5, 0.5],
    ['clamp', (v) => Math.min(Math.max(v, -1), 2), -1, 2], ['affine', (v) => 2 * v + 0.5, 2, 0.5],
    ['sin', Math.sin], ['cos', Math.cos], ['log1p', Math.log1p], ['expm1', Math.expm1], ['erf', erfScalar],
    ['gelu', (v) => v * 0.5 * (1 + erfScalar(v / Math.SQRT2))],
    // x/2·(1 + tanh u) written as x·σ(2u), which does not cancel for x << 0
    ['softplus', (v) => (v > 20 ? v : Math.log1p(Math.exp(v))), 1, 20],
    ['softplus', (v) => (2 * v > 1 ? v : Math.log1p(Math.exp(2 * v)) / 2), 2, 1],
    ['geluTanh', (v) => v / (1 + Math.exp(-2 * Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)))],
  ];
  for (const [op, f, p0, p1] of cases) {
    it(`${op}${p0 !== undefined ? ` p0=${p0}` : ''}`, () => {
      const out = new Float64Array(x.length);
      k.unary(op, x, out, p0, p1);
      expectClose(out, Array.from(x, f), 1e-15);
      // float32, in place (out aliases x)
      const x32 = Float32Array.from(x);
      k.unary(op, x32, x32, p0, p1);
      expectClose(x32, Array.from(Float32Array.from(x), (v) => Math.fround(f(v))), 0);
    });
  }
  it('covers every unary op of the catalogue', () => {
    expect(new Set(cases.map((c) => c[0]))).toEqual(new Set(UNARY_OPS));
  });
  it('sigmoid saturates without NaN; relu keeps NaN', () => {
    const out = new Float64Array(3);
    k.unary('sigmoid', Float64Array.from([-1000, 1000, 0]), out);
    expect(Array.from(out)).toEqual([0, 1, 0.5]);
    k.unary('relu', Float64Array.from([NaN, -2, 3]), out);
    expect(out[0]).toBeNaN();
    expect(Array.from(out.subarray(1))).toEqual([0, 3]);
  });
});

// ---------------------------------------------------------------------------------------------
describe('binary', () => {
  const refOps: Record<BinaryOp, (a: number, b: number) => number> = {
    add: (a, b) => a + b, sub: (a, b) => a - b, mul: (a, b) => a * b, div: (a, b) => a / b,
    maximum: Math.max,
    eq: (a, b) => (a === b ? 1 : 0), gt: (a, b) => (a > b ? 1 : 0), lt: (a, b) => (a < b ? 1 : 0),
    reluGrad: (a, b) => (a > 0 ? b : 0), sigmoidGrad: (a, b) => b * a * (1 - a), tanhGrad: (a, b) => b * (1 - a * a),
    // textbook derivatives (inputs in [-1, 1]: no cancellation to avoid)
    geluGrad: (x, g) => g * (0.5 * (1 + erfScalar(x / Math.SQRT2)) + x * Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI)),
    geluTanhGrad: (x, g) => {
      const k = Math.sqrt(2 / Math.PI), t = Math.tanh(k * (x + 0.044715 * x ** 3));
      return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x));
    },
  };
  function broadcastShape(s1: readonly number[], s2: readonly number[]): number[] {
    const nd = Math.max(s1.length, s2.length);
    return Array.from({ length: nd }, (_, i) => {
      const d1 = s1[i - nd + s1.length] ?? 1, d2 = s2[i - nd + s2.length] ?? 1;
      return d1 === 1 ? d2 : d1;
    });
  }
  /** Flat index into `shape` of the out multi-index, NumPy-style (right-aligned, size-1 axes repeat). */
  function srcIndex(flat: number, outShape: readonly number[], shape: readonly number[]): number {
    let idx = 0, mul = 1;
    for (let d = outShape.length - 1; d >= 0; d--) {
      const coord = flat % outShape[d];
      flat = Math.floor(flat / outShape[d]);
      const sd = d - (outShape.length - shape.length);
      if (sd >= 0) {
        if (shape[sd] !== 1) idx += coord * mul;
        mul *= shape[sd];
      }
    }
    return idx;
  }
  function refBinary(op: BinaryOp, a: FloatArray, as: number[], b: FloatArray, bs: number[], os: number[]): number[] {
    return Array.from({ length: size(os) }, (_, i) => Math.fround(refOps[op](a[srcIndex(i, os, as)], b[srcIndex(i, os, bs)])));
  }

  const shapePairs: [number[], number[]][] = [
    [[2, 3], [2, 3]], [[2, 3], [3]], [[2, 1], [1, 3]], [[4, 1, 3], [2, 1]], [[2, 3], []], [[], [2, 3]],
    [[5, 4], [5, 1]], [[3], [2, 3]], [[2, 3, 4], [3, 1]], [[5, 1, 4, 1], [3, 1, 2]], [[1], [1]], [[2, 3, 4], [1, 3, 4]],
    [[2, 0, 3], [3]],
  ];
  for (const [as, bs] of shapePairs) {
    it(`${JSON.stringify(as)} op ${JSON.stringify(bs)}, every op`, () => {
      const os = broadcastShape(as, bs);
      const a = randArray(size(as)), b = randArray(size(bs));
      for (const op of Object.keys(refOps) as BinaryOp[]) {
        const out = new Float32Array(size(os));
        k.binary(op, a, as, b, bs, out, os);
        expectClose(out, refBinary(op, a, as, b, bs, os), 0); // same double op, same rounding: exact
      }
    });
  }

  it('covers every binary op of the catalogue', () => {
    expect(Object.keys(refOps).sort()).toEqual([...BINARY_OPS].sort());
  });

  it('eq/maximum on equal values; out aliasing a', () => {
    const a = Float32Array.from([1, 2, 3, 4]), b = Float32Array.from([1, 5, 3, 0]);
    const out = new Float32Array(4);
    k.binary('eq', a, [4], b, [4], out, [4]);
    expect(Array.from(out)).toEqual([1, 0, 1, 0]);
    k.binary('add', a, [2, 2], Float32Array.from([10, 20]), [2], a, [2, 2]);
    expect(Array.from(a)).toEqual([11, 22, 13, 24]);
  });

  it('throws naming the op and shapes when shapes do not broadcast', () => {
    const out = new Float32Array(6);
    expect(() => k.binary('add', new Float32Array(6), [2, 3], new Float32Array(2), [2], out, [2, 3]))
      .toThrow(/binary add.*\[2\].*\[2, 3\]/);
  });
});

// ---------------------------------------------------------------------------------------------
describe('reductions', () => {
  const shape = [3, 4, 5];
  const x = randArray(60);
  const at = (i: number, j: number, l: number): number => x[(i * 4 + j) * 5 + l];

  /** Reduce axis `ax` of [3,4,5] with f starting at init, in index order. */
  function ref(ax: number, f: (s: number, v: number) => number, init: number): number[] {
    const res: number[] = [];
    for (let i = 0; i < (ax === 0 ? 1 : 3); i++) {
      for (let j = 0; j < (ax === 1 ? 1 : 4); j++) {
        for (let l = 0; l < (ax === 2 ? 1 : 5); l++) {
          let s = init;
          for (let t = 0; t < shape[ax]; t++) s = f(s, at(ax === 0 ? t : i, ax === 1 ? t : j, ax === 2 ? t : l));
          res.push(s);
        }
      }
    }
    return res;
  }
  const views: [number, number, number][] = [[1, 3, 20], [3, 4, 5], [12, 5, 1]]; // axis 0, 1, 2

  for (let ax = 0; ax < 3; ax++) {
    const [outer, n, inner] = views[ax];
    it(`sum/max/argmax over axis ${ax}`, () => {
      expect([...REDUCE_OPS]).toEqual(['sum', 'max']); // the ones checked here
      const out = new Float32Array(outer * inner);
      k.reduce('sum', x, outer, n, inner, out);
      // Both accumulate in double in index order; only the final float32 rounding differs.
      expectClose(out, ref(ax, (s, v) => s + v, 0), 1e-6, 1e-7);
      k.reduce('max', x, outer, n, inner, out);
      expectClose(out, ref(ax, Math.max, -Infinity), 0);
      const idx = new Int32Array(outer * inner);
      k.argmax(x, outer, n, inner, idx);
      const maxes = ref(ax, Math.max, -Infinity);
      idx.forEach((j, o) => {
        const oo = Math.floor(o / inner), ii = o % inner;
        expect(x[(oo * n + j) * inner + ii]).toBe(maxes[o]);
      });
    });
  }

  it('argmax returns the first maximum; max propagates NaN', () => {
    const idx = new Int32Array(2);
    k.argmax(Float32Array.from([1, 3, 3, 0, 5, 5, 5, 1]), 2, 4, 1, idx);
    expect(Array.from(idx)).toEqual([1, 0]);
    const out = new Float32Array(1);
    k.reduce('max', Float32Array.from([1, NaN, 2]), 1, 3, 1, out);
    expect(out[0]).toBeNaN();
  });

  function refSumTo(xs: FloatArray, xShape: number[], outShape: number[]): number[] {
    const res = new Array<number>(size(outShape)).fill(0);
    for (let i = 0; i < size(xShape); i++) {
      // srcIndex with the roles of the shapes: where x's element i lands in out.
      let flat = i, idx = 0, mul = 1;
      for (let d = xShape.length - 1; d >= 0; d--) {
        const coord = flat % xShape[d];
        flat = Math.floor(flat / xShape[d]);
        const od = d - (xShape.length - outShape.length);
        if (od >= 0) {
          if (outShape[od] !== 1) idx += coord * mul;
          mul *= outShape[od];
        }
      }
      res[idx] += xs[i];
    }
    return res;
  }
  const sumToCases: [number[], number[]][] = [
    [[6, 7], [7]], [[6, 7], []], [[6, 7], [1, 1]], [[6, 7], [6, 1]], [[2, 3, 4], [3, 1]],
    [[2, 3, 4], [1, 3, 4]], [[2, 3, 4], [2, 1, 4]], [[4, 1, 3], [1, 3]], [[2, 3], [2, 3]], [[3, 4, 5, 2], [4, 1, 2]],
  ];
  for (const [xs, os] of sumToCases) {
    it(`sumTo ${JSON.stringify(xs)} -> ${JSON.stringify(os)}`, () => {
      const xa = randArray(size(xs));
      const out = new Float32Array(size(os));
      k.sumTo(xa, xs, out, os);
      // Double accumulation, different order: ~1e-7 of a sum of ≤ 120 terms of size ≤ 1.
      expectClose(out, refSumTo(xa, xs, os), 1e-6, 1e-6);
    });
  }
  it('sumTo rejects a shape that does not broadcast', () => {
    expect(() => k.sumTo(new Float32Array(6), [2, 3], new Float32Array(2), [2])).toThrow(/sumTo/);
  });
});

// ---------------------------------------------------------------------------------------------
describe('softmax and cross-entropy', () => {
  it('softmax rows sum to 1 and match exp(x)/Σexp(x); log-softmax matches log', () => {
    for (const [outer, n, inner] of [[4, 7, 1], [2, 5, 3], [1, 1, 1]] as const) {
      const x = randArray(outer * n * inner);
      for (let i = 0; i < x.length; i++) x[i] *= 10;
      const p = new Float32Array(x.length), lp = new Float32Array(x.length);
      k.softmax(x, outer, n, inner, p, false);
      k.softmax(x, outer, n, inner, lp, true);
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          const at = (j: number): number => (o * n + j) * inner + i;
          let z = 0, sum = 0, lsum = 0;
          for (let j = 0; j < n; j++) z += Math.exp(x[at(j)]);
          for (let j = 0; j < n; j++) {
            expect(Math.abs(p[at(j)] - Math.exp(x[at(j)]) / z)).toBeLessThan(1e-6);
            expect(Math.abs(lp[at(j)] - (x[at(j)] - Math.log(z)))).toBeLessThan(1e-5);
            sum += p[at(j)];
            lsum += Math.exp(lp[at(j)]);
          }
          expect(Math.abs(sum - 1)).toBeLessThan(1e-6);
          expect(Math.abs(lsum - 1)).toBeLessThan(1e-5);
        }
      }
    }
  });

  it('is stable for large logits and works in place', () => {
    const x = Float32Array.from([1000, 1001, 1002]);
    k.softmax(x, 1, 3, 1, x, false);
    expectClose(x, [0.09003057317038045, 0.2447284710547976, 0.6652409557748218], 1e-6);
    const y = Float32Array.from([-1000, -1001]);
    k.softmax(y, 1, 2, 1, y, true);
    expectClose(y, [-0.31326168751822286, -1.3132616875182228], 1e-6);
  });

  it('crossEntropy equals the hand-computed value and writes probabilities', () => {
    const logits = Float64Array.from([1, 2, 3, 0, 0, 0]);
    const probs = new Float64Array(6);
    // row 0: log(e + e² + e³) - 3 = log(1 + e + e²) - 2; row 1: log 3.
    const loss = k.crossEntropy(logits, Int32Array.from([2, 0]), 2, 3, probs);
    expect(loss).toBeCloseTo((0.4076059644443801 + 1.0986122886681098) / 2, 14);
    expectClose(probs, [0.09003057317038045, 0.2447284710547976, 0.6652409557748218, 1 / 3, 1 / 3, 1 / 3], 1e-14);

    const g = new Float64Array(6);
    k.crossEntropyBackward(probs, Int32Array.from([2, 0]), 2, 3, 0.5, g);
    expectClose(g, [0.5 * 0.09003057317038045, 0.5 * 0.2447284710547976, 0.5 * (0.6652409557748218 - 1),
      0.5 * (1 / 3 - 1), 0.5 / 3, 0.5 / 3], 1e-14);
  });

  it('invalid labels throw a RangeError naming the op, label and row', () => {
    const probs = new Float32Array(6);
    expect(() => k.crossEntropy(new Float32Array(6), Int32Array.from([0, 3]), 2, 3, probs))
      .toThrow(/crossEntropy: label 3 at row 1/);
    expect(() => k.crossEntropy(new Float32Array(6), Int32Array.from([-1, 0]), 2, 3, probs))
      .toThrow(RangeError);
    expect(() => k.crossEntropyBackward(probs, Int32Array.from([0, 7]), 2, 3, 1, new Float32Array(6)))
      .toThrow(/crossEntropyBackward: label 7 at row 1/);
  });
});

// ---------------------------------------------------------------------------------------------
describe('indexSelect, indexAdd, permute', () => {
  it('indexSelect picks [outer, idx[j], inner], with repeats', () => {
    const outer = 2, n = 4, inner = 3;
    const x = randArray(outer * n * inner);
    const idx = Int32Array.from([3, 0, 3]);
    const out = new Float32Array(outer * idx.length * inner);
    k.indexSelect(x, outer, n, inner, idx, out);
    const ref: number[] = [];
    for (let o = 0; o < outer; o++) for (const j of idx) for (let i = 0; i < inner; i++) ref.push(x[(o * n + j) * inner + i]);
    expectClose(out, ref, 0);
  });

  it('indexAdd accumulates repeats and does not zero out', () => {
    const outer = 2, n = 3, inner = 2;
    const idx = Int32Array.from([2, 0, 2]);
    const g = Float64Array.from({ length: outer * idx.length * inner }, (_, i) => i + 1);
    const out = new Float64Array(outer * n * inner).fill(100);
    k.indexAdd(g, outer, n, inner, idx, out);
    // outer 0: g rows [1,2] [3,4] [5,6] -> row2 += [1,2]+[5,6], row0 += [3,4]; outer 1 likewise +6.
    expect(Array.from(out)).toEqual([103, 104, 100, 100, 106, 108, 109, 110, 100, 100, 118, 120]);
  });

  it('out-of-range indices throw a RangeError naming the op, index and n', () => {
    expect(() => k.indexSelect(new Float32Array(8), 1, 4, 2, Int32Array.from([1, 4]), new Float32Array(4)))
      .toThrow(/indexSelect: index 4 .*n = 4/);
    expect(() => k.indexAdd(new Float32Array(4), 1, 4, 2, Int32Array.from([-1, 0]), new Float32Array(8)))
      .toThrow(/indexAdd: index -1 .*n = 4/);
  });

  function refPermute(x: FloatArray, shape: number[], perm: number[]): number[] {
    const outShape = perm.map((p) => shape[p]);
    const xStrides = shape.map((_, d) => size(shape.slice(d + 1)));
    return Array.from({ length: size(shape) }, (_, flat) => {
      let src = 0;
      for (let d = outShape.length - 1; d >= 0; d--) {
        src += (flat % outShape[d]) * xStrides[perm[d]];
        flat = Math.floor(flat / outShape[d]);
      }
      return x[src];
    });
  }
  const perms3 = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
  const permCases: [number[], number[]][] = [
    [[3, 5], [1, 0]], [[3, 5], [0, 1]], [[1, 7], [1, 0]],
    ...perms3.map((p): [number[], number[]] => [[2, 3, 4], p]),
    [[2, 3, 1, 4], [3, 1, 0, 2]], [[3, 2, 2, 3, 2], [4, 2, 0, 3, 1]],
  ];
  for (const [shape, perm] of permCases) {
    it(`permute ${JSON.stringify(shape)} by ${JSON.stringify(perm)}`, () => {
      const x = randArray(size(shape));
      const out = new Float32Array(x.length);
      k.permute(x, shape, perm, out);
      expectClose(out, refPermute(x, shape, perm), 0);
    });
  }
  it('permute rejects a non-permutation', () => {
    expect(() => k.permute(new Float32Array(6), [2, 3], [0, 0], new Float32Array(6))).toThrow(/permute/);
  });
});

// ---------------------------------------------------------------------------------------------
describe('optimizers (PyTorch 1.13 values, 2 steps, float64)', () => {
  // One parameter [1, -2], gradients [0.5, 0.1] then [-0.25, 0.3].
  const grads = [Float64Array.from([0.5, 0.1]), Float64Array.from([-0.25, 0.3])];
  const sgd = (o: Partial<Parameters<typeof k.sgdStep>[4]>): { ps: number[][]; buf: number[] } => {
    const p = Float64Array.from([1, -2]), buf = new Float64Array(2);
    const opts = { lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, ...o };
    const ps = grads.map((g, t) => { k.sgdStep(p, g, buf, t === 0, opts); return Array.from(p); });
    return { ps, buf: Array.from(buf) };
  };

  it('SGD, plain: p -= lr·g', () => {
    expectClose(sgd({}).ps.flat(), [0.95, -2.01, 0.975, -2.04], 1e-15);
  });

  it('SGD, momentum 0.9, dampening 0.1, weight decay 0.01', () => {
    // step 1: g = 0.5 + 0.01·1 = 0.51; buf = g (first step, no dampening); p = 1 - 0.051 = 0.949
    // step 2: g = -0.25 + 0.01·0.949 = -0.24051; buf = 0.9·0.51 + 0.9·g = 0.242541; p = 0.949 - 0.0242541
    const { ps, buf } = sgd({ momentum: 0.9, dampening: 0.1, weightDecay: 0.01 });
    expectClose(ps.flat(), [0.949, -2.008, 0.9247459, -2.0403928], 1e-14);
    expectClose(buf, [0.242541, 0.323928], 1e-14);
  });

  it('SGD, Nesterov momentum 0.9', () => {
    // step 1: buf = 0.5; g = 0.5 + 0.9·0.5 = 0.95; p = 0.905
    // step 2: buf = 0.45 - 0.25 = 0.2; g = -0.25 + 0.18 = -0.07; p = 0.912
    const { ps, buf } = sgd({ momentum: 0.9, nesterov: true });
    expectClose(ps.flat(), [0.905, -2.019, 0.912, -2.0841], 1e-14);
    expectClose(buf, [0.2, 0.39], 1e-14);
  });

  const adam = (o: Partial<Parameters<typeof k.adamStep>[5]>): { ps: number[][]; m: number[]; v: number[] } => {
    const p = Float64Array.from([1, -2]), m = new Float64Array(2), v = new Float64Array(2);
    const opts = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, ...o };
    const ps = grads.map((g, t) => { k.adamStep(p, g, m, v, t + 1, opts); return Array.from(p); });
    return { ps, m: Array.from(m), v: Array.from(v) };
  };

  it('Adam', () => {
    // step 1: m = 0.05, v = 0.00025, step_size = 0.1/0.1 = 1, denom = √0.00025/√0.001 + 1e-8 = 0.5 + 1e-8
    //         p = 1 - 0.05/(0.5 + 1e-8) = 0.900000002
    // step 2: m = 0.02, v = 0.00031225, step_size = 0.1/0.19, denom = √(0.00031225)/√0.001999 + 1e-8
    const { ps, m, v } = adam({});
    expectClose(ps.flat(), [0.900000002, -2.099999990000001, 0.8733662987078463, -2.19177809779441], 1e-13);
    expectClose(m, [0.02, 0.039], 1e-14);
    expectClose(v, [0.00031225, 0.00009999], 1e-13);
  });

  it('Adam with L2 weight decay (added to the gradient)', () => {
    const { ps } = adam({ beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0.1 });
    expectClose(ps.flat(), [0.9000001666663889, -1.90000099999, 0.8590546785227232, -1.9158365746008945], 1e-13);
  });

  it('AdamW (decoupled: p *= 1 - lr·wd first)', () => {
    // step 1: p = 1·(1 - 0.01) - 0.1·(1 - 2e-8) = 0.890000002
    const { ps } = adam({ weightDecay: 0.1, decoupled: true });
    expectClose(ps.flat(), [0.890000002, -2.079999990000001, 0.8544662986878463, -2.15097809789441], 1e-13);
  });

  it('float32 parameters agree with the float64 result to float32 precision', () => {
    const p = Float32Array.from([1, -2]), m = new Float32Array(2), v = new Float32Array(2);
    const opts = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false };
    grads.forEach((g, t) => k.adamStep(p, Float32Array.from(g), m, v, t + 1, opts));
    expectClose(p, [0.8733662987078463, -2.19177809779441], 1e-6);
  });

  it('momentum without a buffer, or step 0, throws', () => {
    const p = new Float32Array(2), g = new Float32Array(2);
    expect(() => k.sgdStep(p, g, null, true, { lr: 0.1, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0 }))
      .toThrow(/sgdStep/);
    expect(() => k.adamStep(p, g, g, g, 0, { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false }))
      .toThrow(/adamStep/);
  });
});

describe('threads', () => {
  it('setNumThreads is accepted; the JS backend reports 1 thread', () => {
    k.setNumThreads(4);
    expect(k.getNumThreads()).toBe(1);
    expect(k.name).toBe('js');
  });
});
