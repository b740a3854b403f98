// gemm of the JS backend: GotoBLAS-style blocking. op(A) and op(B) blocks are packed (transposes
// resolved, alpha folded into A) into reused float64 panels, so the 4×4 micro-kernel always reads
// contiguously. Below SMALL_GEMM multiply-adds a direct loop is faster.
import type { FloatArray } from '../backend.js';

// Packing panels, grown on demand and reused across calls (never shrunk).
let scratchA = new Float64Array(0);
let scratchB = new Float64Array(0);

function packABuf(size: number): Float64Array {
  if (scratchA.length < size) scratchA = new Float64Array(size);
  return scratchA;
}
function packBBuf(size: number): Float64Array {
  if (scratchB.length < size) scratchB = new Float64Array(size);
  return scratchB;
}

const MR = 4;
const NR = 4;
const KC = 256;
const MC = 64;
const NC = 256;
/** Below this many multiply-adds, packing costs more than it saves: use the direct loop. */
const SMALL_GEMM = 32 * 32 * 32;

/** Ap[(panel*kc + p)*MR + r] = alpha · op(A)[i0 + panel*MR + r, p0 + p], zero-padded past m. */
function packA(
  a: FloatArray, aOff: number, transA: boolean, m: number, k: number,
  i0: number, mc: number, p0: number, kc: number, alpha: number, ap: Float64Array,
): void {
  for (let ir = 0; ir < mc; ir += MR) {
    const base = ir * kc;
    for (let r = 0; r < MR; r++) {
      const i = i0 + ir + r;
      let dst = base + r;
      if (ir + r >= mc) {
        for (let p = 0; p < kc; p++, dst += MR) ap[dst] = 0;
      } else if (!transA) {
        let src = aOff + i * k + p0;
        for (let p = 0; p < kc; p++, dst += MR) ap[dst] = alpha * a[src++];
      } else {
        let src = aOff + p0 * m + i;
        for (let p = 0; p < kc; p++, dst += MR, src += m) ap[dst] = alpha * a[src];
      }
    }
  }
}

/** Bp[(panel*kc + p)*NR + c] = op(B)[p0 + p, j0 + panel*NR + c], zero-padded past n. */
function packB(
  b: FloatArray, bOff: number, transB: boolean, n: number, k: number,
  p0: number, kc: number, j0: number, nc: number, bp: Float64Array,
): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const base = jr * kc;
    const cols = Math.min(NR, nc - jr);
    if (!transB) {
      for (let p = 0; p < kc; p++) {
        const src = bOff + (p0 + p) * n + j0 + jr;
        const dst = base + p * NR;
        for (let c = 0; c < cols; c++) bp[dst + c] = b[src + c];
        for (let c = cols; c < NR; c++) bp[dst + c] = 0;
      }
    } else {
      for (let c = 0; c < NR; c++) {
        let dst = base + c;
        if (c >= cols) {
          for (let p = 0; p < kc; p++, dst += NR) bp[dst] = 0;
        } else {
          let src = bOff + (j0 + jr + c) * k + p0;
          for (let p = 0; p < kc; p++, dst += NR) bp[dst] = b[src++];
        }
      }
    }
  }
}

const edge = new Float64Array(MR * NR);

/** C[mr×nr block at cOff] += Ap-panel · Bp-panel over kc, with 16 register accumulators. */
function microKernel(
  kc: number, ap: Float64Array, ai: number, bp: Float64Array, bi: number,
  c: FloatArray, cOff: number, ldc: number, mr: number, nr: number,
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
  if (mr === MR && nr === NR) {
    let o = cOff;
    c[o] += c00; c[o + 1] += c01; c[o + 2] += c02; c[o + 3] += c03; o += ldc;
    c[o] += c10; c[o + 1] += c11; c[o + 2] += c12; c[o + 3] += c13; o += ldc;
    c[o] += c20; c[o + 1] += c21; c[o + 2] += c22; c[o + 3] += c23; o += ldc;
    c[o] += c30; c[o + 1] += c31; c[o + 2] += c32; c[o + 3] += c33;
    return;
  }
  edge[0] = c00; edge[1] = c01; edge[2] = c02; edge[3] = c03;
  edge[4] = c10; edge[5] = c11; edge[6] = c12; edge[7] = c13;
  edge[8] = c20; edge[9] = c21; edge[10] = c22; edge[11] = c23;
  edge[12] = c30; edge[13] = c31; edge[14] = c32; edge[15] = c33;
  for (let r = 0; r < mr; r++) {
    for (let j = 0; j < nr; j++) c[cOff + r * ldc + j] += edge[r * NR + j];
  }
}

/** C += alpha · op(A) · op(B) for one matrix (C already scaled by beta). */
function gemmBlocked(
  transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
  a: FloatArray, aOff: number, b: FloatArray, bOff: number, c: FloatArray, cOff: number,
): void {
  const ap = packABuf(MC * KC);
  const bp = packBBuf(KC * (NC + NR));
  for (let jc = 0; jc < n; jc += NC) {
    const nc = Math.min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = Math.min(KC, k - pc);
      packB(b, bOff, transB, n, k, pc, kc, jc, nc, bp);
      for (let ic = 0; ic < m; ic += MC) {
        const mc = Math.min(MC, m - ic);
        packA(a, aOff, transA, m, k, ic, mc, pc, kc, alpha, ap);
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = Math.min(NR, nc - jr);
          for (let ir = 0; ir < mc; ir += MR) {
            const mr = Math.min(MR, mc - ir);
            microKernel(kc, ap, ir * kc, bp, jr * kc, c, cOff + (ic + ir) * n + jc + jr, n, mr, nr);
          }
        }
      }
    }
  }
}

/** C += alpha · op(A) · op(B) by dot products: for small matrices, where packing dominates. */
function gemmSmall(
  transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
  a: FloatArray, aOff: number, b: FloatArray, bOff: number, c: FloatArray, cOff: number,
): void {
  const sai = transA ? 1 : k, sap = transA ? m : 1; // op(A)[i, p] = a[i*sai + p*sap]
  const sbp = transB ? 1 : n, sbj = transB ? k : 1; // op(B)[p, j] = b[p*sbp + j*sbj]
  for (let i = 0; i < m; i++) {
    const ai = aOff + i * sai;
    for (let j = 0; j < n; j++) {
      let s = 0;
      let ia = ai, ib = bOff + j * sbj;
      for (let p = 0; p < k; p++, ia += sap, ib += sbp) s += a[ia] * b[ib];
      c[cOff + i * n + j] += alpha * s;
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
  const need = (len: number, stride: number, size: number, what: string): void => {
    if (size > 0 && (batch - 1) * stride + size > len) {
      throw new RangeError(
        `gemm: ${what} has ${len} elements, too few for batch=${batch} m=${m} n=${n} k=${k} (stride ${stride})`);
    }
  };
  need(a.length, strideA, m * k, 'A');
  need(b.length, strideB, k * n, 'B');
  need(c.length, strideC, m * n, 'C');
  const small = m * n * k <= SMALL_GEMM;
  for (let t = 0; t < batch; t++) {
    const aOff = t * strideA, bOff = t * strideB, cOff = t * strideC;
    scaleC(c, cOff, m * n, beta);
    if (alpha === 0 || k === 0 || m === 0 || n === 0) continue;
    if (small) gemmSmall(transA, transB, m, n, k, alpha, a, aOff, b, bOff, c, cOff);
    else gemmBlocked(transA, transB, m, n, k, alpha, a, aOff, b, bOff, c, cOff);
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
