import type { Tensor } from '../tensor.js';
import { crossEntropy, nllLoss, mseLoss, bceLoss, bceWithLogitsLoss, mul, type Labels } from '../ops/index.js';
import { Module } from './module.js';

export type Reduction = 'mean' | 'sum';

/** Base of the loss modules: forward(input, target) → scalar. */
abstract class Loss<T> extends Module<[Tensor, T], Tensor> {
  readonly reduction: Reduction;
  constructor(opts: { reduction?: Reduction } = {}) {
    super();
    const r = opts.reduction ?? 'mean';
    if (r !== 'mean' && r !== 'sum') throw new Error(`${this.constructor.name}: reduction must be 'mean' or 'sum', got '${String(r)}'`);
    this.reduction = r;
  }
  protected abstract meanLoss(input: Tensor, target: T): Tensor;
  /** How many terms the mean is over (for reduction 'sum'). */
  protected count(input: Tensor): number { return input.size; }
  override forward(input: Tensor, target: T): Tensor {
    const l = this.meanLoss(input, target);
    return this.reduction === 'sum' ? mul(l, this.count(input)) : l;
  }
  override extraRepr(): string { return this.reduction === 'mean' ? '' : `reduction='${this.reduction}'`; }
}

/** Mean squared error. */
export class MSELoss extends Loss<Tensor> {
  protected meanLoss(input: Tensor, target: Tensor): Tensor { return mseLoss(input, target); }
}

/** Binary cross-entropy on probabilities in [0, 1]. */
export class BCELoss extends Loss<Tensor> {
  protected meanLoss(input: Tensor, target: Tensor): Tensor { return bceLoss(input, target); }
}

/** Binary cross-entropy on logits (sigmoid fused in, numerically stable). */
export class BCEWithLogitsLoss extends Loss<Tensor> {
  protected meanLoss(input: Tensor, target: Tensor): Tensor { return bceWithLogitsLoss(input, target); }
}

/** Softmax cross-entropy of logits [batch, classes] with integer labels (number[], Int32Array or Tensor). */
export class CrossEntropyLoss extends Loss<Labels> {
  protected meanLoss(input: Tensor, target: Labels): Tensor { return crossEntropy(input, target); }
  protected override count(input: Tensor): number { return input.shape[0]; }
}

/** Negative log-likelihood of log-probabilities [batch, classes] with integer labels. */
export class NLLLoss extends Loss<Labels> {
  protected meanLoss(input: Tensor, target: Labels): Tensor { return nllLoss(input, target); }
  protected override count(input: Tensor): number { return input.shape[0]; }
}
