// The pure-TypeScript backend: the living definition of every kernel in backend.ts. It runs on
// Float32Array and Float64Array alike (float64 for gradcheck) and accumulates in double precision.
import type {
  AdamOptions, Backend, BinaryOp, FloatArray, ReduceOp, SgdOptions, UnaryOp,
} from './backend.js';
import { fmt, sameShape, sizeOf } from '../shape.js';

// ---------------------------------------------------------------------------------------------
// Scratch buffers, grown on demand and reused across calls (never shrunk).

let scratchA = new Float64Array(0);
let scratchB = new Float64Array(0);
let scratchAcc = new Float64Array(0);

function packABuf(size: number): Float64Array {
  if (scratchA.length < size) scratchA = new Float64Array(size);
  return scratchA;
}
function packBBuf(size: number): Float64Array {
  if (scratchB.length < size) scratchB = new Float64Array(size);
  return scratchB;
}
/** A zeroed double-precision accumulator of `size` elements. */
function accBuf(size: number): Float64Array {
  if (scratchAcc.length < size) scratchAcc = new Float64Array(size);
  scratchAcc.fill(0, 0, size);
  return scratchAcc;
}

// ---------------------------------------------------------------------------------------------
// gemm: GotoBLAS-style blocking. op(A) and op(B) blocks are packed (transposes resolved, alpha
// folded into A) into reused float64 panels, so the 4×4 micro-kernel always reads contiguously.

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

function gemm(
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

/** The JS backend has no thread pool: gemm runs now, and the promise reports its result. */
async function gemmAsync(...args: Parameters<typeof gemm>): Promise<void> {
  gemm(...args);
}

// ---------------------------------------------------------------------------------------------
// Element-wise kernels

function unary(op: UnaryOp, x: FloatArray, out: FloatArray, p0 = 0, p1 = 0): void {
  const len = x.length;
  if (out.length < len) throw new RangeError(`unary ${op}: out has ${out.length} elements, x has ${len}`);
  switch (op) {
    case 'exp': for (let i = 0; i < len; i++) out[i] = Math.exp(x[i]); break;
    case 'log': for (let i = 0; i < len; i++) out[i] = Math.log(x[i]); break;
    case 'sqrt': for (let i = 0; i < len; i++) out[i] = Math.sqrt(x[i]); break;
    case 'abs': for (let i = 0; i < len; i++) out[i] = Math.abs(x[i]); break;
    // exp(-x) overflows to Infinity for x < -709, giving exactly 0: no NaN.
    case 'sigmoid': for (let i = 0; i < len; i++) out[i] = 1 / (1 + Math.exp(-x[i])); break;
    case 'tanh': for (let i = 0; i < len; i++) out[i] = Math.tanh(x[i]); break;
    // `x < 0 ? 0 : x` keeps NaN as NaN (a NaN compare is false).
    case 'relu': for (let i = 0; i < len; i++) { const v = x[i]; out[i] = v < 0 ? 0 : v; } break;
    // Zero and NaN fall through to themselves.
    case 'sign': for (let i = 0; i < len; i++) { const v = x[i]; out[i] = v > 0 ? 1 : v < 0 ? -1 : v; } break;
    case 'pow':
      if (p0 === 2) for (let i = 0; i < len; i++) { const v = x[i]; out[i] = v * v; }
      else for (let i = 0; i < len; i++) out[i] = powC(x[i], p0);
      break;
    case 'clamp': for (let i = 0; i < len; i++) out[i] = Math.min(Math.max(x[i], p0), p1); break;
    case 'affine': for (let i = 0; i < len; i++) out[i] = p0 * x[i] + p1; break;
    default: throw new Error(`unary: unknown op '${String(op)}'`);
  }
}

// C's pow (and torch.pow): 1^y = 1 and (-1)^±Infinity = 1, also for y = NaN; Math.pow gives NaN.
function powC(x: number, p: number): number {
  return x === 1 || (x === -1 && (p === Infinity || p === -Infinity)) ? 1 : Math.pow(x, p);
}

/**
 * out[oo + i] = op(a[ao + i*sa], b[bo + i*sb]) for i < len. The one inner loop of `binary`:
 * a stride of 0 broadcasts. Switches on op once, then runs a tight loop.
 */
function binaryRun(
  op: BinaryOp, a: FloatArray, ao: number, sa: number, b: FloatArray, bo: number, sb: number,
  out: FloatArray, oo: number, len: number,
): void {
  const end = oo + len;
  switch (op) {
    case 'add': for (let o = oo; o < end; o++, ao += sa, bo += sb) out[o] = a[ao] + b[bo]; break;
    case 'sub': for (let o = oo; o < end; o++, ao += sa, bo += sb) out[o] = a[ao] - b[bo]; break;
    case 'mul': for (let o = oo; o < end; o++, ao += sa, bo += sb) out[o] = a[ao] * b[bo]; break;
    case 'div': for (let o = oo; o < end; o++, ao += sa, bo += sb) out[o] = a[ao] / b[bo]; break;
    case 'maximum': for (let o = oo; o < end; o++, ao += sa, bo += sb) out[o] = Math.max(a[ao], b[bo]); break;
    case 'eq': for (let o = oo; o < end; o++, ao += sa, bo += sb) out[o] = a[ao] === b[bo] ? 1 : 0; break;
    case 'gt': for (let o = oo; o < end; o++, ao += sa, bo += sb) out[o] = a[ao] > b[bo] ? 1 : 0; break;
    case 'lt': for (let o = oo; o < end; o++, ao += sa, bo += sb) out[o] = a[ao] < b[bo] ? 1 : 0; break;
    // The gradient of relu at exactly 0 is taken as 0 (PyTorch's convention).
    case 'reluGrad': for (let o = oo; o < end; o++, ao += sa, bo += sb) out[o] = a[ao] > 0 ? b[bo] : 0; break;
    case 'sigmoidGrad':
      for (let o = oo; o < end; o++, ao += sa, bo += sb) { const y = a[ao]; out[o] = b[bo] * y * (1 - y); }
      break;
    case 'tanhGrad':
      for (let o = oo; o < end; o++, ao += sa, bo += sb) { const y = a[ao]; out[o] = b[bo] * (1 - y * y); }
      break;
    default: throw new Error(`binary: unknown op '${String(op)}'`);
  }
}

/**
 * Strides of `shape` aligned right to an `nd`-dimensional broadcast shape `full`: 0 on the axes it
 * broadcasts along. Throws if shape does not broadcast to full.
 */
function broadcastStrides(shape: readonly number[], full: readonly number[], what: string): number[] {
  const nd = full.length;
  const off = nd - shape.length;
  if (off < 0) throw new Error(`${what}: shape ${fmt(shape)} has more axes than ${fmt(full)}`);
  const strides = new Array<number>(nd).fill(0);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    const dim = shape[d];
    if (dim !== full[d + off] && dim !== 1) {
      throw new Error(`${what}: shape ${fmt(shape)} does not broadcast to ${fmt(full)}`);
    }
    strides[d + off] = dim === 1 ? 0 : s;
    s *= dim;
  }
  return strides;
}

