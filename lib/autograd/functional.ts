import { type Tensor, isTensor } from '../tensor.js';
import { zerosLike } from '../creation.js';
import { backward } from './engine.js';
import { enableGrad, isGradEnabled } from './mode.js';

function prepare(op: string, xs: readonly Tensor[]): Tensor[] {
  return xs.map((x, i) => {
    if (!isTensor(x)) throw new TypeError(`${op}: input ${i} is not a Tensor`);
    // an input already on an outer tape stays connected (grad of grad); others become fresh leaves
    return x.requiresGrad && isGradEnabled() ? x : x.detach().requiresGrad_();
  });
}

/**
 * Gradients of the scalar f(...inputs) with respect to each input, like jax.grad. Nested calls
 * (the grad of a grad) work: when an input is on an outer tape, the inner pass builds a graph.
 * f is always traced, even inside noGrad().
 */
export function grad(
  f: (...xs: Tensor[]) => Tensor, inputs: Tensor | readonly Tensor[], opts: { createGraph?: boolean } = {},
): Tensor[] {
  const list = isTensor(inputs) ? [inputs] : inputs;
  const xs = prepare('grad', list);
  const y = enableGrad(() => f(...xs));
  if (!isTensor(y)) throw new TypeError('grad: f must return a Tensor');
  if (y.size !== 1) throw new Error(`grad: f must return a scalar, got shape [${y.shape}]; use vjp(f, x, v) for other outputs`);
  if (!y.requiresGrad) return xs.map((x) => zerosLike(x));
  const createGraph = opts.createGraph ?? list.some((x) => x.requiresGrad && isGradEnabled());
  return backward([y], [null], { createGraph }, xs).map((g, i) => g ?? zerosLike(xs[i]));
}

/** [f(x), vᵀ·∂f/∂x]: the vector-Jacobian product of f at x with cotangent v (no Jacobian is built). */
export function vjp(f: (x: Tensor) => Tensor, x: Tensor, v: Tensor): [Tensor, Tensor] {
  const [xi] = prepare('vjp', [x]);
  const y = enableGrad(() => f(xi));
  if (!y.requiresGrad) return [y, zerosLike(xi)];
  const [g] = backward([y], [v], { createGraph: x.requiresGrad && isGradEnabled() }, [xi]);
  return [y, g ?? zerosLike(xi)];
}
