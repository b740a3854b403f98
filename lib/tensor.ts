import type { FloatArray } from './backend/backend.js';
import type { Node } from './autograd/node.js';
import { backward } from './autograd/engine.js';
import * as ops from './ops/index.js';
import { fmt, sizeOf } from './shape.js';

export type DType = 'float32' | 'float64';
export type NestedArray = number | NestedArray[];
type Scalar = Tensor | number;

/** A dense row-major float tensor with reverse-mode autodiff. Memory is owned by the garbage collector. */
export class Tensor {
  readonly _isTensor = true;
  requiresGrad = false;
  /** Storage behind .grad; library code that reads it without keeping it uses this (autograd/pool.ts). */
  _grad: Tensor | null = null;
  /** _grad is memory the engine allocated and never handed out, so it may write into it (autograd/pool.ts). */
  _gradOwned = false;
  /** The tape node that produced this tensor; null for leaves. */
  gradFn: Node | null = null;
  /** Gradient memory kept by releaseGrad() for the next backward to reuse. */
  _gradBuf: Tensor | null = null;
  /** What an op's forward keeps for its VJP (e.g. softmax probabilities); lives as long as the output. */
  _saved: unknown = null;

  constructor(public data: FloatArray, public shape: number[]) {
    if (data.length !== sizeOf(shape)) {
      throw new RangeError(`Tensor: data has ${data.length} elements but shape ${fmt(shape)} needs ${sizeOf(shape)}`);
    }
  }

  /** Gradient accumulated by backward() (leaves, and non-leaves that called retainGrad()). */
  get grad(): Tensor | null {
    this._gradOwned = false; // now the caller holds it: the engine will not write into it again
    return this._grad;
  }
  set grad(g: Tensor | null) {
    this._grad = g;
    this._gradOwned = false;
  }

  get size(): number { return this.data.length; }
  get ndim(): number { return this.shape.length; }
  get dtype(): DType { return this.data instanceof Float64Array ? 'float64' : 'float32'; }
  get isLeaf(): boolean { return this.gradFn === null; }

  /** In place: mark a leaf as needing gradients (PyTorch's requires_grad_). */
  requiresGrad_(on = true): this {
    if (!this.isLeaf && !on) throw new Error('requiresGrad_: cannot turn off gradients of a non-leaf tensor; use detach()');
    this.requiresGrad = on;
    return this;
  }

  item(): number {
    if (this.size !== 1) throw new RangeError(`item: only a one-element tensor can be converted to a number, got shape ${fmt(this.shape)}`);
    return this.data[0];
  }

  toArray(): NestedArray {
    const build = (dim: number, off: number): NestedArray => {
      if (dim === this.shape.length) return this.data[off];
      const stride = sizeOf(this.shape.slice(dim + 1));
      const out: NestedArray[] = [];
      for (let i = 0; i < this.shape[dim]; i++) out.push(build(dim + 1, off + i * stride));
      return out;
    };
    return build(0, 0);
  }

  /** A tensor sharing this one's data, cut from the tape. */
  detach(): Tensor {
    return new Tensor(this.data, this.shape);
  }

  /** A copy with its own memory, cut from the tape. */
  clone(): Tensor {
    return new Tensor(this.data.slice(), this.shape.slice());
  }

  /**
   * Set .grad to null (what zeroGrad() does). If no one ever read or assigned .grad since the engine
   * allocated it, its memory is kept for the next backward() to write into (autograd/pool.ts).
   */
  releaseGrad(): void {
    if (this._gradOwned) this._gradBuf = this._grad;
    this._grad = null;
    this._gradOwned = false;
  }

  /** Keep .grad of a non-leaf after backward(). */
  retainGrad(): this {
    if (this.gradFn) this.gradFn.retained = this;
    return this;
  }

  /** Reverse-mode pass from this tensor. Scalars need no seed; others need `gradient` (the v of a VJP). */
  backward(gradient?: Tensor | null, opts: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
    backward([this], [gradient ?? null], opts);
  }

