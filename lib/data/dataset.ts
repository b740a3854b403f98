import { type Tensor, isTensor } from '../tensor.js';
import { fmt } from '../shape.js';

/** A map-style dataset: `length` samples, `get(i)` returns the i-th sample's tensors. */
export interface Dataset {
  readonly length: number;
  get(i: number): Tensor[];
}

/** Samples are the rows (first dim) of the given tensors, e.g. new TensorDataset(x, y). */
export class TensorDataset implements Dataset {
  readonly tensors: Tensor[];

  constructor(...tensors: Tensor[]) {
    if (tensors.length === 0) throw new RangeError('TensorDataset: expected at least one tensor');
    for (const [i, t] of tensors.entries()) {
      if (!isTensor(t)) throw new TypeError(`TensorDataset: argument ${i} is not a Tensor`);
      if (t.ndim === 0) throw new RangeError(`TensorDataset: tensor ${i} is 0-d; every tensor needs a first (sample) dim`);
    }
    const n = tensors[0].shape[0];
    if (tensors.some((t) => t.shape[0] !== n)) {
      throw new RangeError(`TensorDataset: all tensors must have the same first dim, got shapes ${tensors.map((t) => fmt(t.shape)).join(', ')}`);
    }
    this.tensors = tensors;
  }

  get length(): number {
    return this.tensors[0].shape[0];
  }

  get(i: number): Tensor[] {
    if (!Number.isInteger(i) || i < -this.length || i >= this.length) {
      throw new RangeError(`TensorDataset: index ${i} is out of range for ${this.length} samples`);
    }
    const row = i < 0 ? i + this.length : i;
    return this.tensors.map((t) => t.indexSelect(0, [row]).reshape(t.shape.slice(1)));
  }

  /** The samples at the given indices, as whole tensors (one gather per tensor). */
  rows(idx: ArrayLike<number>): Tensor[] {
    return this.tensors.map((t) => t.indexSelect(0, idx));
  }
}
