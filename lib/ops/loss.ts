import { kernels } from '../backend/index.js';
import { defineOp } from '../autograd/node.js';
import { isGradEnabled } from '../autograd/mode.js';
import { Tensor } from '../tensor.js';
import { fmt, sameShape } from '../shape.js';
import { add, clamp, log, mul, neg, sub, abs, exp, maximum, binaryKernel } from './elementwise.js';
import { softmax } from './activation.js';
import { mean, sum } from './reduce.js';
import { empty, promote, toIndex } from './util.js';

export type Labels = ArrayLike<number> | Tensor;

/** A [labels.length, classes] tensor of 0/1 rows (dtype of like). */
export function oneHot(labels: Labels, classes: number, like?: Tensor): Tensor {
  const idx = toIndex('oneHot', labels, classes);
  const out = like ? empty(like, [idx.length, classes]) : new Tensor(new Float32Array(idx.length * classes), [idx.length, classes]);
  for (let r = 0; r < idx.length; r++) out.data[r * classes + idx[r]] = 1;
  return out;
}

function checkRows(op: string, x: Tensor, labels: Int32Array): void {
  if (x.ndim !== 2) throw new RangeError(`${op}: expected input of shape [batch, classes], got ${fmt(x.shape)}`);
  if (labels.length !== x.shape[0]) {
    throw new RangeError(`${op}: input ${fmt(x.shape)} has ${x.shape[0]} rows but ${labels.length} labels were given`);
  }
}

const crossEntropyOp = defineOp({
  name: 'CrossEntropy',
  forward: (logits: Tensor, labels: Int32Array) => {
    const [rows, classes] = logits.shape;
    const probs = empty(logits, logits.shape);
    const out = empty(logits, []);
    out.data[0] = kernels(logits.data).crossEntropy(logits.data, labels, rows, classes, probs.data);
    out._saved = probs;
    return out;
  },
  // ∂/∂logits of mean(-log softmax[label]) = (softmax - onehot) / rows
  vjp: (g, out, logits: Tensor, labels: Int32Array) => {
    const [rows, classes] = logits.shape;
    if (isGradEnabled()) {
      // building a graph (createGraph): the same formula from differentiable ops
      return [mul(sub(softmax(logits, 1), oneHot(labels, classes, logits)), mul(g, 1 / rows))];
    }
    const d = empty(logits, logits.shape);
    kernels(logits.data).crossEntropyBackward((out._saved as Tensor).data, labels, rows, classes, g.data[0] / rows, d.data);
    return [d];
  },
});

/** Mean softmax cross-entropy of logits [batch, classes] against integer class labels; numerically stable. */
export function crossEntropy(logits: Tensor, labels: Labels): Tensor {
  if (logits.ndim !== 2) throw new RangeError(`crossEntropy: expected logits of shape [batch, classes], got ${fmt(logits.shape)}`);
  const idx = toIndex('crossEntropy', labels, logits.shape[1]);
  checkRows('crossEntropy', logits, idx);
  return crossEntropyOp(logits, idx);
}

/** Mean negative log-likelihood of log-probabilities [batch, classes] at the labels. */
export function nllLoss(logProbs: Tensor, labels: Labels): Tensor {
  if (logProbs.ndim !== 2) throw new RangeError(`nllLoss: expected input of shape [batch, classes], got ${fmt(logProbs.shape)}`);
  const idx = toIndex('nllLoss', labels, logProbs.shape[1]);
  checkRows('nllLoss', logProbs, idx);
  return neg(mul(sum(mul(logProbs, oneHot(idx, logProbs.shape[1], logProbs))), 1 / idx.length));
}

function checkSame(op: string, a: Tensor, b: Tensor): void {
  if (!sameShape(a.shape, b.shape)) throw new RangeError(`${op}: input ${fmt(a.shape)} and target ${fmt(b.shape)} must have the same shape`);
}

const mseOp = defineOp({
  name: 'MseLoss',
  forward: (input: Tensor, target: Tensor) => {
    const d = binaryKernel('sub', 'mseLoss', input, target);
    const sq = binaryKernel('mul', 'mseLoss', d, d);
    const out = empty(input, []);
    kernels(sq.data).reduce('sum', sq.data, 1, sq.size, 1, out.data);
    out.data[0] /= Math.max(sq.size, 1);
    return out;
  },
  // d/dinput mean((input - target)²) = 2(input - target)/n
  vjp: (g, _out, input: Tensor, target: Tensor) => {
    const n = Math.max(input.size, 1);
    const d = sub(input, target); // recomputed: cheaper than keeping it alive with the output
    const gi = isGradEnabled() ? mul(d, mul(g, 2 / n)) : mul(d, (2 / n) * g.data[0]);
    return [input.requiresGrad ? gi : null, target.requiresGrad ? neg(gi) : null];
  },
});

/** Mean squared error. */
export function mseLoss(input: Tensor, target: Tensor): Tensor {
  checkSame('mseLoss', input, target);
  return mseOp(...promote(input, target));
}

/** Mean binary cross-entropy of probabilities; logs are clamped at -100 like PyTorch. */
export function bceLoss(input: Tensor, target: Tensor): Tensor {
  checkSame('bceLoss', input, target);
  for (let i = 0; i < input.size; i++) {
    const v = input.data[i];
    if (!(v >= 0 && v <= 1)) throw new RangeError(`bceLoss: input values must lie in [0, 1], got ${v} at flat index ${i}`);
  }
  const logP = clamp(log(input), -100);
  const log1mP = clamp(log(sub(1, input)), -100);
  return neg(mean(add(mul(target, logP), mul(sub(1, target), log1mP))));
}

/** Mean binary cross-entropy on logits: max(x,0) - x·y + log(1 + e^-|x|), stable for any x. */
export function bceWithLogitsLoss(input: Tensor, target: Tensor): Tensor {
  checkSame('bceWithLogitsLoss', input, target);
  const zero = empty(input, []);
  return mean(add(sub(maximum(input, zero), mul(input, target)), log(add(exp(neg(abs(input))), 1))));
}
