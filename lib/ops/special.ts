// erf, the primitive of exact GELU: the unary kernel 'erf' (fdlibm's in the JS backend, the C
// library's natively); the VJP is written with public ops, so it is differentiable again.
import { defineLibraryOp, type Grads } from '../autograd/define.js';
import type { Tensor } from '../tensor.js';
import { exp, mul, unaryKernel } from './elementwise.js';

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/** The Gauss error function, element-wise; d/dx erf = 2/√π·exp(-x²). */
export const erf = defineLibraryOp({
  name: 'Erf',
  forward: (x: Tensor) => unaryKernel('erf', x),
  vjp: (g, _out, x): Grads => [mul(g, mul(exp(mul(mul(x, x), -1)), TWO_OVER_SQRT_PI))],
});
