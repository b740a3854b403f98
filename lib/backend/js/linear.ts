// linear and its VJP on the JS backend: the reference the native kernel (native/linear.cc) is tested
// against, from the JS gemm and elementwise loops. ga = g·act'(y) goes to a scratch array kept between
// calls (one per element type), so a small layer's backward allocates nothing.
import type { ActOp, FloatArray } from '../backend.js';
import { binaryRun, unary } from './elementwise.js';
import { gemm } from './gemm.js';

const GRAD = { relu: 'reluGrad', sigmoid: 'sigmoidGrad', tanh: 'tanhGrad' } as const;
let scratch32 = new Float32Array(0), scratch64 = new Float64Array(0);

function scratchLike(g: FloatArray, n: number): FloatArray {
  if (g instanceof Float64Array) return scratch64.length >= n ? scratch64 : (scratch64 = new Float64Array(n));
  return scratch32.length >= n ? scratch32 : (scratch32 = new Float32Array(n));
}

export function linear(x: FloatArray, w: FloatArray, bias: FloatArray | null, act: ActOp, rows: number, inF: number, outF: number, out: FloatArray): void {
  if (bias) for (let r = 0; r < rows; r++) out.set(bias, r * outF);
  gemm(false, true, rows, outF, inF, 1, x, w, bias ? 1 : 0, out);
  if (act !== 'none') unary(act, out, out);
}

export function linearBackward(
  g: FloatArray, y: FloatArray | null, act: ActOp, x: FloatArray, w: FloatArray, rows: number, inF: number, outF: number,
  dx: FloatArray | null, dw: FloatArray | null, dwBeta: number, db: FloatArray | null, dbBeta: number,
): void {
  const n = rows * outF;
  let ga = g;
  if (act !== 'none' && n > 0) {
    if (!y) throw new TypeError(`linearBackward: argument 'y' must be a Float32Array when act is '${act}', got null`);
    ga = scratchLike(g, n);
    binaryRun(GRAD[act], y, 0, 1, g, 0, 1, ga, 0, n);
  }
  if (db) {
    for (let j = 0; j < outF; j++) {
      let s = 0;
      for (let r = 0, i = j; r < rows; r++, i += outF) s += ga[i];
      db[j] = dbBeta === 0 ? s : dbBeta * db[j] + s;
    }
  }
  if (dw) gemm(true, false, outF, inF, rows, 1, ga, x, dwBeta, dw);
  if (dx) gemm(false, false, rows, inF, outF, 1, ga, w, 0, dx);
}
