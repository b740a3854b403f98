// Inference helpers shared by fit(), the CLI and users: batched forward without a graph, argmax,
// accuracy and mean loss over a dataset.
import { Tensor, isTensor } from '../tensor.js';
import { noGrad } from '../autograd/mode.js';
import { concat, narrow } from '../ops/index.js';

/** What prediction needs of a model (nn.Module satisfies it). */
export interface PredictModel {
  forward(x: Tensor): Tensor;
  training?: boolean;
  train?(mode?: boolean): unknown;
}

/** Run fn with the model in eval mode (dropout off, ...), restoring its previous mode after. */
export function inEvalMode<T>(model: PredictModel, fn: () => T): T {
  const was = model.training;
  model.train?.(false);
  try {
    return fn();
  } finally {
    if (was !== undefined) model.train?.(was);
  }
}

const rows = (x: Tensor, s: number, e: number): Tensor => narrow(x, 0, s, e - s);

/** The model's outputs for the rows of x, computed in batches without a graph, in eval mode. */
export function predict(model: PredictModel, x: Tensor, opts: { batchSize?: number } = {}): Tensor {
  const { batchSize = 1024 } = opts;
  const n = x.shape[0];
  return inEvalMode(model, () => noGrad(() => {
    if (n <= batchSize) return model.forward(x);
    const parts: Tensor[] = [];
    for (let s = 0; s < n; s += batchSize) parts.push(model.forward(rows(x, s, Math.min(n, s + batchSize))));
    return concat(parts, 0);
  }));
}

/** Index of the largest value of each row of a [n, c] tensor (the first one on ties). */
export function argmaxRows(t: Tensor): Int32Array {
  if (t.ndim !== 2) throw new RangeError(`argmaxRows: expected a [n, classes] tensor, got shape [${t.shape.join(', ')}]`);
  const [n, c] = t.shape, d = t.data, out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < c; j++) if (d[i * c + j] > d[i * c + best]) best = j;
    out[i] = best;
  }
  return out;
}

/**
 * How many rows of `output` ([n, classes] scores) have their argmax equal to the class index in
 * `target` ([n]); null when the pair is not a classification batch.
 */
export function countCorrect(output: Tensor, target: unknown): number | null {
  const labels = isTensor(target) ? (target.ndim === 1 ? target.data : null) : target instanceof Int32Array ? target : null;
  if (!labels || output.ndim !== 2 || output.shape[1] < 2 || labels.length !== output.shape[0]) return null;
  const pred = argmaxRows(output);
  let ok = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === labels[i]) ok++;
  return ok;
}

/** Fraction of rows of x whose predicted class (argmax of the model's output) equals y. */
export function accuracy(model: PredictModel, x: Tensor, y: Tensor): number {
  const n = x.shape[0];
  if (n === 0) return NaN;
  const ok = countCorrect(predict(model, x), y);
  if (ok === null) throw new RangeError(`accuracy: expected [n, classes] outputs and [n] class indices, got ${n} rows and targets of shape [${y.shape.join(', ')}]`);
  return ok / n;
}

export type LossFunction = (output: Tensor, target: any) => Tensor;

/** A loss module or function as a function. */
export function lossFunction(lossFn: unknown): LossFunction | null {
  if (typeof lossFn === 'function') return lossFn as LossFunction;
  const m = lossFn as { forward?: unknown } | null;
  return m && typeof m.forward === 'function' ? (o, t) => (m as { forward: LossFunction }).forward(o, t) : null;
}

export interface Evaluation {
  /** Mean loss per sample. */
  loss: number;
  /** Fraction correct, for classification data (else undefined). */
  accuracy?: number;
  samples: number;
}

/** Mean loss (per sample) and accuracy of the model on [x, y] or on batches, without a graph, in eval mode. */
export function evaluate(model: PredictModel, data: readonly [Tensor, Tensor] | Iterable<readonly unknown[]>, lossFn: unknown, opts: { batchSize?: number } = {}): Evaluation {
  const loss = lossFunction(lossFn);
  if (!loss) throw new TypeError('evaluate: lossFn must be a loss module or a function (output, target) => Tensor');
  const { batchSize = 1024 } = opts;
  let batches: Iterable<readonly unknown[]>;
  if (Array.isArray(data) && data.length === 2 && isTensor(data[0]) && isTensor(data[1])) {
    const [x, y] = data as unknown as readonly [Tensor, Tensor];
    const n = x.shape[0];
    batches = (function* () { for (let s = 0; s < n; s += batchSize) yield [rows(x, s, Math.min(n, s + batchSize)), rows(y, s, Math.min(n, s + batchSize))]; })();
  } else {
    batches = data as Iterable<readonly unknown[]>;
  }
  let sum = 0, samples = 0, correct = 0, classify = true;
  inEvalMode(model, () => noGrad(() => {
    for (const b of batches) {
      const x = b[0] as Tensor, out = model.forward(x), n = x.shape[0];
      sum += loss(out, b[1]).item() * n;
      samples += n;
      const c = classify ? countCorrect(out, b[1]) : null;
      if (c === null) classify = false;
      else correct += c;
    }
  }));
  return { loss: samples ? sum / samples : NaN, ...(classify && samples > 0 && { accuracy: correct / samples }), samples };
}
