import type { Tensor } from '../tensor.js';
import { dropout } from '../ops/normalization.js';
import { checkNumber } from '../options.js';
import { Module } from './module.js';

/** In train(): zeroes each element with probability p and scales the rest by 1/(1 - p) (seeded by manualSeed); in eval(): the identity. */
export class Dropout extends Module<[Tensor], Tensor> {
  constructor(readonly p = 0.5) {
    super();
    checkNumber('Dropout', 'p', p, (q) => q >= 0 && q <= 1, 'a probability in [0, 1]');
  }
  override forward(x: Tensor): Tensor { return dropout(x, this.p, this.training); }
  override extraRepr(): string { return `p=${this.p}`; }
}
