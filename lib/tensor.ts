import type { FloatArray } from './backend/backend.js';
import { TENSOR_TAG, fmt, sizeOf } from './shape.js';

export type DType = 'float32' | 'float64' | 'int32';
/** A tensor's memory: Float32Array, Float64Array, or Int32Array for int32 (indices and labels). */
export type TensorData = FloatArray | Int32Array;
/** A tensor known to hold float memory (what empty/uninit make). */
export type FloatTensor = Tensor & { data: FloatArray };
export type NestedArray = number | NestedArray[];

// Tensor and Node are the data of the tape. Their methods that compute (x.add(y), x.backward())
// are installed by lib/ops/methods.ts, so this file imports nothing above it. Engine-private state
// lives in #private fields, reached only through tensorInternals and nodeInternals below (not exported from lib/index).

/** Engine-private access to Tensor's gradient slots (lib-internal: not exported from lib/index). */
export let tensorInternals: {
  /** .grad without handing it to the caller (the engine and optimizers read it without keeping it). */
  grad(t: Tensor): Tensor | null;
  /** .grad is memory the engine allocated and never handed out, so it may write into it. */
  owned(t: Tensor): boolean;
  /** Install g as t's .grad, owned by the engine. */
  setOwned(t: Tensor, g: Tensor): void;
  /** The buffer releaseGrad() kept (once; null if none). */
  takeKept(t: Tensor): Tensor | null;
};

/** Engine-private access to Node's bookkeeping (lib-internal). */
export let nodeInternals: {
  mark(n: Node): number;
  setMark(n: Node, m: number): void;
  grad(n: Node): Tensor | null;
  setGrad(n: Node, g: Tensor | null): void;
  record(n: Node): TapeRecord | null;
  /** The inputs, read without marking the node as exposed. */
  inputs(n: Node): readonly Tensor[];
  /** Someone read .inputs: the tensors on this node may be held by user code. */
  exposed(n: Node): boolean;
  /** The one node that consumes this node's output, when the output may be recycled after both ran (autograd/pool.ts). */
  consumer(n: Node): Node | null;
  setConsumer(n: Node, c: Node): void;
};

/**
 * A dense row-major tensor with reverse-mode autodiff: float32, float64, or int32 (indices and labels;
 * never requires grad). Memory is owned by the garbage collector.
 */
export class Tensor {
  /** Whether backward() computes a gradient for this tensor; only float tensors can have one (requiresGrad_ checks). */
  requiresGrad = false;
  /** The tape node that produced this tensor; null for leaves. */
  gradFn: Node | null = null;
  // gradient memory (rules in autograd/pool.ts): storage behind .grad; whether the engine allocated it
  // and never handed it out; what releaseGrad() kept for the next backward to reuse
  #grad: Tensor | null = null;
  #gradOwned = false;
  #gradBuf: Tensor | null = null;

  constructor(public data: TensorData, public shape: number[]) {
    if (data.length !== sizeOf(shape)) {
      throw new RangeError(`Tensor: data has ${data.length} elements but shape ${fmt(shape)} needs ${sizeOf(shape)}`);
    }
  }

  /** Gradient accumulated by backward() (leaves, and non-leaves that called retainGrad()). */
  get grad(): Tensor | null {
    this.#gradOwned = false; // now the caller holds it: the engine will not write into it again
    return this.#grad;
  }
  set grad(g: Tensor | null) {
    this.#grad = g;
    this.#gradOwned = false;
  }

  get size(): number { return this.data.length; }
  get ndim(): number { return this.shape.length; }
  get dtype(): DType { return this.data instanceof Float64Array ? 'float64' : this.data instanceof Int32Array ? 'int32' : 'float32'; }
  /** PyTorch's is_floating_point(): false for int32. */
  isFloatingPoint(): boolean { return !(this.data instanceof Int32Array); }
  get isLeaf(): boolean { return this.gradFn === null; }