/**
 * Merge adjacent axes that are contiguous for every stride set, and drop size-1 axes, so the
 * generic loops run over as few, as long axes as possible.
 */
function coalesce(shape: readonly number[], strideSets: number[][]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strideSets.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && strideSets.every((s, t) => outStrides[t][last] === s[d] * shape[d])) {
      outShape[last] *= shape[d];
      strideSets.forEach((s, t) => { outStrides[t][last] = s[d]; });
    } else {
      outShape.push(shape[d]);
      strideSets.forEach((s, t) => outStrides[t].push(s[d]));
    }
  }
  if (outShape.length === 0) {
    outShape.push(1);
    outStrides.forEach((s) => s.push(0));
  }
  return { shape: outShape, strides: outStrides };
}

function binary(
  op: BinaryOp, a: FloatArray, aShape: readonly number[], b: FloatArray, bShape: readonly number[],
  out: FloatArray, outShape: readonly number[],
): void {
  const what = `binary ${op}`;
  const size = sizeOf(outShape);
  const aSize = sizeOf(aShape), bSize = sizeOf(bShape);
  if (a.length < aSize || b.length < bSize || out.length < size) {
    throw new RangeError(`${what}: arrays are smaller than shapes ${fmt(aShape)}, ${fmt(bShape)} -> ${fmt(outShape)}`);
  }
  if (sameShape(aShape, outShape) && (sameShape(bShape, outShape) || (bSize === 1 && bShape.length <= outShape.length))) {
    return binaryRun(op, a, 0, 1, b, 0, bSize === size ? 1 : 0, out, 0, size); // the common cases, without stride bookkeeping
  }
  const sa = broadcastStrides(aShape, outShape, what);
  const sb = broadcastStrides(bShape, outShape, what);
  if (size === 0) return;
  const n = outShape.length ? outShape[outShape.length - 1] : 1;
  const rows = size / n;
  // Fast paths: equal sizes, scalar operand, [m,n] op [n], [m,n] op [m,1].
  if (aSize === size && bSize === size) return binaryRun(op, a, 0, 1, b, 0, 1, out, 0, size);
  if (aSize === size && bSize === 1) return binaryRun(op, a, 0, 1, b, 0, 0, out, 0, size);
  if (aSize === 1 && bSize === size) return binaryRun(op, a, 0, 0, b, 0, 1, out, 0, size);
  if (aSize === size && bSize === n && sb[sb.length - 1] === 1) {
    for (let r = 0; r < rows; r++) binaryRun(op, a, r * n, 1, b, 0, 1, out, r * n, n);
    return;
  }
  if (aSize === size && bSize === rows && (n === 1 || sb[sb.length - 1] === 0) && rows > 1) {
    const colwise = sb.slice(0, -1).every((s, d) => s !== 0 || outShape[d] === 1);
    if (colwise) {
      for (let r = 0; r < rows; r++) binaryRun(op, a, r * n, 1, b, r, 0, out, r * n, n);
      return;
    }
  }
  // Generic: iterate all axes but the last with a counter; the last axis is one binaryRun.
  const { shape, strides: [ca, cb] } = coalesce(outShape, [sa, sb, contiguousStrides(outShape)]);
  const nd = shape.length;
  const inner = shape[nd - 1], ia = ca[nd - 1], ib = cb[nd - 1];
  const counter = new Array<number>(nd).fill(0);
  let ao = 0, bo = 0;
  for (let oo = 0; oo < size; oo += inner) {
    binaryRun(op, a, ao, ia, b, bo, ib, out, oo, inner);
    for (let d = nd - 2; d >= 0; d--) {
      ao += ca[d];
      bo += cb[d];
      if (++counter[d] < shape[d]) break;
      ao -= ca[d] * shape[d];
      bo -= cb[d] * shape[d];
      counter[d] = 0;
    }
  }
}

