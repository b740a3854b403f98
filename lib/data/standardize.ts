// Per-feature standardization (scikit-learn's StandardScaler): statistics from the training rows,
// applied to every split and recorded with the model.
import { Tensor } from '../tensor.js';

export interface FeatureStats { mean: number[]; std: number[] }

/** Mean and (population) standard deviation of each column of a [n, f] tensor; a constant column gets std 1. */
export function featureStats(x: Tensor): FeatureStats {
  if (x.ndim !== 2 || x.shape[0] === 0) throw new RangeError(`featureStats: expected a non-empty [n, features] tensor, got shape [${x.shape.join(', ')}]`);
  const [n, f] = x.shape;
  const mean = new Array<number>(f).fill(0), sq = new Array<number>(f).fill(0);
  for (let i = 0; i < n; i++) for (let j = 0; j < f; j++) mean[j] += x.data[i * f + j];
  for (let j = 0; j < f; j++) mean[j] /= n;
  for (let i = 0; i < n; i++) for (let j = 0; j < f; j++) sq[j] += (x.data[i * f + j] - mean[j]) ** 2;
  const std = sq.map((s) => Math.sqrt(s / n) || 1);
  return { mean, std };
}

/** (x - mean) / std per column, as a new tensor (no graph). */
export function standardize(x: Tensor, stats: FeatureStats): Tensor {
  const f = stats.mean.length;
  if (x.ndim !== 2 || x.shape[1] !== f) throw new RangeError(`standardize: expected [n, ${f}] inputs, got shape [${x.shape.join(', ')}]`);
  const out = new Float32Array(x.size);
  for (let i = 0; i < x.size; i++) out[i] = (x.data[i] - stats.mean[i % f]) / stats.std[i % f];
  return new Tensor(out, x.shape.slice());
}
