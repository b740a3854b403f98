import type { Tensor } from '../tensor.js';
import {
  crossEntropy, nllLoss, mseLoss, bceLoss, bceWithLogitsLoss, lossOptions,
  type Labels, type LossKind, type LossOptions, type Reduction,
  type MSELossOptions, type BCELossOptions, type BCEWithLogitsLossOptions, type NLLLossOptions, type CrossEntropyOptions,
  type SmoothL1LossOptions, type HuberLossOptions, type KLDivLossOptions,
} from '../ops/loss.js';
import { l1Loss, smoothL1Loss, huberLoss, klDiv } from '../ops/elementwise-loss.js';
import { Module } from './module.js';

export type { Reduction };

/**
 * Base of the loss modules: forward(input, target) → the loss of the functional form with this
 * module's options. Unknown options are rejected here; weight and posWeight are buffers (in
 * stateDict, as in PyTorch).
 */
abstract class Loss<K extends LossKind, T> extends Module<[Tensor, T], Tensor> {
  readonly reduction: LossOptions[K]['reduction'];
  private readonly _opts: LossOptions[K];
  constructor(private readonly _kind: K, opts: object | undefined) {
    super();
    const o = lossOptions(_kind, opts, this.constructor.name);
    this._opts = o;
    this.reduction = o.reduction;
    for (const k of ['weight', 'posWeight'] as const) if (k in o) this.registerBuffer(k, (o as Record<typeof k, Tensor | null>)[k]);
  }
  /** The options with the live buffers (loadStateDict writes into them). */
  protected get options(): LossOptions[K] {
    const self = this as unknown as Record<string, unknown>, last = this._live as Record<string, unknown> | null;
    if (last && last.weight === self.weight && last.posWeight === self.posWeight) return this._live!;
    const o: Record<string, unknown> = { ...this._opts };
    for (const k of ['weight', 'posWeight']) if (k in o) o[k] = self[k];
    // checked and frozen once; rebuilt only when a buffer is replaced
    return (this._live = lossOptions(this._kind, o, this.constructor.name));
  }
  private _live: LossOptions[K] | null = null;
  abstract override forward(input: Tensor, target: T): Tensor;
  /** The scalar options that differ from their defaults. */
  override extraRepr(): string {
    const fresh: Record<string, unknown> = lossOptions(this._kind, undefined);
    return Object.entries(this._opts)
      .filter(([k, v]) => typeof v !== 'object' && v !== fresh[k])
      .map(([k, v]) => (typeof v === 'string' ? `${k}='${v}'` : `${k}=${v}`))
      .join(', ');
  }
}

/** Squared error. */
export class MSELoss extends Loss<'mseLoss', Tensor> {
  constructor(opts?: MSELossOptions) { super('mseLoss', opts); }
  forward(input: Tensor, target: Tensor): Tensor { return mseLoss(input, target, this.options); }
}

/** Binary cross-entropy on probabilities in [0, 1]. */
export class BCELoss extends Loss<'bceLoss', Tensor> {
  constructor(opts?: BCELossOptions) { super('bceLoss', opts); }
  forward(input: Tensor, target: Tensor): Tensor { return bceLoss(input, target, this.options); }
}

/** Binary cross-entropy on logits (sigmoid fused in, numerically stable). */
export class BCEWithLogitsLoss extends Loss<'bceWithLogitsLoss', Tensor> {
  constructor(opts?: BCEWithLogitsLossOptions) { super('bceWithLogitsLoss', opts); }
  forward(input: Tensor, target: Tensor): Tensor { return bceWithLogitsLoss(input, target, this.options); }
}

/** Softmax cross-entropy of logits [batch, classes] with class labels (number[], Int32Array or Tensor) or class probabilities. */
export class CrossEntropyLoss extends Loss<'crossEntropy', Labels> {
  constructor(opts?: CrossEntropyOptions) { super('crossEntropy', opts); }
  forward(input: Tensor, target: Labels): Tensor { return crossEntropy(input, target, this.options); }
}

/** Negative log-likelihood of log-probabilities [batch, classes] with class labels. */
export class NLLLoss extends Loss<'nllLoss', Labels> {
  constructor(opts?: NLLLossOptions) { super('nllLoss', opts); }
  forward(input: Tensor, target: Labels): Tensor { return nllLoss(input, target, this.options); }
}

/** Absolute error. */
export class L1Loss extends Loss<'l1Loss', Tensor> {
  constructor(opts?: MSELossOptions) { super('l1Loss', opts); }
  forward(input: Tensor, target: Tensor): Tensor { return l1Loss(input, target, this.options); }
}

/** Squared error below beta (divided by 2·beta), absolute error minus beta/2 above it. */
export class SmoothL1Loss extends Loss<'smoothL1Loss', Tensor> {
  constructor(opts?: SmoothL1LossOptions) { super('smoothL1Loss', opts); }
  forward(input: Tensor, target: Tensor): Tensor { return smoothL1Loss(input, target, this.options); }
}

/** Half the squared error below delta, delta·(|error| - delta/2) above it. */
export class HuberLoss extends Loss<'huberLoss', Tensor> {
  constructor(opts?: HuberLossOptions) { super('huberLoss', opts); }
  forward(input: Tensor, target: Tensor): Tensor { return huberLoss(input, target, this.options); }
}

/** KL divergence of the target from the input (log-probabilities); use reduction 'batchmean' for the true KL. */
export class KLDivLoss extends Loss<'klDiv', Tensor> {
  constructor(opts?: KLDivLossOptions) { super('klDiv', opts); }
  forward(input: Tensor, target: Tensor): Tensor { return klDiv(input, target, this.options); }
}