function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d];
  }
  return strides;
}

// ---------------------------------------------------------------------------------------------
// Reductions

function checkAxis(what: string, len: number, outer: number, n: number, inner: number): void {
  if (len < outer * n * inner) {
    throw new RangeError(`${what}: x has ${len} elements, fewer than [${outer}, ${n}, ${inner}]`);
  }
}

function reduce(op: ReduceOp, x: FloatArray, outer: number, n: number, inner: number, out: FloatArray): void {
  checkAxis(`reduce ${op}`, x.length, outer, n, inner);
  if (outer === 0 || inner === 0) return; // empty output: no work, however long the reduced axis
  // Identities for an empty axis; max propagates NaN like PyTorch: once m is NaN, every
  // `v > m` is false, and `v !== v` lets the first NaN in.
  const init = op === 'sum' ? 0 : -Infinity;
  const acc = accBuf(inner);
  for (let o = 0; o < outer; o++) {
    acc.fill(init, 0, inner);
    for (let j = 0; j < n; j++) {
      const base = (o * n + j) * inner;
      switch (op) {
        case 'sum': for (let i = 0; i < inner; i++) acc[i] += x[base + i]; break;
        case 'max':
          for (let i = 0; i < inner; i++) { const v = x[base + i]; if (v > acc[i] || v !== v) acc[i] = v; }
          break;
        default: throw new Error(`reduce: unknown op '${String(op)}'`);
      }
    }
    for (let i = 0; i < inner; i++) out[o * inner + i] = acc[i];
  }
}

function argmax(x: FloatArray, outer: number, n: number, inner: number, out: Int32Array): void {
  checkAxis('argmax', x.length, outer, n, inner);
  if (outer === 0 || inner === 0) return;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let base = o * n * inner + i;
      let best = x[base], at = 0;
      for (let j = 1; j < n; j++) {
        base += inner;
        const v = x[base];
        // Strictly greater keeps the first maximum; a NaN counts as the maximum (PyTorch).
        if (v > best || (v !== v && best === best)) { best = v; at = j; }
      }
      out[o * inner + i] = at;
    }
  }
}

