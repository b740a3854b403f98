import { kernels } from '../backend/index.js';
import { defineLibraryOp, type Grads } from '../autograd/define.js';
import { Tensor, floatData } from '../tensor.js';
import { normDim, splitAt } from '../shape.js';
import { binaryKernel, unaryKernel, mul, sub, exp } from './elementwise.js';
import { empty } from './util.js';
import { sum } from './reduce.js';

// The backward kernels are ops too, so second derivatives flow through them.
const sigmoidBackward = defineLibraryOp({
  name: 'SigmoidBackward',
  forward: (y: Tensor, g: Tensor) => binaryKernel('sigmoidGrad', 'sigmoid', y, g),
  // d/dy [g·y(1-y)] = g(1-2y)
  vjp: (gg, { needsInputGrad: n }, y, g): Grads => [n[0] ? mul(mul(gg, g), sub(1, mul(y, 2))) : null, n[1] ? sigmoidBackward(y, gg) : null],
});

export const sigmoid = defineLibraryOp({
  name: 'Sigmoid',
  forward: (x: Tensor) => unaryKernel('sigmoid', x),
  vjp: (g, { out }): Grads => [sigmoidBackward(out, g)],
});

const tanhBackward = defineLibraryOp({
  name: 'TanhBackward',
  forward: (y: Tensor, g: Tensor) => binaryKernel('tanhGrad', 'tanh', y, g),
  // d/dy [g(1-y²)] = -2gy
  vjp: (gg, { needsInputGrad: n }, y, g): Grads => [n[0] ? mul(mul(gg, g), mul(y, -2)) : null, n[1] ? tanhBackward(y, gg) : null],
});

export const tanh = defineLibraryOp({
  name: 'Tanh',
  forward: (x: Tensor) => unaryKernel('tanh', x),
  vjp: (g, { out }): Grads => [tanhBackward(out, g)],
});

const reluBackward = defineLibraryOp({
  name: 'ReluBackward',
  forward: (x: Tensor, g: Tensor) => binaryKernel('reluGrad', 'relu', x, g),
  // the mask x > 0 is piecewise constant: no gradient flows to x
  vjp: (gg, { needsInputGrad: n }, x, g): Grads => [null, n[1] ? reluBackward(x, gg) : null],
});

export const relu = defineLibraryOp({
  name: 'Relu',
  // relu'(0) = 0, as in PyTorch
  forward: (x: Tensor) => unaryKernel('relu', x),
  vjp: (g, _ctx, x): Grads => [reluBackward(x, g)],
});

function softmaxKernel(x: Tensor, dim: number, log: boolean): Tensor {
  const d = normDim(log ? 'logSoftmax' : 'softmax', dim, x.ndim);
  const [outer, n, inner] = splitAt(x.shape, d);
  const out = empty(x, x.shape);
  kernels(floatData(x)).softmax(floatData(x), outer, n, inner, out.data, log);
  return out;
}

export const softmax = defineLibraryOp({
  name: 'Softmax',
  forward: (x: Tensor, dim: number) => softmaxKernel(x, dim, false),
  // J = diag(y) - y yᵀ, so gᵀJ = y ⊙ (g - Σ g⊙y)
  vjp: (g, { out }, _x, dim: number): Grads => [mul(out, sub(g, sum(mul(g, out), dim, true)))],
});

export const logSoftmax = defineLibraryOp({
  name: 'LogSoftmax',
  forward: (x: Tensor, dim: number) => softmaxKernel(x, dim, true),
  // d log softmax: g - softmax · Σ g
  vjp: (g, { out }, _x, dim: number): Grads => [sub(g, mul(exp(out), sum(g, dim, true)))],
});

export type Activation = 'relu' | 'sigmoid' | 'tanh';

/** The VJP of an activation expressed through its output y (relu's mask y > 0 equals x > 0). */
export function activationBackward(act: Activation, y: Tensor, g: Tensor): Tensor {
  return act === 'relu' ? reluBackward(y, g) : act === 'sigmoid' ? sigmoidBackward(y, g) : tanhBackward(y, g);
}
