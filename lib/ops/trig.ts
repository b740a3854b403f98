// sin, cos, log1p, expm1: unary kernels (log1p and expm1 stay accurate near 0). The VJPs are
// written with public ops, so they are differentiable again.
import { defineLibraryOp, type Grads } from '../autograd/define.js';
import type { Tensor } from '../tensor.js';
import { add, div, mul, neg, unaryKernel } from './elementwise.js';

export const sin = defineLibraryOp({
  name: 'Sin',
  forward: (x: Tensor) => unaryKernel('sin', x),
  vjp: (g, _ctx, x): Grads => [mul(g, cos(x))],
});

export const cos = defineLibraryOp({
  name: 'Cos',
  forward: (x: Tensor) => unaryKernel('cos', x),
  vjp: (g, _ctx, x): Grads => [neg(mul(g, sin(x)))],
});

export const log1p = defineLibraryOp({
  name: 'Log1p',
  forward: (x: Tensor) => unaryKernel('log1p', x),
  vjp: (g, _ctx, x): Grads => [div(g, add(x, 1))],
});

export const expm1 = defineLibraryOp({
  name: 'Expm1',
  // d/dx (e^x - 1) = e^x = out + 1
  forward: (x: Tensor) => unaryKernel('expm1', x),
  vjp: (g, { out }): Grads => [mul(g, add(out, 1))],
});
