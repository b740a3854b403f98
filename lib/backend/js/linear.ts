// linear and its VJP on the JS backend: the reference the native kernel (native/linear.cc) is tested
// against, composed from the JS gemm, unary, binary and reduce kernels.
import type { ActOp, FloatArray } from '../backend.js';
import { binary, unary } from './elementwise.js';
import { gemm } from './gemm.js';
import { reduce } from './reduce.js';

const GRAD = { relu: 'reluGrad', sigmoid: 'sigmoidGrad', tanh: 'tanhGrad' } as const;

export function linear(x: FloatArray, w: FloatArray, bias: FloatArray | null, act: ActOp, rows: number, inF: number, outF: number, out: FloatArray): void {
  if (bias) for (let r = 0; r < rows; r++) out.set(bias, r * outF);
  gemm(false, true, rows, outF, inF, 1, x, w, bias ? 1 : 0, out);
  if (act !== 'none') unary(act, out, out);
}

export function linearBackward(
  g: FloatArray, y: FloatArray | null, act: ActOp, x: FloatArray, w: FloatArray, rows: number, inF: number, outF: number,
  dx: FloatArray | null, dw: FloatArray | null, dwBeta: number, db: FloatArray | null, dbBeta: number,
): void {
  let ga = g;
  if (act !== 'none') {
    if (!y && rows * outF > 0) throw new TypeError(`linearBackward: argument 'y' must be a Float32Array when act is '${act}', got null`);
    ga = new (g.constructor as Float32ArrayConstructor)(rows * outF);
    if (y) binary(GRAD[act], y, [rows, outF], g, [rows, outF], ga, [rows, outF]);
  }
  if (db) {
    const s = new (db.constructor as Float32ArrayConstructor)(outF);
    reduce('sum', ga, 1, rows, outF, s);
    for (let j = 0; j < outF; j++) db[j] = dbBeta === 0 ? s[j] : dbBeta * db[j] + s[j];
  }
  if (dw) gemm(true, false, outF, inF, rows, 1, ga, x, dwBeta, dw);
  if (dx) gemm(false, false, rows, inF, outF, 1, ga, w, 0, dx);
}
