import type { Tensor, DType } from '../tensor.js';
import { ones, zeros } from '../creation.js';
import { batchNorm, layerNorm } from '../ops/normalization.js';
import { checkNumber, withDefaults } from '../options.js';
import { fmt } from '../shape.js';
import { Module } from './module.js';

export interface BatchNorm1dOptions {
  eps?: number;
  /** Weight of each batch in the running statistics (default 0.1); null: their cumulative average. */
  momentum?: number | null;
  /** Learn a per-channel weight (ones) and bias (zeros) (default true). */
  affine?: boolean;
  /** Keep running statistics for eval() (default true); without them eval() uses the batch statistics too. */
  trackRunningStats?: boolean;
  dtype?: DType;
}

function checkBool(op: string, name: string, v: unknown): void {
  if (typeof v !== 'boolean') throw new TypeError(`${op}: ${name} must be a boolean, got ${typeof v}`);
}

function checkFeatures(op: string, name: string, v: unknown): void {
  checkNumber(op, name, v, (n) => Number.isInteger(n) && n > 0, 'a positive integer');
}

/**
 * Batch normalization over [N, C] or [N, C, L] (PyTorch's BatchNorm1d). train(): batch statistics
 * (biased variance) and the running ones updated (unbiased variance); eval(): running statistics.
 * The state dict holds PyTorch's keys: weight, bias, running_mean, running_var, num_batches_tracked
 * (a float32 scalar holding an integer, exact up to 2^24; PyTorch's is int64).
 */
export class BatchNorm1d extends Module<[Tensor], Tensor> {
  declare weight: Tensor | null;
  declare bias: Tensor | null;
  declare running_mean: Tensor | null;
  declare running_var: Tensor | null;
  declare num_batches_tracked: Tensor | null;
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;

  constructor(readonly numFeatures: number, opts?: BatchNorm1dOptions) {
    super();
    const o = withDefaults('BatchNorm1d', opts, { eps: 1e-5, momentum: 0.1 as number | null, affine: true, trackRunningStats: true, dtype: undefined as DType | undefined });
    checkFeatures('BatchNorm1d', 'numFeatures', numFeatures);
    checkNumber('BatchNorm1d', 'eps', o.eps, (e) => e >= 0, 'a non-negative number');
    if (o.momentum !== null) checkNumber('BatchNorm1d', 'momentum', o.momentum, () => true, 'a finite number or null');
    checkBool('BatchNorm1d', 'affine', o.affine);
    checkBool('BatchNorm1d', 'trackRunningStats', o.trackRunningStats);
    ({ eps: this.eps, momentum: this.momentum, affine: this.affine, trackRunningStats: this.trackRunningStats } = o);
    const dtype = o.dtype;
    this.registerParameter('weight', o.affine ? ones([numFeatures], { dtype, requiresGrad: true }) : null);
    this.registerParameter('bias', o.affine ? zeros([numFeatures], { dtype, requiresGrad: true }) : null);
    const track = o.trackRunningStats;
    this.registerBuffer('running_mean', track ? zeros([numFeatures], { dtype }) : null);
    this.registerBuffer('running_var', track ? ones([numFeatures], { dtype }) : null);
    this.registerBuffer('num_batches_tracked', track ? zeros([], { dtype: 'int32' }) : null);
  }

  get runningMean(): Tensor | null { return this.running_mean; }
  get runningVar(): Tensor | null { return this.running_var; }
  get numBatchesTracked(): Tensor | null { return this.num_batches_tracked; }

  /** Running mean 0, variance 1, no batches seen (in place). */
  resetRunningStats(): void {
    this.running_mean?.data.fill(0);
    this.running_var?.data.fill(1);
    this.num_batches_tracked?.data.fill(0);
  }

  override forward(x: Tensor): Tensor {
    if (x.ndim !== 2 && x.ndim !== 3) throw new RangeError(`BatchNorm1d: expected 2D or 3D input (got ${x.ndim}D input of shape ${fmt(x.shape)})`);
    if (x.shape[1] !== this.numFeatures) throw new RangeError(`BatchNorm1d: input of shape ${fmt(x.shape)} has ${x.shape[1]} channels (dim 1), expected numFeatures = ${this.numFeatures}`);
    const track = this.trackRunningStats && this.running_mean !== null;
    const updating = this.training && track;
    const seen = updating ? this.num_batches_tracked!.data[0] + 1 : 0;
    const y = batchNorm(x, track ? this.running_mean : null, track ? this.running_var : null, {
      weight: this.weight, bias: this.bias, eps: this.eps,
      training: this.training || !track,
      momentum: this.momentum ?? (seen > 0 ? 1 / seen : 0),
    });
    if (updating) this.num_batches_tracked!.data[0] = seen;
    return y;
  }

  override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}, affine=${this.affine}, trackRunningStats=${this.trackRunningStats}`;
  }
}

export interface LayerNormModuleOptions {
  eps?: number;
  /** Learn a weight (ones) and bias (zeros) of normalizedShape (default true). */
  elementwiseAffine?: boolean;
  dtype?: DType;
}

/** Normalizes over the last dims (normalizedShape) of each sample, then applies the learned weight and bias. */
export class LayerNorm extends Module<[Tensor], Tensor> {
  declare weight: Tensor | null;
  declare bias: Tensor | null;
  readonly normalizedShape: number[];
  readonly eps: number;
  readonly elementwiseAffine: boolean;

  constructor(normalizedShape: number | readonly number[], opts?: LayerNormModuleOptions) {
    super();
    const o = withDefaults('LayerNorm', opts, { eps: 1e-5, elementwiseAffine: true, dtype: undefined as DType | undefined });
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    if (this.normalizedShape.length === 0) throw new RangeError('LayerNorm: normalizedShape must have at least one dim');
    for (const d of this.normalizedShape) checkFeatures('LayerNorm', 'normalizedShape entry', d);
    checkNumber('LayerNorm', 'eps', o.eps, (e) => e >= 0, 'a non-negative number');
    checkBool('LayerNorm', 'elementwiseAffine', o.elementwiseAffine);
    this.eps = o.eps;
    this.elementwiseAffine = o.elementwiseAffine;
    const affine = o.elementwiseAffine, dtype = o.dtype;
    this.registerParameter('weight', affine ? ones(this.normalizedShape, { dtype, requiresGrad: true }) : null);
    this.registerParameter('bias', affine ? zeros(this.normalizedShape, { dtype, requiresGrad: true }) : null);
  }

  override forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, { weight: this.weight, bias: this.bias, eps: this.eps });
  }

  override extraRepr(): string {
    return `${fmt(this.normalizedShape)}, eps=${this.eps}, elementwiseAffine=${this.elementwiseAffine}`;
  }
}
