// gemm of the JS backend: GotoBLAS-style blocking. op(A) and op(B) blocks are packed (transposes
// resolved, alpha folded into A) into reused float64 panels, so the 4×4 micro-kernel always reads
// contiguously; a ROWS×NC block of C is summed in a float64 accumulator over all of k and written
// to C once. The tiles run as WebAssembly SIMD (gemm-simd.ts) where available, else in plain JS
// (jsTiles): the same float64 operations in the same order, so both give bit-identical results.
// For small products a direct loop is faster (gemmOn).
import type { FloatArray } from '../backend.js';
import { KC, MC, MR, NC, NR, ROWS, simdGemm, type Tiles } from './gemm-simd.js';

/** Below this many multiply-adds, packing costs more than it saves (plain-JS micro-kernel): use the direct loop. */
export const SMALL_GEMM = 32 * 32 * 32;
/**
 * The same limit for the WebAssembly micro-kernel, which wins from 8³ (measured: 0.3 µs against
 * 0.9 µs) unless C has fewer elements than one tile (1×1×5000: 68 µs against 6 µs, padding to 4×4).
 */
const SMALL_GEMM_SIMD = 8 * 8 * 8;

// The packers copy whole 4-wide micro-panels with four loads and one contiguous run of four stores
// per k step (MR = NR = 4); only a ragged last panel takes the element-by-element path.

/** Ap[(panel*kc + p)*MR + r] = alpha · op(A)[i0 + panel*MR + r, p0 + p], zero-padded past mc. */
function packA(
  a: FloatArray, aOff: number, transA: boolean, m: number, k: number,
  i0: number, mc: number, p0: number, kc: number, alpha: number, ap: Float64Array,
): void {
  // op(A)[i, p] = a[aOff + i*si + p*sp]
  const si = transA ? 1 : k, sp = transA ? m : 1;
  for (let ir = 0; ir < mc; ir += MR) {
    let dst = ir * kc;
    const rows = Math.min(MR, mc - ir);
    const s0 = aOff + (i0 + ir) * si + p0 * sp;
    if (rows === MR && !transA) {
      for (let p = 0, s = s0; p < kc; p++, s++, dst += 4) {
        ap[dst] = alpha * a[s]; ap[dst + 1] = alpha * a[s + k]; ap[dst + 2] = alpha * a[s + 2 * k]; ap[dst + 3] = alpha * a[s + 3 * k];
      }
    } else if (rows === MR) {
      for (let p = 0, s = s0; p < kc; p++, s += m, dst += 4) {
        ap[dst] = alpha * a[s]; ap[dst + 1] = alpha * a[s + 1]; ap[dst + 2] = alpha * a[s + 2]; ap[dst + 3] = alpha * a[s + 3];
      }
    } else {
      for (let p = 0; p < kc; p++, dst += MR) {
        for (let r = 0; r < MR; r++) ap[dst + r] = r < rows ? alpha * a[s0 + r * si + p * sp] : 0;
      }
    }
  }
}

/** Bp[(panel*kc + p)*NR + c] = op(B)[p0 + p, j0 + panel*NR + c], zero-padded past nc. */
function packB(
  b: FloatArray, bOff: number, transB: boolean, n: number, k: number,
  p0: number, kc: number, j0: number, nc: number, bp: Float64Array,
): void {
  // op(B)[p, j] = b[bOff + p*sp + j*sj]
  const sp = transB ? 1 : n, sj = transB ? k : 1;
  for (let jr = 0; jr < nc; jr += NR) {
    let dst = jr * kc;
    const cols = Math.min(NR, nc - jr);
    const s0 = bOff + p0 * sp + (j0 + jr) * sj;
    if (cols === NR && !transB) {
      for (let p = 0, s = s0; p < kc; p++, s += n, dst += 4) {
        bp[dst] = b[s]; bp[dst + 1] = b[s + 1]; bp[dst + 2] = b[s + 2]; bp[dst + 3] = b[s + 3];
      }
    } else if (cols === NR) {
      for (let p = 0, s = s0; p < kc; p++, s++, dst += 4) {
        bp[dst] = b[s]; bp[dst + 1] = b[s + k]; bp[dst + 2] = b[s + 2 * k]; bp[dst + 3] = b[s + 3 * k];
      }
    } else {
      for (let p = 0; p < kc; p++, dst += NR) {
        for (let c = 0; c < NR; c++) bp[dst + c] = c < cols ? b[s0 + p * sp + c * sj] : 0;
      }
    }
  }
}