function sumTo(x: FloatArray, xShape: readonly number[], out: FloatArray, outShape: readonly number[]): void {
  const size = sizeOf(xShape), outSize = sizeOf(outShape);
  const so = broadcastStrides(outShape, xShape, 'sumTo');
  if (x.length < size || out.length < outSize) {
    throw new RangeError(`sumTo: arrays are smaller than shapes ${fmt(xShape)} -> ${fmt(outShape)}`);
  }
  const acc = accBuf(outSize);
  const n = xShape.length ? xShape[xShape.length - 1] : 1;
  if (outSize === 1) {
    // -> [] (or all ones): one sum.
    let s = 0;
    for (let i = 0; i < size; i++) s += x[i];
    acc[0] = s;
  } else if (outSize === n && so[so.length - 1] === 1) {
    // [m, n] -> [n]: add rows.
    for (let r = 0; r < size; r += n) for (let j = 0; j < n; j++) acc[j] += x[r + j];
  } else {
    const { shape, strides: [co] } = coalesce(xShape, [so, contiguousStrides(xShape)]);
    const nd = shape.length;
    const inner = shape[nd - 1], io = co[nd - 1];
    const counter = new Array<number>(nd).fill(0);
    let oo = 0;
    for (let xo = 0; xo < size; xo += inner) {
      if (io === 0) {
        let s = 0;
        for (let i = 0; i < inner; i++) s += x[xo + i];
        acc[oo] += s;
      } else {
        for (let i = 0; i < inner; i++) acc[oo + i] += x[xo + i];
      }
      for (let d = nd - 2; d >= 0; d--) {
        oo += co[d];
        if (++counter[d] < shape[d]) break;
        oo -= co[d] * shape[d];
        counter[d] = 0;
      }
    }
  }
  for (let i = 0; i < outSize; i++) out[i] = acc[i];
}

// ---------------------------------------------------------------------------------------------
// Softmax and cross-entropy

function softmax(x: FloatArray, outer: number, n: number, inner: number, out: FloatArray, log: boolean): void {
  checkAxis('softmax', x.length, outer, n, inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const start = o * n * inner + i, end = start + n * inner;
      // Subtracting the max keeps exp() from overflowing; the result is unchanged.
      let max = -Infinity;
      for (let j = start; j < end; j += inner) if (x[j] > max) max = x[j];
      if (max === -Infinity) max = 0; // all -Infinity: avoid -Inf - -Inf = NaN
      let sum = 0;
      if (log) {
        for (let j = start; j < end; j += inner) sum += Math.exp(x[j] - max);
        const shift = max + Math.log(sum);
        for (let j = start; j < end; j += inner) out[j] = x[j] - shift;
      } else {
        for (let j = start; j < end; j += inner) { const e = Math.exp(x[j] - max); out[j] = e; sum += e; }
        const inv = 1 / sum;
        for (let j = start; j < end; j += inner) out[j] *= inv;
      }
    }
  }
}

function checkLabels(what: string, labels: Int32Array, rows: number, classes: number): void {
  if (labels.length < rows) throw new RangeError(`${what}: ${labels.length} labels for ${rows} rows`);
  for (let r = 0; r < rows; r++) {
    const l = labels[r];
    if (l < 0 || l >= classes) {
      throw new RangeError(`${what}: label ${l} at row ${r} is outside [0, ${classes})`);
    }
  }
}

function crossEntropy(logits: FloatArray, labels: Int32Array, rows: number, classes: number, probs: FloatArray): number {
  checkLabels('crossEntropy', labels, rows, classes);
  checkAxis('crossEntropy', logits.length, rows, classes, 1);
  let loss = 0;
  for (let r = 0; r < rows; r++) {
    const start = r * classes, end = start + classes;
    let max = -Infinity;
    for (let j = start; j < end; j++) if (logits[j] > max) max = logits[j];
    let sum = 0;
    for (let j = start; j < end; j++) { const e = Math.exp(logits[j] - max); probs[j] = e; sum += e; }
    const inv = 1 / sum;
    for (let j = start; j < end; j++) probs[j] *= inv;
    // -log softmax from the logits (log-sum-exp), not log(prob): no log(0) for tiny probabilities.
    loss += max + Math.log(sum) - logits[start + labels[r]];
  }
  return loss / rows;
}

function crossEntropyBackward(
  probs: FloatArray, labels: Int32Array, rows: number, classes: number, scale: number, out: FloatArray,
): void {
  checkLabels('crossEntropyBackward', labels, rows, classes);
  const len = rows * classes;
  for (let i = 0; i < len; i++) out[i] = scale * probs[i];
  for (let r = 0; r < rows; r++) {
    const at = r * classes + labels[r];
    out[at] = scale * (probs[at] - 1);
  }
}

// ---------------------------------------------------------------------------------------------
// Indexing and layout

function checkIndices(what: string, idx: Int32Array, n: number): void {
  for (let j = 0; j < idx.length; j++) {
    const v = idx[j];
    if (v < 0 || v >= n) throw new RangeError(`${what}: index ${v} at position ${j} is out of range for n = ${n}`);
  }
}

function indexSelect(x: FloatArray, outer: number, n: number, inner: number, idx: Int32Array, out: FloatArray): void {
  checkIndices('indexSelect', idx, n);
  checkAxis('indexSelect', x.length, outer, n, inner);
  const k = idx.length;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < k; j++) {
      const src = (o * n + idx[j]) * inner, dst = (o * k + j) * inner;
      for (let i = 0; i < inner; i++) out[dst + i] = x[src + i];
    }
  }
}

