import { Tensor, type NestedArray } from '../tensor.js';
import { tensor, zeros } from '../creation.js';
import { permutation } from '../random.js';
import { fmt } from '../shape.js';
import { Module } from './module.js';
import { isTensor } from '../tensor.js';

export interface PerceptronOptions {
  /** Learning rate of the update rule (default 1). */
  lr?: number;
  /** Upper bound on training epochs (default 100). */
  maxEpochs?: number;
  /** Visit samples in a new order each epoch, drawn from the seeded generator (default false: fixed order). */
  shuffle?: boolean;
}

export interface PerceptronFitResult {
  /** An epoch went by without a single misclassification. */
  converged: boolean;
  /** Epochs run (including the final error-free one when converged). */
  epochs: number;
  /** Misclassifications in each epoch. */
  errors: number[];
}

/**
 * Rosenblatt's perceptron: ŷ = step(w·x + b) with step(z) = 1 if z > 0 else 0, trained by the
 * perceptron rule (no gradients): for each misclassified sample, w += lr·(y - ŷ)·x and
 * b += lr·(y - ŷ). On linearly separable data it converges in finitely many epochs
 * (Novikoff); on XOR it never does. weight [inFeatures] and bias [] are buffers (in stateDict,
 * not in parameters()); they start at zero, so training is deterministic.
 */
export class Perceptron extends Module<[Tensor], Tensor> {
  declare weight: Tensor;
  declare bias: Tensor;
  readonly lr: number;
  readonly maxEpochs: number;
  readonly shuffle: boolean;

  constructor(readonly inFeatures: number, opts: PerceptronOptions = {}) {
    super();
    if (!Number.isInteger(inFeatures) || inFeatures < 1) throw new RangeError(`Perceptron: inFeatures must be a positive integer, got ${inFeatures}`);
    this.lr = opts.lr ?? 1;
    this.maxEpochs = opts.maxEpochs ?? 100;
    this.shuffle = opts.shuffle ?? false;
    if (!(Number.isFinite(this.lr) && this.lr > 0)) throw new RangeError(`Perceptron: lr must be a finite number > 0, got ${this.lr}`);
    if (!Number.isInteger(this.maxEpochs) || this.maxEpochs < 1) throw new RangeError(`Perceptron: maxEpochs must be a positive integer, got ${this.maxEpochs}`);
    this.registerBuffer('weight', zeros([inFeatures]));
    this.registerBuffer('bias', zeros([]));
  }

  private _input(op: string, x: Tensor | NestedArray): Tensor {
    const t = isTensor(x) ? x : tensor(x);
    const ok = (t.ndim === 2 && t.shape[1] === this.inFeatures) || (t.ndim === 1 && t.shape[0] === this.inFeatures);
    if (!ok) throw new RangeError(`Perceptron.${op}: expected input of shape [n, ${this.inFeatures}] or [${this.inFeatures}], got ${fmt(t.shape)}`);
    return t;
  }

  /** w·x + b for each row. */
  private _score(x: ArrayLike<number>, off: number): number {
    const w = this.weight.data, n = this.inFeatures;
    let z = this.bias.data[0];
    for (let j = 0; j < n; j++) z += w[j] * x[off + j];
    return z;
  }

  /** Step output 0/1: shape [n] for input [n, inFeatures], [] for a single sample [inFeatures]. */
  predict(x: Tensor | NestedArray): Tensor {
    const t = this._input('predict', x);
    const rows = t.ndim === 2 ? t.shape[0] : 1;
    const out = zeros(t.ndim === 2 ? [rows] : []);
    for (let i = 0; i < rows; i++) out.data[i] = this._score(t.data, i * this.inFeatures) > 0 ? 1 : 0;
    return out;
  }

  /** The step output, as predict(). */
  override forward(x: Tensor): Tensor {
    return this.predict(x);
  }

  /** Fraction of samples classified correctly. */
  score(x: Tensor | NestedArray, y: Tensor | ArrayLike<number>): number {
    const pred = this.predict(x).data;
    const target = this._targets('score', y, pred.length);
    let ok = 0;
    for (let i = 0; i < pred.length; i++) if (pred[i] === target[i]) ok++;
    return pred.length ? ok / pred.length : 1;
  }

  private _targets(op: string, y: Tensor | ArrayLike<number>, rows: number): ArrayLike<number> {
    const ys = isTensor(y) ? y.data : y;
    if (ys.length !== rows) throw new RangeError(`Perceptron.${op}: ${rows} samples but ${ys.length} targets`);
    for (let i = 0; i < ys.length; i++) {
      if (ys[i] !== 0 && ys[i] !== 1) throw new RangeError(`Perceptron.${op}: targets must be 0 or 1, got ${ys[i]} at index ${i}`);
    }
    return ys;
  }

  /** Train with the perceptron rule until an epoch makes no mistake, or maxEpochs. */
  fit(x: Tensor | NestedArray, y: Tensor | ArrayLike<number>): PerceptronFitResult {
    const t = this._input('fit', x);
    if (t.ndim !== 2) throw new RangeError(`Perceptron.fit: expected input of shape [n, ${this.inFeatures}], got ${fmt(t.shape)}`);
    const rows = t.shape[0], n = this.inFeatures, xs = t.data;
    const ys = this._targets('fit', y, rows);
    const w = this.weight.data, b = this.bias.data, lr = this.lr;
    const errors: number[] = [];
    let order: ArrayLike<number> = Int32Array.from({ length: rows }, (_, i) => i);
    for (let epoch = 0; epoch < this.maxEpochs; epoch++) {
      if (this.shuffle) order = permutation(rows);
      let wrong = 0;
      for (let k = 0; k < rows; k++) {
        const i = order[k], off = i * n;
        const delta = ys[i] - (this._score(xs, off) > 0 ? 1 : 0);
        if (delta === 0) continue;
        wrong++;
        for (let j = 0; j < n; j++) w[j] += lr * delta * xs[off + j];
        b[0] += lr * delta;
      }
      errors.push(wrong);
      if (wrong === 0) return { converged: true, epochs: epoch + 1, errors };
    }
    return { converged: false, epochs: this.maxEpochs, errors };
  }

  override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, lr=${this.lr}, maxEpochs=${this.maxEpochs}`;
  }
}
