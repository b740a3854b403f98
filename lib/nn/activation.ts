import type { Tensor } from '../tensor.js';
import { relu, sigmoid, tanh, softmax, logSoftmax, flatten } from '../ops/index.js';
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
