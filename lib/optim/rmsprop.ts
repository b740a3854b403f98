import type { Tensor } from '../tensor.js';
import { zerosLike } from '../creation.js';
import { Optimizer, checkNumber, updateKeepsNoGrad, withDefaults, type Params, type ParamGroup, type ParamState, type Unchecked } from './optimizer.js';

export interface RMSpropOptions {
  lr?: number;
  alpha?: number;
  eps?: number;
  weightDecay?: number;
  momentum?: number;
  centered?: boolean;
}

/**
 * RMSprop with PyTorch 1.13's formula: g += wd·p; v = α·v + (1-α)·g²; centered: ḡ = α·ḡ + (1-α)·g,
 * avg = √(v - ḡ²) + eps, else √v + eps; momentum: buf = μ·buf + g/avg, p -= lr·buf; else p -= lr·g/avg.
 * State per parameter: step, squareAvg, momentumBuffer (momentum > 0), gradAvg (centered).
 */
export class RMSprop extends Optimizer<Required<RMSpropOptions>> {
  constructor(params: Params, opts: RMSpropOptions = {}) {
    super(params, withDefaults('RMSprop', opts, { lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false }));
  }

  protected checkOptions(o: Unchecked<Required<RMSpropOptions>>): void {
    for (const k of ['lr', 'alpha', 'eps', 'weightDecay', 'momentum'] as const) {
      if (k in o) checkNumber('RMSprop', k, o[k], (x) => x >= 0, 'a finite number >= 0');
    }
    if ('centered' in o && typeof o.centered !== 'boolean') throw new TypeError(`RMSprop: invalid centered ${String(o.centered)} (must be a boolean)`);
  }

  protected update(p: Tensor, grad: Tensor, st: ParamState, g: ParamGroup<Required<RMSpropOptions>>): void {
    const { lr, alpha, eps, weightDecay: wd, momentum, centered } = g;
    if (st.step === undefined) {
      st.step = 0;
      st.squareAvg = zerosLike(p);
    }
    if (momentum > 0 && st.momentumBuffer === undefined) st.momentumBuffer = zerosLike(p);
    if (centered && st.gradAvg === undefined) st.gradAvg = zerosLike(p);
    st.step = (st.step as number) + 1;
    const x = p.data, gr = grad.data, v = (st.squareAvg as Tensor).data;
    const ga = centered ? (st.gradAvg as Tensor).data : null;
    const buf = momentum > 0 ? (st.momentumBuffer as Tensor).data : null;
    for (let i = 0; i < x.length; i++) {
      const gi = wd !== 0 ? gr[i] + wd * x[i] : gr[i];
      v[i] = alpha * v[i] + (1 - alpha) * gi * gi;
      let avg: number;
      if (ga) {
        ga[i] = alpha * ga[i] + (1 - alpha) * gi;
        avg = Math.sqrt(v[i] - ga[i] * ga[i]) + eps;
      } else {
        avg = Math.sqrt(v[i]) + eps;
      }
      if (buf) {
        buf[i] = momentum * buf[i] + gi / avg;
        x[i] -= lr * buf[i];
      } else {
        x[i] -= lr * (gi / avg);
      }
    }
  }
}

updateKeepsNoGrad(RMSprop.prototype['update']);
