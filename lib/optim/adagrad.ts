import type { Tensor } from '../tensor.js';
import { full } from '../creation.js';
import { Optimizer, checkNumber, updateKeepsNoGrad, withDefaults, type Params, type ParamGroup, type ParamState, type Unchecked } from './optimizer.js';

export interface AdagradOptions {
  lr?: number;
  lrDecay?: number;
  weightDecay?: number;
  initialAccumulatorValue?: number;
  eps?: number;
}

/**
 * Adagrad with PyTorch 1.13's formula: g += wd·p; clr = lr / (1 + (step-1)·lrDecay); sum += g²;
 * p -= clr·g / (√sum + eps). State per parameter: step, sum (starts at initialAccumulatorValue).
 */
export class Adagrad extends Optimizer<Required<AdagradOptions>> {
  constructor(params: Params, opts: AdagradOptions = {}) {
    super(params, withDefaults('Adagrad', opts, { lr: 1e-2, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10 }));
    for (const p of this.params) this.state.set(p, this.initialState(p));
  }

  /**
   * As PyTorch 1.13, the accumulators are created with the optimizer from the constructor's
   * initialAccumulatorValue: a param group's own value is ignored.
   */
  private initialState(p: Tensor): ParamState {
    return { step: 0, sum: full(p.shape, this.defaults.initialAccumulatorValue, { dtype: p.dtype }) };
  }

  protected checkOptions(o: Unchecked<Required<AdagradOptions>>): void {
    for (const k of ['lr', 'lrDecay', 'weightDecay', 'initialAccumulatorValue', 'eps'] as const) {
      if (k in o) checkNumber('Adagrad', k, o[k], (x) => x >= 0, 'a finite number >= 0');
    }
  }

  protected update(p: Tensor, grad: Tensor, st: ParamState, g: ParamGroup<Required<AdagradOptions>>): void {
    // PyTorch creates the accumulator with the optimizer; here on the first step, from the group's value
    if (st.sum === undefined) Object.assign(st, this.initialState(p)); // a group added later
    const step = (st.step = (st.step as number) + 1);
    const { weightDecay: wd, eps } = g;
    const clr = g.lr / (1 + (step - 1) * g.lrDecay);
    const x = p.data, gr = grad.data, s = (st.sum as Tensor).data;
    for (let i = 0; i < x.length; i++) {
      const gi = wd !== 0 ? gr[i] + wd * x[i] : gr[i];
      s[i] += gi * gi;
      x[i] -= clr * (gi / (Math.sqrt(s[i]) + eps));
    }
  }
}

updateKeepsNoGrad(Adagrad.prototype['update']);