/** cs[4×4 tile at ci, row stride NC] (= if first, else +=) Ap-panel · Bp-panel over kc. */
function microKernel(
  kc: number, ap: Float64Array, ai: number, bp: Float64Array, bi: number, cs: Float64Array, ci: number, first: number,
): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
  let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
  for (let p = 0; p < kc; p++) {
    const a0 = ap[ai], a1 = ap[ai + 1], a2 = ap[ai + 2], a3 = ap[ai + 3];
    const b0 = bp[bi], b1 = bp[bi + 1], b2 = bp[bi + 2], b3 = bp[bi + 3];
    c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
    c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
    c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
    c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
    ai += MR;
    bi += NR;
  }
  let o = ci;
  if (!first) {
    c00 += cs[o]; c01 += cs[o + 1]; c02 += cs[o + 2]; c03 += cs[o + 3]; o += NC;
    c10 += cs[o]; c11 += cs[o + 1]; c12 += cs[o + 2]; c13 += cs[o + 3]; o += NC;
    c20 += cs[o]; c21 += cs[o + 1]; c22 += cs[o + 2]; c23 += cs[o + 3]; o += NC;
    c30 += cs[o]; c31 += cs[o + 1]; c32 += cs[o + 2]; c33 += cs[o + 3];
    o = ci;
  }
  cs[o] = c00; cs[o + 1] = c01; cs[o + 2] = c02; cs[o + 3] = c03; o += NC;
  cs[o] = c10; cs[o + 1] = c11; cs[o + 2] = c12; cs[o + 3] = c13; o += NC;
  cs[o] = c20; cs[o + 1] = c21; cs[o + 2] = c22; cs[o + 3] = c23; o += NC;
  cs[o] = c30; cs[o + 1] = c31; cs[o + 2] = c32; cs[o + 3] = c33;
}

let jsTilesMade: Tiles | undefined;
/** The tiles in plain JS, for where WebAssembly SIMD is missing (made on first use). */
function jsTiles(): Tiles {
  if (jsTilesMade) return jsTilesMade;
  const ap = new Float64Array(MC * KC), bp = new Float64Array(KC * NC), cs = new Float64Array(ROWS * NC);
  jsTilesMade = {
    ap, bp, cs,
    block(mc, nc, kc, row, first) {
      for (let jr = 0; jr < nc; jr += NR) {
        for (let ir = 0; ir < mc; ir += MR) microKernel(kc, ap, ir * kc, bp, jr * kc, cs, (row + ir) * NC + jr, first);
      }
    },
  };
  return jsTilesMade;
}

const roundUp = (x: number, q: number): number => Math.ceil(x / q) * q;

/** C = alpha · op(A) · op(B) + beta · C for one matrix, on the given tiles. */
function gemmPacked(
  s: Tiles, transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
  a: FloatArray, aOff: number, b: FloatArray, bOff: number, beta: number, c: FloatArray, cOff: number,
): void {
  const { ap, bp, cs } = s;
  for (let r0 = 0; r0 < m; r0 += ROWS) {
    const rows = Math.min(ROWS, m - r0);
    for (let jc = 0; jc < n; jc += NC) {
      const nc = Math.min(NC, n - jc);
      for (let pc = 0; pc < k; pc += KC) {
        const kc = Math.min(KC, k - pc);
        packB(b, bOff, transB, n, k, pc, kc, jc, nc, bp);
        for (let ic = 0; ic < rows; ic += MC) {
          const mc = Math.min(MC, rows - ic);
          packA(a, aOff, transA, m, k, r0 + ic, mc, pc, kc, alpha, ap);
          s.block(roundUp(mc, MR), roundUp(nc, NR), kc, ic, pc === 0 ? 1 : 0);
        }
      }
      writeC(c, cOff + r0 * n + jc, n, cs, rows, nc, beta);
    }
  }
}

/** C[rows×nc at o, row stride ldc] = acc + beta · C (beta = 0 overwrites, ignoring NaN in C). */
function writeC(c: FloatArray, o: number, ldc: number, acc: Float64Array, rows: number, nc: number, beta: number): void {
  for (let i = 0; i < rows; i++, o += ldc) {
    const r = i * NC;
    if (beta === 0) for (let j = 0; j < nc; j++) c[o + j] = acc[r + j];
    else if (beta === 1) for (let j = 0; j < nc; j++) c[o + j] += acc[r + j];
    else for (let j = 0; j < nc; j++) c[o + j] = beta * c[o + j] + acc[r + j];
  }
}

/** Batch entries of len elements every stride reach past an array of n elements. */
function tooShort(n: number, stride: number, len: number, batch: number): boolean {
  return len > 0 && (batch - 1) * stride + len > n;
}

/**
 * C += alpha · op(A) · op(B) by dot products, for small matrices, where packing dominates; with
 * overwrite, C = alpha · op(A) · op(B) (beta = 0: C's old contents, even NaN, are ignored).
 */
