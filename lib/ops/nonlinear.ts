// The activations beyond relu/sigmoid/tanh. GELU and softplus (also mish's inner part) are native
// kernels whose gradients are written with public ops (GELU's is an op too, whose own VJP is the
// second derivative), so second derivatives flow; the others are composed from public ops. Each
// matches PyTorch 1.13's values and its gradient at the kinks and thresholds.
import type { Tensor } from '../tensor.js';
import { defineLibraryOp, type Grads } from '../autograd/define.js';
import { checkNumber, withDefaults } from '../options.js';
import { add, binaryKernel, clamp, exp, gt, mul, neg, sub, unaryKernel } from './elementwise.js';
import { relu, sigmoid, tanh } from './activation.js';

/** x for x > 0, negativeSlope·x otherwise; the gradient at 0 is negativeSlope, as in PyTorch. */
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  checkNumber('leakyRelu', 'negativeSlope', negativeSlope, () => true, 'a finite number');
  // one multiplication by a constant factor: 1 where x > 0, the slope elsewhere
  return mul(x, add(mul(gt(x, 0), 1 - negativeSlope), negativeSlope));
}

/** x for x > 0, alpha·(eˣ - 1) otherwise (exp only of the non-positive part, so it never overflows). */
export function elu(x: Tensor, alpha = 1): Tensor {
  checkNumber('elu', 'alpha', alpha, () => true, 'a finite number');
  // relu has slope 0 at 0 and clamp passes the gradient at its bound: the gradient at 0 is alpha, as in PyTorch
  return add(relu(x), mul(sub(exp(clamp(x, null, 0)), 1), alpha));
}

/**
 * x·σ(x). Composed: the forward's one exp is σ, and the backward reuses the saved σ (a fused kernel
 * would compute exp again in the backward, measured slower).
 */
export function silu(x: Tensor): Tensor {
  return mul(x, sigmoid(x));
}

export interface SoftplusOptions {
  beta?: number;
  /** Above beta·x > threshold the result is x itself (default 20). */
  threshold?: number;
}

/** Softplus options over their defaults, checked (`op` names the caller in errors). */
export function softplusOptions(op: string, opts: SoftplusOptions | undefined): Required<SoftplusOptions> {
  const o = withDefaults(op, opts, { beta: 1, threshold: 20 });
  checkNumber(op, 'beta', o.beta, (b) => b !== 0, 'a finite non-zero number');
  checkNumber(op, 'threshold', o.threshold, () => true, 'a finite number');
  return o;
}

const softplusOp = defineLibraryOp({
  name: 'Softplus',
  forward: (x: Tensor, beta: number, threshold: number) => unaryKernel('softplus', x, beta, threshold),
  // σ(beta·x), and 1 where beta·x > threshold (then σ·0 + 1 and σ + 0 are exact); differentiable again
  vjp: (g, _ctx, x, beta: number, threshold: number): Grads => {
    const t = beta === 1 ? x : mul(x, beta), s = sigmoid(t);
    if (threshold === Infinity) return [mul(g, s)];
    const above = gt(t, threshold);
    return [mul(g, add(mul(s, sub(1, above)), above))];
  },
});

/** log(1 + e^(beta·x))/beta, reverting to x where beta·x > threshold (PyTorch's semantics). */
export function softplus(x: Tensor, opts?: SoftplusOptions): Tensor {
  const { beta, threshold } = softplusOptions('softplus', opts);
  return softplusOp(x, beta, threshold);
}

/** x·tanh(softplus(x)) (PyTorch's mish has no threshold). */
export function mish(x: Tensor): Tensor {
  return mul(x, tanh(softplusOp(x, 1, Infinity)));
}

export type GeluApproximate = 'none' | 'tanh';
export interface GeluOptions {
  approximate?: GeluApproximate;
}

/** GELU options over their defaults, checked (`op` names the caller in errors). */
export function geluOptions(op: string, opts: GeluOptions | undefined): Required<GeluOptions> {
  const o = withDefaults(op, opts, { approximate: 'none' as GeluApproximate });
  if (o.approximate !== 'none' && o.approximate !== 'tanh') throw new RangeError(`${op}: approximate must be 'none' or 'tanh', got '${String(o.approximate)}'`);
  return o;
}

const GELU_K = Math.sqrt(2 / Math.PI), GELU_A = 0.044715, INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/**
 * GELU's second derivative, with public ops. Exact: φ(x)(2 - x²). Tanh: with u = K(x + Ax³),
 * gelu = x·σ(2u), and σ(2u)σ(-2u) = (1 - tanh²u)/4 taken as a product of two sigmoids, which keeps
 * full relative precision where tanh u is near ±1 (1 - tanh² in float32 loses it):
 * gelu'' = σ(2u)σ(-2u)·(4u' + 2x·u'' - 4x·u'²·tanh u), u' = K(1 + 3Ax²), u'' = 6KAx.
 */
function geluSecond(x: Tensor, approximate: GeluApproximate): Tensor {
  const x2 = mul(x, x);
  if (approximate === 'none') return mul(mul(exp(mul(x2, -0.5)), INV_SQRT_2PI), sub(2, x2));
  const u2 = mul(add(x, mul(mul(x2, x), GELU_A)), 2 * GELU_K);
  const du = add(mul(x2, 3 * GELU_A * GELU_K), GELU_K);
  const bracket = sub(add(mul(x2, 24 * GELU_A * GELU_K), 4 * GELU_K), mul(mul(mul(x, mul(du, du)), tanh(mul(u2, 0.5))), 4));
  return mul(mul(sigmoid(u2), sigmoid(neg(u2))), bracket);
}

const geluBackward = defineLibraryOp({
  name: 'GeluBackward',
  forward: (x: Tensor, g: Tensor, approximate: GeluApproximate) => binaryKernel(approximate === 'tanh' ? 'geluTanhGrad' : 'geluGrad', 'gelu', x, g),
  vjp: (gg, { needsInputGrad: n }, x, g, approximate: GeluApproximate): Grads => [
    n[0] ? mul(mul(gg, g), geluSecond(x, approximate)) : null,
    n[1] ? geluBackward(x, gg, approximate) : null,
  ],
});

const geluOp = defineLibraryOp({
  name: 'Gelu',
  forward: (x: Tensor, approximate: GeluApproximate) => unaryKernel(approximate === 'tanh' ? 'geluTanh' : 'gelu', x),
  vjp: (g, _ctx, x, approximate: GeluApproximate): Grads => [geluBackward(x, g, approximate)],
});

/** x·Φ(x) = x/2·(1 + erf(x/√2)), or with approximate 'tanh': x/2·(1 + tanh(√(2/π)(x + 0.044715x³))). */
export function gelu(x: Tensor, opts?: GeluOptions): Tensor {
  return geluOp(x, geluOptions('gelu', opts).approximate);
}
