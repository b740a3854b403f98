import { floatData, type Tensor } from '../tensor.js';
import { kernels } from '../backend/index.js';
import type { AdamOptions as BackendAdamOptions, FloatArray } from '../backend/backend.js';
import { zerosLike } from '../creation.js';
import { Optimizer, checkNumber, updateKeepsNoGrad, withDefaults, type Params, type ParamGroup, type ParamState, type Unchecked } from './optimizer.js';

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  amsgrad?: boolean;
}

function checkAdam(name: string, o: Unchecked<Required<AdamOptions>>): void {
  if ('lr' in o) checkNumber(name, 'lr', o.lr, (x) => x >= 0, 'a finite number >= 0');
  if ('eps' in o) checkNumber(name, 'eps', o.eps, (x) => x >= 0, 'a finite number >= 0');
  if ('weightDecay' in o) checkNumber(name, 'weightDecay', o.weightDecay, (x) => x >= 0, 'a finite number >= 0');
  if ('betas' in o) {
    const b = o.betas;
    if (!Array.isArray(b) || b.length !== 2) throw new TypeError(`${name}: invalid betas ${JSON.stringify(b)} (must be [beta1, beta2])`);
    checkNumber(name, 'betas[0]', b[0], (x) => x >= 0 && x < 1, 'in [0, 1)');
    checkNumber(name, 'betas[1]', b[1], (x) => x >= 0 && x < 1, 'in [0, 1)');
  }
  if ('amsgrad' in o && typeof o.amsgrad !== 'boolean') throw new TypeError(`${name}: invalid amsgrad ${String(o.amsgrad)} (must be a boolean)`);
}

/**
 * Adam (Kingma & Ba) with PyTorch's bias correction; weightDecay adds wd·p to the gradient (L2).
 * Runs the backend's in-place adamStep kernel. State per parameter: step, expAvg, expAvgSq, and
 * with amsgrad maxExpAvgSq (the running maximum of expAvgSq, used in the denominator).
 */
export class Adam extends Optimizer<Required<AdamOptions>> {
  constructor(params: Params, opts: AdamOptions = {}, defaultWeightDecay = 0) {
    const name = new.target.name || 'Adam';
    super(params, withDefaults(name, opts, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: defaultWeightDecay, amsgrad: false }));
  }

  protected checkOptions(o: Unchecked<Required<AdamOptions>>): void {
    checkAdam(this.name, o);
  }

  protected update(p: Tensor, grad: Tensor, st: ParamState, g: ParamGroup<Required<AdamOptions>>): void {
    if (st.step === undefined) {
      st.step = 0;
      st.expAvg = zerosLike(p);
      st.expAvgSq = zerosLike(p);
    }
    st.step = (st.step as number) + 1;
    const [beta1, beta2] = g.betas;
    const o = { lr: g.lr, beta1, beta2, eps: g.eps, weightDecay: g.weightDecay, decoupled: this.isDecoupled() };
    const pd = floatData(p), gd = floatData(grad), m = floatData(st.expAvg as Tensor), v = floatData(st.expAvgSq as Tensor);
    if (g.amsgrad) {
      if (st.maxExpAvgSq === undefined) st.maxExpAvgSq = zerosLike(p);
      amsgradStep(pd, gd, m, v, floatData(st.maxExpAvgSq as Tensor), st.step, o);
    } else {
      kernels(pd).adamStep(pd, gd, m, v, st.step, o, p.shape[0] || 1); // rows: see SGD
    }
  }

  protected isDecoupled(): boolean {
    return false;
  }
}

/**
 * AdamW (Loshchilov & Hutter): Adam with decoupled weight decay, p -= lr·wd·p before the Adam
 * update; weightDecay defaults to 1e-2 as in PyTorch.
 */
export class AdamW extends Adam {
  constructor(params: Params, opts: AdamOptions = {}) {
    super(params, opts, 1e-2);
  }

  protected override isDecoupled(): boolean {
    return true;
  }
}

updateKeepsNoGrad(Adam.prototype['update']);

/** The backend's adamStep with PyTorch 1.13's amsgrad denominator √max(vmax, v) (JS only: no kernel yet). */
function amsgradStep(param: FloatArray, grad: FloatArray, m: FloatArray, v: FloatArray, vmax: FloatArray, step: number, o: BackendAdamOptions): void {
  const { lr, beta1, beta2, eps, weightDecay: wd, decoupled } = o;
  const stepSize = lr / (1 - Math.pow(beta1, step));
  const bc2Sqrt = Math.sqrt(1 - Math.pow(beta2, step));
  for (let i = 0; i < param.length; i++) {
    let g = grad[i];
    if (decoupled) param[i] *= 1 - lr * wd;
    else if (wd !== 0) g += wd * param[i];
    m[i] = beta1 * m[i] + (1 - beta1) * g;
    v[i] = beta2 * v[i] + (1 - beta2) * g * g;
    vmax[i] = Math.max(vmax[i], v[i]);
    param[i] -= stepSize * (m[i] / (Math.sqrt(vmax[i]) / bc2Sqrt + eps));
  }
}