function gemmSmall(
  transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
  a: FloatArray, aOff: number, b: FloatArray, bOff: number, overwrite: boolean, c: FloatArray, cOff: number,
): void {
  const sai = transA ? 1 : k, sap = transA ? m : 1; // op(A)[i, p] = a[i*sai + p*sap]
  const sbp = transB ? 1 : n, sbj = transB ? k : 1; // op(B)[p, j] = b[p*sbp + j*sbj]
  for (let i = 0; i < m; i++) {
    const ai = aOff + i * sai;
    for (let j = 0; j < n; j++) {
      let s = 0;
      let ia = ai, ib = bOff + j * sbj;
      for (let p = 0; p < k; p++, ia += sap, ib += sbp) s += a[ia] * b[ib];
      const o = cOff + i * n + j;
      c[o] = overwrite ? alpha * s : c[o] + alpha * s;
    }
  }
}

function scaleC(c: FloatArray, off: number, len: number, beta: number): void {
  // beta = 0 must overwrite: 0 · NaN would be NaN.
  if (beta === 0) c.fill(0, off, off + len);
  else if (beta !== 1) for (let i = off; i < off + len; i++) c[i] *= beta;
}

export function gemm(
  transA: boolean, transB: boolean, m: number, n: number, k: number,
  alpha: number, a: FloatArray, b: FloatArray, beta: number, c: FloatArray,
  batch = 1, strideA = m * k, strideB = k * n, strideC = m * n,
): void {
  gemmOn(simdGemm(), transA, transB, m, n, k, alpha, a, b, beta, c, batch, strideA, strideB, strideC);
}

/** gemm with the plain-JS micro-kernel, as it runs where WebAssembly SIMD is missing (for tests). */
export function gemmPlainJs(...args: Parameters<typeof gemm>): void {
  const [transA, transB, m, n, k, alpha, a, b, beta, c, batch = 1, strideA = m * k, strideB = k * n, strideC = m * n] = args;
  gemmOn(null, transA, transB, m, n, k, alpha, a, b, beta, c, batch, strideA, strideB, strideC);
}

function gemmOn(
  simd: Tiles | null, transA: boolean, transB: boolean, m: number, n: number, k: number,
  alpha: number, a: FloatArray, b: FloatArray, beta: number, c: FloatArray,
  batch: number, strideA: number, strideB: number, strideC: number,
): void {
  if (tooShort(a.length, strideA, m * k, batch) || tooShort(b.length, strideB, k * n, batch) || tooShort(c.length, strideC, m * n, batch)) {
    const [what, len, stride] = tooShort(a.length, strideA, m * k, batch) ? ['A', a.length, strideA]
      : tooShort(b.length, strideB, k * n, batch) ? ['B', b.length, strideB] : ['C', c.length, strideC];
    throw new RangeError(`gemm: ${what} has ${len} elements, too few for batch=${batch} m=${m} n=${n} k=${k} (stride ${stride})`);
  }
  // one row without SIMD: the plain-JS tile pads it to 4 rows, the direct loop is cheaper (the wasm tile is not)
  const small = simd ? m * n * k <= SMALL_GEMM_SIMD || m * n < MR * NR : m * n * k <= SMALL_GEMM || m === 1;
  for (let t = 0; t < batch; t++) {
    const aOff = t * strideA, bOff = t * strideB, cOff = t * strideC;
    if (alpha === 0 || k === 0 || m === 0 || n === 0) {
      scaleC(c, cOff, m * n, beta);
    } else if (small) {
      if (beta !== 0) scaleC(c, cOff, m * n, beta);
      gemmSmall(transA, transB, m, n, k, alpha, a, aOff, b, bOff, beta === 0, c, cOff);
    } else {
      gemmPacked(simd ?? jsTiles(), transA, transB, m, n, k, alpha, a, aOff, b, bOff, beta, c, cOff);
    }
  }
}

/** The JS backend has one thread: the two products one after the other. */
export function gemmPair(
  transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number, a: FloatArray, b: FloatArray, beta: number, c: FloatArray,
  transA2: boolean, transB2: boolean, m2: number, n2: number, k2: number, alpha2: number, a2: FloatArray, b2: FloatArray, beta2: number, c2: FloatArray,
): void {
  gemm(transA, transB, m, n, k, alpha, a, b, beta, c);
  gemm(transA2, transB2, m2, n2, k2, alpha2, a2, b2, beta2, c2);
}

/** The JS backend has no thread pool: gemm runs now, and the promise reports its result. */
export async function gemmAsync(...args: Parameters<typeof gemm>): Promise<void> {
  gemm(...args);
}