  toString(): string {
    const num = (v: number): string => {
      if (Number.isInteger(v)) return String(v);
      if (!Number.isFinite(v)) return String(v);
      return Number(v.toPrecision(4)).toString();
    };
    const body = (dim: number, off: number, indent: string): string => {
      if (dim === this.shape.length) return num(this.data[off]);
      const stride = sizeOf(this.shape.slice(dim + 1));
      const parts: string[] = [];
      const n = this.shape[dim];
      const show = n > 8 ? [0, 1, 2, -1, n - 3, n - 2, n - 1] : [...Array(n).keys()];
      for (const i of show) parts.push(i < 0 ? '...' : body(dim + 1, off + i * stride, indent + ' '));
      const sep = dim === this.shape.length - 1 ? ', ' : `,\n${indent} `;
      return `[${parts.join(sep)}]`;
    };
    const extras: string[] = [];
    if (this.gradFn) extras.push(`gradFn=<${this.gradFn.name}>`);
    else if (this.requiresGrad) extras.push('requiresGrad=true');
    if (this.dtype !== 'float32') extras.push(`dtype=${this.dtype}`);
    return `tensor(${body(0, 0, '       ')}${extras.map((e) => `, ${e}`).join('')})`;
  }

  add(o: Scalar): Tensor { return ops.add(this, o); }
  sub(o: Scalar): Tensor { return ops.sub(this, o); }
  mul(o: Scalar): Tensor { return ops.mul(this, o); }
  div(o: Scalar): Tensor { return ops.div(this, o); }
  neg(): Tensor { return ops.neg(this); }
  exp(): Tensor { return ops.exp(this); }
  log(): Tensor { return ops.log(this); }
  pow(p: number): Tensor { return ops.pow(this, p); }
  sqrt(): Tensor { return ops.sqrt(this); }
  abs(): Tensor { return ops.abs(this); }
  sigmoid(): Tensor { return ops.sigmoid(this); }
  tanh(): Tensor { return ops.tanh(this); }
  relu(): Tensor { return ops.relu(this); }
  clamp(min: number | null, max: number | null = null): Tensor { return ops.clamp(this, min, max); }
  softmax(dim: number): Tensor { return ops.softmax(this, dim); }
  logSoftmax(dim: number): Tensor { return ops.logSoftmax(this, dim); }
  matmul(o: Tensor): Tensor { return ops.matmul(this, o); }
  sum(dim?: number | readonly number[] | null, keepDim = false): Tensor { return ops.sum(this, dim, keepDim); }
  mean(dim?: number | readonly number[] | null, keepDim = false): Tensor { return ops.mean(this, dim, keepDim); }
  max(dim?: number | null, keepDim = false): Tensor { return ops.max(this, dim, keepDim); }
  argmax(dim?: number | null, keepDim = false): Tensor { return ops.argmax(this, dim, keepDim); }
  reshape(...shape: number[] | [number[]]): Tensor { return ops.reshape(this, flat(shape)); }
  view(...shape: number[] | [number[]]): Tensor { return ops.reshape(this, flat(shape)); }
  flatten(startDim = 0, endDim = -1): Tensor { return ops.flatten(this, startDim, endDim); }
  squeeze(dim?: number): Tensor { return ops.squeeze(this, dim); }
  unsqueeze(dim: number): Tensor { return ops.unsqueeze(this, dim); }
  expand(...shape: number[] | [number[]]): Tensor { return ops.expand(this, flat(shape)); }
  transpose(dim0: number, dim1: number): Tensor { return ops.transpose(this, dim0, dim1); }
  permute(...dims: number[] | [number[]]): Tensor { return ops.permute(this, flat(dims)); }
  /** All dims reversed (a matrix transpose for 2-D). */
  get T(): Tensor { return ops.permute(this, this.shape.map((_, i) => this.shape.length - 1 - i)); }
  indexSelect(dim: number, index: ArrayLike<number> | Tensor): Tensor { return ops.indexSelect(this, dim, index); }
  gather(dim: number, index: Tensor | number[][] | number[]): Tensor { return ops.gather(this, dim, index); }
  eq(o: Scalar): Tensor { return ops.eq(this, o); }
  gt(o: Scalar): Tensor { return ops.gt(this, o); }
  lt(o: Scalar): Tensor { return ops.lt(this, o); }
}

/** True for tapegrad tensors (also across duplicate copies of the module, which instanceof would miss). */
export function isTensor(v: unknown): v is Tensor {
  return typeof v === 'object' && v !== null && (v as { _isTensor?: boolean })._isTensor === true;
}

function flat(a: number[] | [number[]]): number[] {
  return Array.isArray(a[0]) ? (a[0] as number[]) : (a as number[]);
}
