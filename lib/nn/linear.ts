import type { Tensor, DType } from '../tensor.js';
import { rand } from '../creation.js';
import { linear } from '../ops/index.js';
import type { Activation } from '../ops/activation.js';
import { Module } from './module.js';

export interface LinearOptions {
  /** Learn an additive bias (default true). */
  bias?: boolean;
  dtype?: DType;
}

/**
 * y = x·Wᵀ + b, with weight [outFeatures, inFeatures] and bias [outFeatures] (PyTorch's layout).
 * Initialized like PyTorch: kaiming_uniform(a=√5) for the weight, which is U(-1/√in, 1/√in), and
 * U(-1/√in, 1/√in) for the bias, drawn from the seeded generator (see manualSeed).
 */
export class Linear extends Module<[Tensor], Tensor> {
  declare weight: Tensor;
  declare bias: Tensor | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: LinearOptions = {}) {
    super();
    for (const [k, v] of [['inFeatures', inFeatures], ['outFeatures', outFeatures]] as const) {
      if (!Number.isInteger(v) || v < 0) throw new RangeError(`Linear: ${k} must be a non-negative integer, got ${v}`);
    }
    const bound = inFeatures > 0 ? 1 / Math.sqrt(inFeatures) : 0;
    const init = (shape: number[]): Tensor => rand(shape, { low: -bound, high: bound, dtype: opts.dtype, requiresGrad: true });
    this.registerParameter('weight', init([outFeatures, inFeatures]));
    this.registerParameter('bias', opts.bias ?? true ? init([outFeatures]) : null);
  }

  override forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }

  /** act(forward(x)) as one fused op (used by Sequential for Linear followed by ReLU/Sigmoid/Tanh). */
  forwardActivated(x: Tensor, activation: Activation): Tensor {
    return linear(x, this.weight, this.bias, activation);
  }

  override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}
