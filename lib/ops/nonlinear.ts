// The activations beyond relu/sigmoid/tanh, composed from public ops so that their gradients (and
// second derivatives) come from the existing VJPs. Each matches PyTorch 1.13's values and its
// gradient at the kinks and thresholds. Native fused kernels are a later step.
import type { Tensor } from '../tensor.js';
import { checkNumber, withDefaults } from '../options.js';
import { add, clamp, div, exp, gt, log, mul, neg, sub } from './elementwise.js';
import { relu, sigmoid, tanh } from './activation.js';
import { erf } from './special.js';

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

/** x·σ(x). */
export function silu(x: Tensor): Tensor {
  return mul(x, sigmoid(x));
}

/**
 * log(1 + eˣ) for any x, as two exact pieces joined at 0 that only exponentiate non-positive
 * numbers: log(1 + e^min(x,0)) + [max(x,0) + log((1 + e^-max(x,0))/2)], the second exactly 0 for
 * x <= 0. clamp passes the gradient at its bound and relu does not, so the first and second
 * derivatives at 0 are σ(0) and σ'(0). Only the first piece needs relative precision (the result is
 * tiny for x << 0); the second is added to a result of at least log 2.
 */
function softplusStable(x: Tensor): Tensor {
  const r = relu(x);
  return add(log1pUnit(exp(clamp(x, null, 0))), add(r, log(add(mul(exp(neg(r)), 0.5), 0.5))));
}

/**
 * log(1 + e) for e in [0, 1] to full relative precision (Goldberg's log1p): with u = 1 + e rounded,
 * log(u) - (u - 1 - e)/u. u - 1 and (u - 1) - e are exact (Sterbenz), so the second term removes
 * the rounding error of u to first order; as a function it is 0, so it adds no gradient. A log1p
 * op can replace this once there is one.
 */
function log1pUnit(e: Tensor): Tensor {
  const u = add(e, 1);
  return sub(log(u), div(sub(sub(u, 1), e), u));
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

/** log(1 + e^(beta·x))/beta, reverting to x where beta·x > threshold (PyTorch's semantics). */
export function softplus(x: Tensor, opts?: SoftplusOptions): Tensor {
  const { beta, threshold } = softplusOptions('softplus', opts);
  const bx = beta === 1 ? x : mul(x, beta);
  // u = min(bx, T) takes the soft part, v = max(bx - T, 0) the linear part above the threshold; the
  // constant (T - softplus(T)) where bx > T turns softplus(T) + v into bx exactly: no 0·∞ anywhere
  const u = clamp(bx, null, threshold);
  const v = relu(sub(bx, threshold));
  const jump = threshold - (Math.max(threshold, 0) + Math.log1p(Math.exp(-Math.abs(threshold))));
  const y = add(add(softplusStable(u), v), mul(gt(bx, threshold), jump));
  return beta === 1 ? y : div(y, beta);
}

/** x·tanh(softplus(x)) (PyTorch's mish has no threshold). */
export function mish(x: Tensor): Tensor {
  return mul(x, tanh(softplusStable(x)));
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

/** x·Φ(x) = x/2·(1 + erf(x/√2)), or with approximate 'tanh': x/2·(1 + tanh(√(2/π)(x + 0.044715x³))). */
export function gelu(x: Tensor, opts?: GeluOptions): Tensor {
  const { approximate } = geluOptions('gelu', opts);
  const inner = approximate === 'none'
    ? erf(mul(x, Math.SQRT1_2))
    : tanh(mul(add(x, mul(mul(mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI)));
  return mul(mul(x, 0.5), add(inner, 1));
}
