import type { Tensor } from '../tensor.js';
import { relu, sigmoid, tanh, softmax, logSoftmax, flatten, leakyRelu, gelu, elu, silu, softplus, mish } from '../ops/index.js';
import { geluOptions, softplusOptions, type GeluApproximate, type GeluOptions, type SoftplusOptions } from '../ops/nonlinear.js';
import { checkNumber } from '../options.js';
import { Module } from './module.js';

export class ReLU extends Module<[Tensor], Tensor> {
  override forward(x: Tensor): Tensor { return relu(x); }
}

export class Sigmoid extends Module<[Tensor], Tensor> {
  override forward(x: Tensor): Tensor { return sigmoid(x); }
}

export class Tanh extends Module<[Tensor], Tensor> {
  override forward(x: Tensor): Tensor { return tanh(x); }
}

export class Identity extends Module<[Tensor], Tensor> {
  override forward(x: Tensor): Tensor { return x; }
}

export class Softmax extends Module<[Tensor], Tensor> {
  constructor(readonly dim: number) { super(); }
  override forward(x: Tensor): Tensor { return softmax(x, this.dim); }
  override extraRepr(): string { return `dim=${this.dim}`; }
}

export class LogSoftmax extends Module<[Tensor], Tensor> {
  constructor(readonly dim: number) { super(); }
  override forward(x: Tensor): Tensor { return logSoftmax(x, this.dim); }
  override extraRepr(): string { return `dim=${this.dim}`; }
}

/** Flattens dims startDim..endDim (default: all but the batch dim). */
export class Flatten extends Module<[Tensor], Tensor> {
  constructor(readonly startDim = 1, readonly endDim = -1) { super(); }
  override forward(x: Tensor): Tensor { return flatten(x, this.startDim, this.endDim); }
  override extraRepr(): string { return `startDim=${this.startDim}, endDim=${this.endDim}`; }
}

/** x for x > 0, negativeSlope·x otherwise. */
export class LeakyReLU extends Module<[Tensor], Tensor> {
  constructor(readonly negativeSlope = 0.01) {
    super();
    checkNumber('LeakyReLU', 'negativeSlope', negativeSlope, () => true, 'a finite number');
  }
  override forward(x: Tensor): Tensor { return leakyRelu(x, this.negativeSlope); }
  override extraRepr(): string { return `negativeSlope=${this.negativeSlope}`; }
}

/** x·Φ(x), exact (erf) or with approximate: 'tanh'. */
export class GELU extends Module<[Tensor], Tensor> {
  readonly approximate: GeluApproximate;
  constructor(opts?: GeluOptions) {
    super();
    this.approximate = geluOptions('GELU', opts).approximate;
  }
  override forward(x: Tensor): Tensor { return gelu(x, { approximate: this.approximate }); }
  override extraRepr(): string { return `approximate='${this.approximate}'`; }
}

/** x for x > 0, alpha·(eˣ - 1) otherwise. */
export class ELU extends Module<[Tensor], Tensor> {
  constructor(readonly alpha = 1) {
    super();
    checkNumber('ELU', 'alpha', alpha, () => true, 'a finite number');
  }
  override forward(x: Tensor): Tensor { return elu(x, this.alpha); }
  override extraRepr(): string { return `alpha=${this.alpha}`; }
}

/** x·σ(x) (swish). */
export class SiLU extends Module<[Tensor], Tensor> {
  override forward(x: Tensor): Tensor { return silu(x); }
}

/** log(1 + e^(beta·x))/beta, linear above beta·x > threshold. */
export class Softplus extends Module<[Tensor], Tensor> {
  readonly beta: number;
  readonly threshold: number;
  constructor(opts?: SoftplusOptions) {
    super();
    ({ beta: this.beta, threshold: this.threshold } = softplusOptions('Softplus', opts));
  }
  override forward(x: Tensor): Tensor { return softplus(x, { beta: this.beta, threshold: this.threshold }); }
  override extraRepr(): string { return `beta=${this.beta}, threshold=${this.threshold}`; }
}

/** x·tanh(softplus(x)). */
export class Mish extends Module<[Tensor], Tensor> {
  override forward(x: Tensor): Tensor { return mish(x); }
}