function indexAdd(g: FloatArray, outer: number, n: number, inner: number, idx: Int32Array, out: FloatArray): void {
  checkIndices('indexAdd', idx, n);
  checkAxis('indexAdd', out.length, outer, n, inner);
  const k = idx.length;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < k; j++) {
      const dst = (o * n + idx[j]) * inner, src = (o * k + j) * inner;
      for (let i = 0; i < inner; i++) out[dst + i] += g[src + i];
    }
  }
}

function permute(x: FloatArray, shape: readonly number[], perm: readonly number[], out: FloatArray): void {
  const nd = shape.length;
  const seen = new Array<boolean>(nd).fill(false);
  if (perm.length !== nd || !perm.every((p) => Number.isInteger(p) && p >= 0 && p < nd && !seen[p] && (seen[p] = true))) {
    throw new Error(`permute: [${perm.join(', ')}] is not a permutation of the axes of ${fmt(shape)}`);
  }
  const size = sizeOf(shape);
  if (x.length < size || out.length < size) throw new RangeError(`permute: arrays are smaller than ${fmt(shape)}`);
  const xs = contiguousStrides(shape);
  const outShape = perm.map((p) => shape[p]);
  // Walk out in order; the input strides, permuted, say where each out element comes from.
  const { shape: cs, strides: [sx] } = coalesce(outShape, [perm.map((p) => xs[p]), contiguousStrides(outShape)]);
  const cd = cs.length;
  const inner = cs[cd - 1], ix = sx[cd - 1];
  const counter = new Array<number>(cd).fill(0);
  let xo = 0;
  for (let oo = 0; oo < size; oo += inner) {
    for (let i = 0, s = xo; i < inner; i++, s += ix) out[oo + i] = x[s];
    for (let d = cd - 2; d >= 0; d--) {
      xo += sx[d];
      if (++counter[d] < cs[d]) break;
      xo -= sx[d] * cs[d];
      counter[d] = 0;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Optimizers: PyTorch 1.13's single-tensor formulas, in its order of operations.

function sgdStep(param: FloatArray, grad: FloatArray, buf: FloatArray | null, first: boolean, o: SgdOptions): void {
  const { lr, momentum, dampening, nesterov, weightDecay: wd } = o;
  if (momentum !== 0 && !buf) throw new Error('sgdStep: momentum is set but no momentum buffer was given');
  const len = param.length;
  for (let i = 0; i < len; i++) {
    let g = grad[i];
    if (wd !== 0) g += wd * param[i];
    if (momentum !== 0) {
      const bi = first ? g : momentum * buf![i] + (1 - dampening) * g;
      buf![i] = bi;
      const b = buf![i]; // read back: the stored (possibly float32) buffer is what PyTorch uses
      g = nesterov ? g + momentum * b : b;
    }
    param[i] -= lr * g;
  }
}

function adamStep(param: FloatArray, grad: FloatArray, m: FloatArray, v: FloatArray, step: number, o: AdamOptions): void {
  const { lr, beta1, beta2, eps, weightDecay: wd, decoupled } = o;
  if (!(step >= 1)) throw new RangeError(`adamStep: step must be >= 1 (1-based), got ${step}`);
  const stepSize = lr / (1 - Math.pow(beta1, step));
  const bc2Sqrt = Math.sqrt(1 - Math.pow(beta2, step));
  const decay = decoupled ? 1 - lr * wd : 1;
  const len = param.length;
  for (let i = 0; i < len; i++) {
    let g = grad[i];
    if (decoupled) param[i] *= decay;
    else if (wd !== 0) g += wd * param[i];
    m[i] = beta1 * m[i] + (1 - beta1) * g;
    v[i] = beta2 * v[i] + (1 - beta2) * g * g;
    const denom = Math.sqrt(v[i]) / bc2Sqrt + eps;
    param[i] -= stepSize * (m[i] / denom);
  }
}

// ---------------------------------------------------------------------------------------------

export const jsBackend: Backend = {
  name: 'js',
  gemm,
  gemmAsync,
  unary,
  binary,
  reduce,
  argmax,
  sumTo,
  softmax,
  crossEntropy,
  crossEntropyBackward,
  indexSelect,
  indexAdd,
  permute,
  sgdStep,
  adamStep,
  /** The JS backend is single-threaded: nothing to set. */
  setNumThreads(): void {},
  getNumThreads(): number { return 1; },
};
