// Element-wise kernels of the JS backend: unary ops and broadcasting binary ops.
import type { BinaryOp, FloatArray, UnaryOp } from '../backend.js';
import { fmt, sameShape, sizeOf } from '../../shape.js';
import { erfScalar } from './erf.js';
import { broadcastStrides, coalesce, contiguousStrides } from './strides.js';

export function unary(op: UnaryOp, x: FloatArray, out: FloatArray, p0 = 0, p1 = 0): void {
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
    case 'sin': for (let i = 0; i < len; i++) out[i] = Math.sin(x[i]); break;
    case 'cos': for (let i = 0; i < len; i++) out[i] = Math.cos(x[i]); break;
    case 'log1p': for (let i = 0; i < len; i++) out[i] = Math.log1p(x[i]); break;
    case 'expm1': for (let i = 0; i < len; i++) out[i] = Math.expm1(x[i]); break;
    case 'erf': for (let i = 0; i < len; i++) out[i] = erfScalar(x[i]); break;
    case 'gelu': for (let i = 0; i < len; i++) { const v = x[i]; out[i] = v * 0.5 * (1 + erfScalar(v * Math.SQRT1_2)); } break;
    // x/2·(1 + tanh(u)) = x·σ(2u): no cancellation in 1 + tanh(u) for x << 0
    case 'geluTanh': for (let i = 0; i < len; i++) { const v = x[i]; out[i] = v / (1 + Math.exp(-2 * geluU(v))); } break;
    // max(t, 0) + log1p(e^-|t|): never exponentiates a positive number
    case 'softplus':
      for (let i = 0; i < len; i++) { const v = x[i], t = p0 * v; out[i] = t > p1 ? v : ((t > 0 ? t : 0) + Math.log1p(Math.exp(-Math.abs(t)))) / p0; }
      break;
    default: throw new Error(`unary: unknown op '${String(op)}'`);
  }
}

const GELU_K = Math.sqrt(2 / Math.PI), GELU_A = 0.044715, INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** The argument of tanh in GELU's tanh approximation. */
function geluU(v: number): number {
  return GELU_K * (v + GELU_A * v * v * v);
}

/** d/dx x·Φ(x) = Φ(x) + x·φ(x). */
function geluDeriv(v: number): number {
  return 0.5 * (1 + erfScalar(v * Math.SQRT1_2)) + v * Math.exp(-0.5 * v * v) * INV_SQRT_2PI;
}

/**
 * d/dx x·σ(2u) = σ(2u) + 2x·u'·σ(2u)σ(-2u), with σ(2u)σ(-2u) = e/(1 + e)², e = exp(-2|u|): never
 * 1 - σ for σ near 1 (the cancellation that 1 - tanh² has).
 */
function geluTanhDeriv(v: number): number {
  const u = geluU(v), e = Math.exp(-2 * Math.abs(u)), s = (u >= 0 ? 1 : e) / (1 + e);
  return s + 2 * v * GELU_K * (1 + 3 * GELU_A * v * v) * (e / ((1 + e) * (1 + e)));
}

// C's pow (and torch.pow): 1^y = 1 and (-1)^±Infinity = 1, also for y = NaN; Math.pow gives NaN.
function powC(x: number, p: number): number {
  return x === 1 || (x === -1 && (p === Infinity || p === -Infinity)) ? 1 : Math.pow(x, p);
}

/**
 * out[oo + i] = op(a[ao + i*sa], b[bo + i*sb]) for i < len. The one inner loop of `binary`:
 * a stride of 0 broadcasts. Switches on op once, then runs a tight loop.
 */
export function binaryRun(
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
    case 'geluGrad': for (let o = oo; o < end; o++, ao += sa, bo += sb) out[o] = b[bo] * geluDeriv(a[ao]); break;
    case 'geluTanhGrad': for (let o = oo; o < end; o++, ao += sa, bo += sb) out[o] = b[bo] * geluTanhDeriv(a[ao]); break;
    default: throw new Error(`binary: unknown op '${String(op)}'`);
  }
}

export function binary(
  op: BinaryOp, a: FloatArray, aShape: readonly number[], b: FloatArray, bShape: readonly number[],
  out: FloatArray, outShape: readonly number[],
): void {
  const size = sizeOf(outShape);
  const aSize = sizeOf(aShape), bSize = sizeOf(bShape);
  if (a.length < aSize || b.length < bSize || out.length < size) {
    throw new RangeError(`binary ${op}: arrays are smaller than shapes ${fmt(aShape)}, ${fmt(bShape)} -> ${fmt(outShape)}`);
  }
  if (sameShape(aShape, outShape) && (sameShape(bShape, outShape) || (bSize === 1 && bShape.length <= outShape.length))) {
    return binaryRun(op, a, 0, 1, b, 0, bSize === size ? 1 : 0, out, 0, size); // the common cases, without stride bookkeeping
  }
  const what = `binary ${op}`;
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
