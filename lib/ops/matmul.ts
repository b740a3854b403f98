import { kernels } from '../backend/index.js';
import { noGrad } from '../autograd/mode.js';
import { ACCUMULATED, defineLibraryOp, type Grads } from '../autograd/define.js';
import { activationBackward, type Activation } from './activation.js';
import { Tensor, floatData, isTensor } from '../tensor.js';
import { fmt, sizeOf } from '../shape.js';
import { reshape, expand, unsqueeze, squeeze } from './shape.js';
import { sum } from './reduce.js';
import { empty, promote, uninit } from './util.js';

/**
 * C = op(A)·op(B) for 2-D operands, or batched over the leading dim of 3-D operands (a 2-D
 * operand is shared by every batch with stride 0). Transposes are gemm flags, never copies.
 */
const gemmOp = defineLibraryOp({
  name: 'MatMul',
  forward: (a: Tensor, b: Tensor, tA: boolean, tB: boolean) => {
    const batch = a.ndim === 3 ? a.shape[0] : b.ndim === 3 ? b.shape[0] : 1;
    const [ar, ac] = a.shape.slice(-2), [br, bc] = b.shape.slice(-2);
    const m = tA ? ac : ar, k = tA ? ar : ac, n = tB ? br : bc;
    const shape = batch > 1 || a.ndim === 3 || b.ndim === 3 ? [batch, m, n] : [m, n];
    // an empty product (k = 0) is zeros, like torch; with nothing to compute, no kernel call
    if (batch * m * n * k === 0) return empty(a, shape);
    const out = uninit(a, shape);
    const ad = floatData(a);
    kernels(ad).gemm(tA, tB, m, n, k, 1, ad, floatData(b), 0, out.data, batch,
      a.ndim === 3 ? m * k : 0, b.ndim === 3 ? k * n : 0, m * n);
    return out;
  },
  // C = op(A)·op(B): dA and dB are gemms of G with the other operand under transpose flags.
  vjp: (g, { needsInputGrad: n, createGraph }, a: Tensor, b: Tensor, tA: boolean, tB: boolean) => {
    let da: Tensor | null = null, db: Tensor | null = null;
    if (n[0] && n[1] && !createGraph && a.ndim === 2 && b.ndim === 2) {
      const [m, k] = tA ? [a.shape[1], a.shape[0]] : a.shape, nn = tB ? b.shape[0] : b.shape[1];
      da = uninit(g, a.shape);
      db = uninit(g, b.shape);
      // the same products as the two mm calls below, as one gemmPair: on two threads at once where
      // the backend finds that it pays (native/pair.cc)
      const [pa, pb, ta, tb, dm, dn, dk] = tA ? [b, g, tB, true, k, m, nn] : [g, b, false, !tB, m, k, nn];
      const [qa, qb, qta, qtb, qm, qn, qk] = tB ? [g, a, true, tA, nn, k, m] : [a, g, !tA, false, k, nn, m];
      kernels(floatData(g)).gemmPair(ta, tb, dm, dn, dk, 1, floatData(pa), floatData(pb), 0, floatData(da), qta, qtb, qm, qn, qk, 1, floatData(qa), floatData(qb), 0, floatData(db));
      return [da, db];
    }
    if (n[0]) da = tA ? mm(b, g, tB, true) : mm(g, b, false, !tB);
    if (n[1]) db = tB ? mm(g, a, true, tA) : mm(a, g, !tA, false);
    // a 2-D operand shared across a batch gets the sum of the batch's gradients
    if (da && a.ndim === 2 && da.ndim === 3) da = sum(da, 0);
    if (db && b.ndim === 2 && db.ndim === 3) db = sum(db, 0);
    return [da, db];
  },
});

function mm(a: Tensor, b: Tensor, tA: boolean, tB: boolean): Tensor {
  return gemmOp(a, b, tA, tB);
}

