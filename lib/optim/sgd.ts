import { floatData, type Tensor } from '../tensor.js';
import { kernels } from '../backend/index.js';
import type { SgdOptions } from '../backend/backend.js';
import { Optimizer, checkNumber, updateKeepsNoGrad, withDefaults, type Params, type ParamGroup, type ParamState, type Unchecked } from './optimizer.js';

export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

/**
 * Stochastic gradient descent with PyTorch's formula: g += wd·p; with momentum,
 * buf = g on the first step, else momentum·buf + (1 - dampening)·g; g = nesterov ? g + momentum·buf : buf;
 * p -= lr·g. Runs the backend's in-place sgdStep kernel. State per parameter: momentumBuffer.
 */
export class SGD extends Optimizer<Required<SGDOptions>> {
  constructor(params: Params, opts: SGDOptions) {
    if (!opts || typeof opts !== 'object' || opts.lr === undefined) throw new Error('SGD: the learning rate is required: new SGD(params, {lr})');
    super(params, withDefaults('SGD', opts, { lr: opts.lr, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 }));
  }

  protected checkOptions(o: Unchecked<Required<SGDOptions>>): void {
    if (o.lr !== undefined) checkNumber('SGD', 'lr', o.lr, (x) => x >= 0, 'a finite number >= 0');
    if ('momentum' in o) checkNumber('SGD', 'momentum', o.momentum, (x) => x >= 0, 'a finite number >= 0');
    if ('dampening' in o) checkNumber('SGD', 'dampening', o.dampening, (x) => x >= 0 && x <= 1, 'a number in [0, 1]');
    if ('weightDecay' in o) checkNumber('SGD', 'weightDecay', o.weightDecay, (x) => x >= 0, 'a finite number >= 0');
    if ('nesterov' in o && typeof o.nesterov !== 'boolean') throw new TypeError(`SGD: invalid nesterov ${String(o.nesterov)} (must be a boolean)`);
    if (o.nesterov === true && !((o.momentum as number) > 0)) throw new Error('SGD: nesterov requires momentum > 0');
    if (o.nesterov === true && o.dampening !== 0) throw new Error('SGD: nesterov requires dampening = 0');
  }

  protected update(p: Tensor, grad: Tensor, st: ParamState, g: ParamGroup<Required<SGDOptions>>): void {
    const momentum = g.momentum;
    let buf: Tensor | null = null, first = false;
    if (momentum !== 0) {
      first = st.momentumBuffer === undefined;
      if (first) st.momentumBuffer = p.clone(); // overwritten with the gradient by the first step
      buf = st.momentumBuffer as Tensor;
    }
    const pd = floatData(p);
    // rows: a large W is updated on the threads that own its rows in linear (catalogue.ts, sgdStep)
    kernels(pd).sgdStep(pd, floatData(grad), buf ? floatData(buf) : null, first, g, p.shape[0] || 1);
  }
}

updateKeepsNoGrad(SGD.prototype['update']);
