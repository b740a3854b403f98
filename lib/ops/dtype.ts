// Conversions between dtypes: x.to(dtype), x.float(), x.double(), x.int().
import { defineLibraryOp, type Grads } from '../autograd/define.js';
import { Tensor, type DType } from '../tensor.js';
import { castArray, checkDtype } from '../creation.js';

// float32 <-> float64 stays on the tape; the gradient goes back in the input's dtype
const toCopy = defineLibraryOp({
  name: 'ToCopy',
  forward: (x: Tensor, dtype: DType, op: string) => new Tensor(castArray(op, x.data, dtype), x.shape.slice()),
  vjp: (g, _ctx, x: Tensor): Grads => [toDtype(g, x.dtype)],
});

/**
 * x as dtype: x itself when it already has it (as PyTorch's .to), else a copy. To int32 values
 * truncate toward zero; NaN, ±Infinity and values outside int32 are refused. An int32 result has no
 * gradient (only float tensors can require one); float to float keeps the graph.
 */
export function toDtype(x: Tensor, dtype: DType, op = 'to'): Tensor {
  checkDtype(op, dtype);
  if (x.dtype === dtype) return x;
  if (x.dtype === 'int32' || dtype === 'int32') return new Tensor(castArray(op, x.data, dtype), x.shape.slice());
  return toCopy(x, dtype, op);
}
