import { isTensor, type Tensor } from '../tensor.js';
import { isGradEnabled } from './mode.js';
import { checkForward, isAnomalyEnabled } from './anomaly.js';

/** Returned by a VJP for an input whose gradient it already wrote into the engine's buffer (takeGradBuffer). */
export const ACCUMULATED: unique symbol = Symbol('ACCUMULATED');

/** Gradients for an op's tensor inputs; null where an input needs none. */
export type Grads = readonly (Tensor | null | undefined | typeof ACCUMULATED)[];
export type Vjp = (g: Tensor) => Grads;

/** One entry of the tape: the op that made a tensor, its inputs and how to pull a gradient back through it. */
export class Node {
  /** Set by Tensor.retainGrad() on a non-leaf: the tensor whose .grad should be kept. */
  retained: Tensor | null = null;
  /** Engine bookkeeping for one backward pass: visit mark and the gradient gathered so far. */
  _mark = 0;
  _grad: Tensor | null = null;
  /** Where the forward op was called (recorded only in anomaly mode). */
  createdAt?: string;
  /** Library op: its VJP keeps no reference to g or to what it computes, so the engine may recycle them (pool.ts). */
  scratchSafe = false;
  constructor(
    readonly name: string,
    public inputs: readonly Tensor[],
    public vjp: Vjp | null,
    readonly outShape: readonly number[],
  ) {}

  /** Drop saved tensors once the graph has been used (backward without retainGraph). */
  release(): void {
    this.vjp = null;
    this.inputs = [];
  }

  toString(): string {
    return `<${this.name}>`;
  }
}

export interface OpDef<A extends unknown[]> {
  /** 'Exp' gives gradFn name 'ExpBackward'. */
  name: string;
  /** Computes the result with backend kernels; never records (inputs are the Tensors among args). */
  forward: (...args: A) => Tensor;
  /** Gradients for each Tensor input, in the order they appear in args (arrays of tensors flattened). */
  vjp: (g: Tensor, out: Tensor, ...args: A) => Grads;
}

/**
 * Declare an op once: forward and VJP side by side. The returned function records a tape node when
 * needed. The VJP may keep any tensor it sees or makes: the engine never recycles their memory.
 */
export function defineOp<A extends unknown[]>(def: OpDef<A>): (...args: A) => Tensor {
  return record(def, false);
}

/** defineOp for tapegrad's own ops, whose VJPs keep nothing: their gradients use the scratch pool (pool.ts). */
export function defineLibraryOp<A extends unknown[]>(def: OpDef<A>): (...args: A) => Tensor {
  return record(def, true);
}

function record<A extends unknown[]>(def: OpDef<A>, scratchSafe: boolean): (...args: A) => Tensor {
  const gradName = `${def.name}Backward`;
  return (...args: A): Tensor => {
    const out = def.forward(...args);
    if (isAnomalyEnabled()) checkForward(def.name, tensorsOf(args), out);
    if (!isGradEnabled()) return out;
    let needs = false;
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      if (isTensor(a)) needs ||= a.requiresGrad;
      else if (Array.isArray(a)) for (const t of a) needs ||= isTensor(t) && t.requiresGrad;
    }
    if (!needs) return out;
    const inputs = tensorsOf(args);
    out.requiresGrad = true;
    out.gradFn = new Node(gradName, inputs, (g) => def.vjp(g, out, ...args), out.shape);
    out.gradFn.scratchSafe = scratchSafe;
    if (isAnomalyEnabled()) out.gradFn.createdAt = new Error().stack?.split('\n').slice(2).join('\n');
    return out;
  };
}

function tensorsOf(args: readonly unknown[]): Tensor[] {
  const inputs: Tensor[] = [];
  for (const a of args) {
    if (isTensor(a)) inputs.push(a);
    else if (Array.isArray(a)) for (const t of a) if (isTensor(t)) inputs.push(t);
  }
  return inputs;
}