  /** In place: mark a leaf as needing gradients (PyTorch's requires_grad_). */
  requiresGrad_(on = true): this {
    if (!this.isLeaf && !on) throw new Error('requiresGrad_: cannot turn off gradients of a non-leaf tensor; use detach()');
    if (on && this.data instanceof Int32Array) throw new TypeError('requiresGrad_: only floating point tensors can require gradients, got an int32 tensor');
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
    if (this.#gradOwned) this.#gradBuf = this.#grad;
    this.#grad = null;
    this.#gradOwned = false;
  }

  /** Keep .grad of a non-leaf after backward(). */
  retainGrad(): this {
    if (this.gradFn) this.gradFn.retained = this;
    return this;
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

  static {
    (Tensor.prototype as unknown as Record<symbol, boolean>)[TENSOR_TAG] = true;
    tensorInternals = {
      grad: (t) => t.#grad,
      owned: (t) => t.#gradOwned,
      setOwned: (t, g) => { t.#grad = g; t.#gradOwned = true; },
      takeKept: (t) => { const b = t.#gradBuf; t.#gradBuf = null; return b; },
    };
  }
}

/**
 * The float memory of t, for a float kernel. Ops receive float tensors (autograd/define.ts promotes
 * int32 inputs); the backend's kernels() refuses Int32Array memory as a second line.
 */
export function floatData(t: Tensor): FloatArray {
  return t.data as FloatArray;
}

/** True for tapegrad tensors (also across duplicate copies of the module, which instanceof would miss). */
export function isTensor(v: unknown): v is Tensor {
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[TENSOR_TAG] === true;
}

/** One entry of the tape: the op that made a tensor, its inputs and how to pull a gradient back through it. */
export class Node {
  /** Set by Tensor.retainGrad() on a non-leaf: the tensor whose .grad should be kept. */
  retained: Tensor | null = null;
  /** Where the forward op was called (recorded only in anomaly mode). */
  createdAt?: string;
  /** Library op: its VJP keeps no reference to g or to what it computes, so the engine may recycle them (pool.ts). */
  scratchSafe = false;
  /** The op's forward always returns memory of its own, shared with no other tensor (not a view). */
  freshOutput = false;
  // engine bookkeeping for one backward pass: visit mark and the gradient gathered so far
  #mark = 0;
  #grad: Tensor | null = null;
  // what the VJP needs; dropped by release()
  #record: TapeRecord | null;
  #inputs: readonly Tensor[];
  // whether .inputs was read (then its tensors may be held outside the engine); see pool.ts, rule 6
  #exposed = false;
  #consumer: Node | null = null;

  constructor(readonly name: string, inputs: readonly Tensor[], record: TapeRecord, readonly outShape: readonly number[]) {
    this.#record = record;
    this.#inputs = inputs;
  }

  /** The tensors this op read (empty once released). */
  get inputs(): readonly Tensor[] {
    this.#exposed = true;
    return this.#inputs;
  }

  /** True once backward() without retainGraph has dropped what the VJP needed. */
  get released(): boolean {
    return this.#record === null;
  }

  /** Drop saved tensors once the graph has been used (backward without retainGraph). */
  release(): void {
    this.#record = null;
    this.#inputs = [];
  }

  toString(): string {
    return `<${this.name}>`;
  }

  static {
    nodeInternals = {
      mark: (n) => n.#mark,
      setMark: (n, m) => { n.#mark = m; },
      grad: (n) => n.#grad,
      setGrad: (n, g) => { n.#grad = g; },
      record: (n) => n.#record,
      inputs: (n) => n.#inputs,
      exposed: (n) => n.#exposed,
      consumer: (n) => n.#consumer,
      setConsumer: (n, c) => { n.#consumer = c; },
    };
  }
}

/** An op application kept on the tape for its VJP (autograd/define.ts fills it, the engine calls it). */
export interface TapeRecord {
  readonly vjp: (g: Tensor, ctx: never, ...args: never[]) => readonly unknown[];
  readonly args: readonly unknown[];
  readonly out: Tensor;
  readonly saved: unknown;
  /** Per tensor input (in order): whether it needs a gradient (PyTorch's grad_input_mask). */
  readonly needsInputGrad: readonly boolean[];
}
