import { type Tensor, isTensor, tensorInternals } from '../tensor.js';
import { checkNumber } from '../options.js';

/** The gradients of params (a Tensor or an iterable), read without taking them from the engine (autograd/pool.ts, rule 3). */
function gradsOf(op: string, params: Tensor | Iterable<Tensor>): Tensor[] {
  const list = isTensor(params) ? [params] : params && typeof (params as Iterable<Tensor>)[Symbol.iterator] === 'function' ? [...params] : null;
  if (!list) throw new TypeError(`${op}: parameters must be a Tensor or an iterable of Tensors (e.g. model.parameters())`);
  const grads: Tensor[] = [];
  list.forEach((p, i) => {
    if (!isTensor(p)) throw new TypeError(`${op}: parameter ${i} is not a Tensor`);
    const g = tensorInternals.grad(p);
    if (g !== null) grads.push(g);
  });
  return grads;
}

/** p-norm of a vector of values (p = Infinity: the largest |x|). */
function pNorm(values: ArrayLike<number>, p: number): number {
  let acc = 0;
  if (p === Infinity) {
    for (let i = 0; i < values.length; i++) acc = Math.max(acc, Math.abs(values[i]));
    return acc;
  }
  for (let i = 0; i < values.length; i++) acc += Math.abs(values[i]) ** p;
  return acc ** (1 / p);
}

/**
 * Scale the gradients in place so that their joint normType-norm is at most maxNorm (PyTorch's
 * clip_grad_norm_: the norm of the per-tensor norms; coefficient maxNorm / (total + 1e-6) clamped
 * to 1). Returns the total norm before clipping. normType may be Infinity or 'inf'.
 */
export function clipGradNorm(parameters: Tensor | Iterable<Tensor>, maxNorm: number, normType: number | 'inf' = 2, errorIfNonfinite = false): number {
  const op = 'clipGradNorm';
  checkNumber(op, 'maxNorm', maxNorm, (x) => x >= 0, 'a finite number >= 0');
  const p = normType === 'inf' ? Infinity : normType;
  if (typeof p !== 'number' || !(p > 0)) throw new RangeError(`${op}: invalid normType ${String(normType)} (must be a number > 0 or Infinity)`);
  const grads = gradsOf(op, parameters);
  if (grads.length === 0) return 0;
  const total = pNorm(grads.map((g) => pNorm(g.data, p)), p);
  if (errorIfNonfinite && !Number.isFinite(total)) {
    throw new Error(`${op}: the total norm of order ${p} of the gradients is ${total}, so they cannot be clipped (errorIfNonfinite is set)`);
  }
  const coef = Math.min(maxNorm / (total + 1e-6), 1);
  for (const g of grads) {
    const d = g.data;
    for (let i = 0; i < d.length; i++) d[i] *= coef;
  }
  return total;
}

/** Clamp every gradient element in place to [-clipValue, clipValue] (PyTorch's clip_grad_value_). */
export function clipGradValue(parameters: Tensor | Iterable<Tensor>, clipValue: number): void {
  checkNumber('clipGradValue', 'clipValue', clipValue, (x) => x >= 0, 'a finite number >= 0');
  for (const g of gradsOf('clipGradValue', parameters)) {
    const d = g.data;
    for (let i = 0; i < d.length; i++) d[i] = Math.min(Math.max(d[i], -clipValue), clipValue);
  }
}