/** Matrix product with torch.matmul's rules for 1-D, 2-D and batched operands. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (!isTensor(a) || !isTensor(b)) throw new TypeError('matmul: both arguments must be Tensors');
  [a, b] = promote(a, b);
  if (a.ndim === 0 || b.ndim === 0) throw new RangeError(`matmul: both arguments need at least 1 dim, got ${fmt(a.shape)} and ${fmt(b.shape)}`);
  const k1 = a.shape[a.ndim - 1], k2 = b.ndim === 1 ? b.shape[0] : b.shape[b.ndim - 2];
  if (k1 !== k2) throw new RangeError(`matmul: shapes ${fmt(a.shape)} and ${fmt(b.shape)} are not aligned (${k1} != ${k2})`);
  if (a.ndim === 1 && b.ndim === 1) return reshape(gemmOp(reshape(a, [1, k1]), reshape(b, [k1, 1]), false, false), []); // dot product
  if (a.ndim === 1) return squeeze(matmul(unsqueeze(a, 0), b), -2);
  if (b.ndim === 1) return squeeze(matmul(a, unsqueeze(b, 1)), -1);
  if (a.ndim === 2 && b.ndim === 2) return gemmOp(a, b, false, false);
  if (b.ndim === 2) {
    // [..., m, k]·[k, n]: one gemm over the flattened rows
    const out = gemmOp(reshape(a, [sizeOf(a.shape.slice(0, -1)), k1]), b, false, false);
    return reshape(out, [...a.shape.slice(0, -1), b.shape[1]]);
  }
  const batchA = a.shape.slice(0, -2), batchB = b.shape.slice(0, -2);
  const nb = Math.max(batchA.length, batchB.length);
  const batch: number[] = [];
  for (let i = 0; i < nb; i++) {
    const x = batchA[i - nb + batchA.length] ?? 1, y = batchB[i - nb + batchB.length] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new RangeError(`matmul: batch dims of ${fmt(a.shape)} and ${fmt(b.shape)} cannot be broadcast`);
    batch.push(x === 1 ? y : x); // a size-1 dim broadcasts, also to 0
  }
  const count = batch.reduce((p, d) => p * d, 1);
  const a3 = reshape(expand(a, [...batch, ...a.shape.slice(-2)]), [count, ...a.shape.slice(-2)]);
  const b3 = reshape(expand(b, [...batch, ...b.shape.slice(-2)]), [count, ...b.shape.slice(-2)]);
  const out = gemmOp(a3, b3, false, false);
  return reshape(out, [...batch, a.shape[a.ndim - 2], b.shape[b.ndim - 1]]);
}

function linearOp(name: string, act: Activation | null) {
  return defineLibraryOp({
    name,
    freshOutput: true,
    // y = act(x·Wᵀ + b) as one kernel (native: a mid-sized layer on two threads, see native/linear.cc)
    forward: (x: Tensor, w: Tensor, bias?: Tensor) => {
      const [rows, inF] = x.shape, outF = w.shape[0];
      const out = uninit(x, [rows, outF]), xd = floatData(x);
      kernels(xd).linear(xd, floatData(w), bias ? floatData(bias) : null, act ?? 'none', rows, inF, outF, floatData(out));
      return out;
    },
    // ga = g·act'(y): dX = ga·W, dW = gaᵀ·x, db = Σ_rows ga. dW and db go straight into the
    // parameters' own .grad buffers when the engine hands them out (ctx.gradInto; beta 1 accumulates).
    vjp: (g, ctx, x: Tensor, w: Tensor, bias?: Tensor): Grads => {
      const n = ctx.needsInputGrad, nb = !!bias && n[2];
      if (ctx.createGraph) {
        if (act) g = activationBackward(act, ctx.out, g);
        return [n[0] ? mm(g, w, false, false) : null, n[1] ? mm(g, x, true, false) : null, nb ? sum(g, 0) : null];
      }
      const [rows, inF] = x.shape, outF = w.shape[0];
      const dx = n[0] ? uninit(g, [rows, inF]) : null;
      const dwInto = n[1] ? ctx.gradInto(1) : null, dw = n[1] && !dwInto ? uninit(g, [outF, inF]) : null;
      const dbInto = nb ? ctx.gradInto(2) : null, db = nb && !dbInto ? uninit(g, [outF]) : null;
      const gd = floatData(g);
      kernels(gd).linearBackward(gd, act ? floatData(ctx.out) : null, act ?? 'none', floatData(x), floatData(w), rows, inF, outF,
        dx && floatData(dx), dwInto ? dwInto.data : dw && floatData(dw), dwInto ? dwInto.beta : 0,
        dbInto ? dbInto.data : db && floatData(db), dbInto ? dbInto.beta : 0);
      return [dx, n[1] ? dw ?? ACCUMULATED : null, nb ? db ?? ACCUMULATED : null];
    },
  });
}
const linearOps = {
  none: linearOp('Linear', null),
  relu: linearOp('LinearRelu', 'relu'),
  sigmoid: linearOp('LinearSigmoid', 'sigmoid'),
  tanh: linearOp('LinearTanh', 'tanh'),
};

/**
 * x·Wᵀ + b with W of shape [out, in] (PyTorch's layout); x may have leading batch dims. With an
 * activation, one fused op computes act(x·Wᵀ + b) (nn.Sequential uses it for Linear→ReLU etc.).
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null, activation?: Activation | null): Tensor {
  const inF = weight.shape[1];
  if (weight.ndim !== 2 || x.ndim === 0 || x.shape[x.ndim - 1] !== inF || (bias && (bias.ndim !== 1 || bias.shape[0] !== weight.shape[0]))) {
    throw new RangeError(`linear: input ${fmt(x.shape)}, weight ${fmt(weight.shape)}${bias ? `, bias ${fmt(bias.shape)}` : ''} do not fit (need input [..., ${weight.shape[1]}], weight [out, in], bias [out])`);
  }
  if (x.dtype !== weight.dtype) [x] = promote(x, weight);
  const x2 = x.ndim === 2 ? x : reshape(x, [sizeOf(x.shape.slice(0, -1)), inF]); // not -1: inF may be 0
  const op = linearOps[activation ?? 'none'];
  if (!op) throw new RangeError(`linear: unknown activation '${activation}' (expected relu, sigmoid or tanh)`);
  const y = bias ? op(x2, weight, bias) : op(x2, weight);
  return x.ndim === 2 ? y : reshape(y, [...x.shape.slice(0, -1), weight.shape[0]]);
}

/**
 * a·b for 2-D float32 tensors off the main thread: on the native backend the gemm runs on the libuv
 * thread pool and the event loop stays free; elsewhere it is computed synchronously. Not recorded on
 * the tape (inference, precomputation).
 */
export async function matmulAsync(a: Tensor, b: Tensor): Promise<Tensor> {
  if (!isTensor(a) || !isTensor(b) || a.ndim !== 2 || b.ndim !== 2 || a.shape[1] !== b.shape[0]) {
    throw new RangeError(`matmulAsync: expected 2-D tensors [m, k] and [k, n], got ${isTensor(a) ? fmt(a.shape) : typeof a} and ${isTensor(b) ? fmt(b.shape) : typeof b}`);
  }
  const [m, k] = a.shape, n = b.shape[1];
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return noGrad(() => matmul(a, b));
  const out = new Tensor(new Float32Array(m * n), [m, n]);
  await kernels(floatData(a)).gemmAsync(false, false, m, n, k, 1, floatData(a), floatData(b), 0, floatData(out));
  return out;
}
