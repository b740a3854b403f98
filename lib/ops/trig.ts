// sin, cos, log1p, expm1. The native unary kernel list (lib/backend/catalogue.ts) has none of them
// yet, so the forward runs in JS on both backends (Math.sin/cos/log1p/expm1: log1p and expm1 stay
// accurate near 0). The VJPs are written with public ops, so they are differentiable again.
import { defineLibraryOp, type Grads } from '../autograd/define.js';
import type { Tensor } from '../tensor.js';
import { add, div, mul, neg } from './elementwise.js';
import { uninit } from './util.js';

function mapJs(x: Tensor, f: (v: number) => number): Tensor {
  const out = uninit(x, x.shape);
  for (let i = 0; i < x.size; i++) out.data[i] = f(x.data[i]);
  return out;
}

export const sin = defineLibraryOp({
  name: 'Sin',
  forward: (x: Tensor) => mapJs(x, Math.sin),
  vjp: (g, _ctx, x): Grads => [mul(g, cos(x))],
});

export const cos = defineLibraryOp({
  name: 'Cos',
  forward: (x: Tensor) => mapJs(x, Math.cos),
  vjp: (g, _ctx, x): Grads => [neg(mul(g, sin(x)))],
});

export const log1p = defineLibraryOp({
  name: 'Log1p',
  forward: (x: Tensor) => mapJs(x, Math.log1p),
  vjp: (g, _ctx, x): Grads => [div(g, add(x, 1))],
});

export const expm1 = defineLibraryOp({
  name: 'Expm1',
  // d/dx (e^x - 1) = e^x = out + 1
  forward: (x: Tensor) => mapJs(x, Math.expm1),
  vjp: (g, { out }): Grads => [mul(g, add(out, 1))],
});
