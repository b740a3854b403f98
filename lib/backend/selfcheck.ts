// A load-time check of the addon's sgemm against the JS backend (the reference), so that an OpenBLAS
// kernel that computes wrong results on some CPU falls back to JS instead of training on garbage.
// The shapes reach both of OpenBLAS's paths (0.3.21, SkylakeX: the small-matrix kernels for m·n·k up
// to 100³, except the ones marked "blocked", which its permit function sends to the blocked path at any
// size) and all four packing routines; odd sizes exercise the edge tails of the vector kernels,
// multiples of 16 their full width. Small products are compared element by element, the large one by
// Freivalds' test, C·x against A·(B·x) for a vector x (O(mk + kn) work in JS instead of O(mnk)).
import { jsBackend } from './js.js';

type Gemm = (ta: boolean, tb: boolean, m: number, n: number, k: number, alpha: number,
  a: Float32Array, b: Float32Array, beta: number, c: Float32Array) => void;

interface Case { ta: boolean; tb: boolean; m: number; n: number; k: number; alpha: number; beta: number; full: boolean }

const c = (ta: boolean, tb: boolean, m: number, n: number, k: number, alpha = 1, beta = 0, full = true): Case => ({ ta, tb, m, n, k, alpha, beta, full });
export const SELF_CHECK_CASES: readonly Case[] = [
  c(false, false, 19, 7, 5),
  c(true, false, 18, 9, 5, 0.5, -1),
  c(false, true, 16, 8, 8), // blocked (k < 32)
  c(true, true, 7, 5, 3, 2, 0.25), // blocked (k < 4)
  c(false, false, 101, 101, 101, 1, 0, false), // blocked (above 100³)
];

/** Deterministic values in [-0.5, 0.5) (a local hash: the user's random state is left alone). */
function data(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (Math.imul(i + 1, 0x9e3779b1) ^ Math.imul(seed, 0x85ebca6b)) / 2 ** 32;
  return out;
}

/** op(M)·v, op(M) r×c (M stored c×r when transposed). */
function matvec(trans: boolean, r: number, c: number, mat: Float32Array, v: Float64Array): Float64Array {
  const y = new Float64Array(r);
  if (trans) {
    for (let p = 0; p < c; p++) for (let i = 0, vp = v[p], o = p * r; i < r; i++) y[i] += mat[o + i] * vp;
  } else {
    for (let i = 0; i < r; i++) {
      let s = 0;
      for (let p = 0, o = i * c; p < c; p++) s += mat[o + p] * v[p];
      y[i] = s;
    }
  }
  return y;
}

/** Runs every case through `gemm`; returns null when all agree with the JS backend, else what went wrong. */
export function sgemmSelfCheck(gemm: Gemm): string | null {
  for (const [i, t] of SELF_CHECK_CASES.entries()) {
    const a = data(t.m * t.k, 3 * i + 1), b = data(t.k * t.n, 3 * i + 2);
    // beta = 0 must overwrite C, NaN included
    const c0 = t.full ? data(t.m * t.n, 3 * i + 3) : new Float32Array(t.m * t.n).fill(NaN);
    const c = c0.slice();
    gemm(t.ta, t.tb, t.m, t.n, t.k, t.alpha, a, b, t.beta, c);
    let got: ArrayLike<number> = c, want: ArrayLike<number>, scale = 1;
    if (t.full) {
      const ref = c0.slice();
      jsBackend.gemm(t.ta, t.tb, t.m, t.n, t.k, t.alpha, a, b, t.beta, ref);
      want = ref;
    } else {
      const x = Float64Array.from(data(t.n, 7 * i + 5), (v) => v + 1); // in [0.5, 1.5)
      got = matvec(false, t.m, t.n, c, x);
      want = matvec(t.ta, t.m, t.k, a, matvec(t.tb, t.k, t.n, b, x)); // these cases have alpha 1, beta 0
      scale = x.reduce((s, v) => s + v, 0);
    }
    // |C| is at most |alpha|·k/4 + |beta|/2 (data in [-0.5, 0.5)); float32 rounding stays below k·2⁻²⁴ of that.
    const tol = 8 * (t.k + 1) * 2 ** -24 * (Math.abs(t.alpha) * t.k / 4 + Math.abs(t.beta) / 2) * scale;
    for (let j = 0; j < got.length; j++) {
      if (!(Math.abs(got[j] - want[j]) <= tol)) {
        const op = `${t.ta ? 'Aᵀ' : 'A'}·${t.tb ? 'Bᵀ' : 'B'}`;
        return `sgemm ${op} with m=${t.m} n=${t.n} k=${t.k} gave ${got[j]} where the JS backend gives ${want[j]} (${t.full ? `element ${j}` : `row ${j} of C·x`})`;
      }
    }
  }
  return null;
}
