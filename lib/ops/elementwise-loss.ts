// L1, smooth L1, Huber and KL-divergence losses, composed from public ops (their gradients come
// from the existing VJPs). Options and reductions go through lossOptions, as for the other losses.
import type { Tensor } from '../tensor.js';
import { abs, add, clamp, eq, exp, gt, log, mul, sub, div } from './elementwise.js';
import { sum } from './reduce.js';
import { promote } from './util.js';
import {
  checkSame, lossOptions, reduce,
  type MSELossOptions, type SmoothL1LossOptions, type HuberLossOptions, type KLDivLossOptions,
} from './loss.js';

/** |input - target|, reduced by opts.reduction (default 'mean'); the gradient at 0 is 0, as in PyTorch. */
export function l1Loss(input: Tensor, target: Tensor, opts?: MSELossOptions): Tensor {
  const o = lossOptions('l1Loss', opts);
  checkSame('l1Loss', input, target);
  return reduce(abs(sub(...promote(input, target))), o.reduction);
}

/**
 * With d = |input - target| and c = min(d, k): c²/2 + k·(d - c), i.e. d²/2 below k and k·(d - k/2)
 * above it (clamp passes the gradient at its bound, so the pieces join smoothly at d = k).
 */
function quadraticThenLinear(op: string, input: Tensor, target: Tensor, k: number): Tensor {
  checkSame(op, input, target);
  const d = abs(sub(...promote(input, target)));
  const c = clamp(d, null, k);
  return add(mul(mul(c, c), 0.5), mul(sub(d, c), k));
}

/**
 * 0.5·d²/beta where |d| < beta, |d| - beta/2 elsewhere (d = input - target). beta = 0 is the L1
 * loss, except that, as in PyTorch, its gradient at d = 0 is -1 (the kernel tests d <= -beta first).
 */
export function smoothL1Loss(input: Tensor, target: Tensor, opts?: SmoothL1LossOptions): Tensor {
  const o = lossOptions('smoothL1Loss', opts);
  if (o.beta === 0) {
    checkSame('smoothL1Loss', input, target);
    const d = sub(...promote(input, target));
    return reduce(mul(d, sub(mul(gt(d, 0), 2), 1)), o.reduction);
  }
  return reduce(div(quadraticThenLinear('smoothL1Loss', input, target, o.beta), o.beta), o.reduction);
}

/** 0.5·d² where |d| < delta, delta·(|d| - delta/2) elsewhere (d = input - target). */
export function huberLoss(input: Tensor, target: Tensor, opts?: HuberLossOptions): Tensor {
  const o = lossOptions('huberLoss', opts);
  return reduce(quadraticThenLinear('huberLoss', input, target, o.delta), o.reduction);
}

/**
 * PyTorch's kl_div: the input holds log-probabilities; per element target·(log target - input), or
 * with logTarget exp(target)·(target - input). target·log(target) is 0 at target = 0 (xlogy), with
 * gradient log(target) + 1 elsewhere. 'batchmean' divides the sum by the batch size (input.shape[0]).
 */
export function klDiv(input: Tensor, target: Tensor, opts?: KLDivLossOptions): Tensor {
  const o = lossOptions('klDiv', opts);
  checkSame('klDiv', input, target);
  const [x, t] = promote(input, target);
  // log of t with its zeros replaced by 1: t·log(t) is then exactly 0 there
  const loss = o.logTarget ? mul(exp(t), sub(t, x)) : sub(mul(t, log(add(t, eq(t, 0)))), mul(t, x));
  if (o.reduction !== 'batchmean') return reduce(loss, o.reduction);
  return x.ndim === 0 ? sum(loss) : div(sum(loss), x.shape[0]);
}
