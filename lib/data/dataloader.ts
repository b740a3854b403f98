import type { Tensor } from '../tensor.js';
import { stack } from '../ops/index.js';
import { noGrad } from '../autograd/mode.js';
import { type Dataset, TensorDataset } from './dataset.js';
import { generatorFor, permutation, type RandomSource } from '../random.js';

export interface DataLoaderOptions {
  /** Samples per batch (default 1). */
  batchSize?: number;
  /** Draw a new random order every epoch (default false). */
  shuffle?: boolean;
  /** Seed of the loader's own generator: the sequence of epoch orders is reproducible and independent of manualSeed. */
  seed?: number;
  /** Skip the last batch when it is smaller than batchSize (default false). */
  dropLast?: boolean;
}

/**
 * Iterates a dataset in batches: `for (const [x, y] of loader)`. Each iteration (`for ... of`) is one
 * epoch; with shuffle the order is redrawn at the start of each epoch. A TensorDataset is batched with
 * one indexSelect per tensor; other datasets are batched by stacking their samples.
 */
export class DataLoader implements Iterable<Tensor[]> {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  private readonly gen: RandomSource;

  constructor(readonly dataset: Dataset, opts: DataLoaderOptions = {}) {
    const { batchSize = 1, shuffle = false, seed, dropLast = false } = opts;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`DataLoader: batchSize must be a positive integer, got ${batchSize}`);
    this.batchSize = batchSize;
    this.shuffle = shuffle;
    this.dropLast = dropLast;
    this.gen = generatorFor(seed);
  }

  /** Number of batches per epoch. */
  get length(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The sample order of the next epoch (advances the generator when shuffling). */
  private order(): Int32Array {
    const n = this.dataset.length;
    if (this.shuffle) return permutation(n, this.gen);
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return p;
  }

  *[Symbol.iterator](): Iterator<Tensor[]> {
    const order = this.order();
    const batches = this.length;
    for (let b = 0; b < batches; b++) {
      const idx = order.subarray(b * this.batchSize, Math.min((b + 1) * this.batchSize, order.length));
      yield noGrad(() => this.batch(idx));
    }
  }

  private batch(idx: Int32Array): Tensor[] {
    const ds = this.dataset;
    if (ds instanceof TensorDataset) return ds.rows(idx);
    const samples = Array.from(idx, (i) => ds.get(i));
    return samples[0].map((_, k) => stack(samples.map((s) => s[k])));
  }
}
