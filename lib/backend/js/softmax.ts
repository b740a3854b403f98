// Softmax and cross-entropy kernels of the JS backend.
import type { FloatArray } from '../backend.js';
import { checkAxis } from './strides.js';

export function softmax(x: FloatArray, outer: number, n: number, inner: number, out: FloatArray, log: boolean): void {
  checkAxis('softmax', x.length, outer, n, inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const start = o * n * inner + i, end = start + n * inner;
      // Subtracting the max keeps exp() from overflowing; the result is unchanged.
      let max = -Infinity;
      for (let j = start; j < end; j += inner) if (x[j] > max) max = x[j];
      if (max === -Infinity) max = 0; // all -Infinity: avoid -Inf - -Inf = NaN
      let sum = 0;
      if (log) {
        for (let j = start; j < end; j += inner) sum += Math.exp(x[j] - max);
        const shift = max + Math.log(sum);
        for (let j = start; j < end; j += inner) out[j] = x[j] - shift;
      } else {
        for (let j = start; j < end; j += inner) { const e = Math.exp(x[j] - max); out[j] = e; sum += e; }
        const inv = 1 / sum;
        for (let j = start; j < end; j += inner) out[j] *= inv;
      }
    }
  }
}

function checkLabels(what: string, labels: Int32Array, rows: number, classes: number): void {
  if (labels.length < rows) throw new RangeError(`${what}: ${labels.length} labels for ${rows} rows`);
  for (let r = 0; r < rows; r++) {
    const l = labels[r];
    if (l < 0 || l >= classes) {
      throw new RangeError(`${what}: label ${l} at row ${r} is outside [0, ${classes})`);
    }
  }
}

export function crossEntropy(logits: FloatArray, labels: Int32Array, rows: number, classes: number, probs: FloatArray): number {
  checkLabels('crossEntropy', labels, rows, classes);
  checkAxis('crossEntropy', logits.length, rows, classes, 1);
  let loss = 0;
  for (let r = 0; r < rows; r++) {
    const start = r * classes, end = start + classes;
    let max = -Infinity;
    for (let j = start; j < end; j++) if (logits[j] > max) max = logits[j];
    let sum = 0;
    for (let j = start; j < end; j++) { const e = Math.exp(logits[j] - max); probs[j] = e; sum += e; }
    const inv = 1 / sum;
    for (let j = start; j < end; j++) probs[j] *= inv;
    // -log softmax from the logits (log-sum-exp), not log(prob): no log(0) for tiny probabilities.
    loss += max + Math.log(sum) - logits[start + labels[r]];
  }
  return loss / rows;
}

export function crossEntropyBackward(
  probs: FloatArray, labels: Int32Array, rows: number, classes: number, scale: number, out: FloatArray,
): void {
  checkLabels('crossEntropyBackward', labels, rows, classes);
  const len = rows * classes;
  for (let i = 0; i < len; i++) out[i] = scale * probs[i];
  for (let r = 0; r < rows; r++) {
    const at = r * classes + labels[r];
    out[at] = scale * (probs[at] - 1);
  }
}
