import type { FloatArray } from '../backend/backend.js';
import { isTensor, Node, type TapeRecord, type Tensor } from '../tensor.js';
import { isGradEnabled } from './mode.js';
import { checkForward, isAnomalyEnabled } from './anomaly.js';

/** Returned by a VJP for an input whose gradient it already wrote into ctx.gradInto(j). */
export const ACCUMULATED: unique symbol = Symbol('ACCUMULATED');

/** Gradients for an op's tensor inputs; null where an input needs none. */
export type Grads = readonly (Tensor | null | undefined | typeof ACCUMULATED)[];

/** An engine-owned gradient buffer a fused VJP may write into: beta 0 = overwrite, 1 = accumulate. */
export interface GradDestination {
  data: FloatArray;
  beta: 0 | 1;
}

/** What the engine passes to a VJP besides the incoming gradient. Valid during the call only. */
export interface VjpContext<S = unknown> {
  /** The op's output. */
  readonly out: Tensor;
  /** What the forward returned as `saved` (op state such as softmax probabilities), else undefined. */
  readonly saved: S;
  /** Per tensor input, in order: whether it needs a gradient (PyTorch's grad_input_mask). */
  readonly needsInputGrad: readonly boolean[];
  /** The backward builds a differentiable graph (createGraph): compute gradients with ops, not raw kernels. */
  readonly createGraph: boolean;
  /**
   * Input j's own gradient buffer, to write into instead of returning a tensor (then return
   * ACCUMULATED for j). Null when the engine cannot hand it out (createGraph, functional grad, a
   * non-leaf, a VJP written with the public defineOp, which may keep what it sees): return a tensor.
   */
  gradInto(j: number): GradDestination | null;
}

export interface OpDef<A extends unknown[], S = undefined> {
  /** 'Exp' gives gradFn name 'ExpBackward'. */
  name: string;
  /**
   * Computes the result with backend kernels; never records (inputs are the Tensors among args).
   * May return {out, saved}: saved is kept with the node and reaches the VJP as ctx.saved.
   */
  forward: (...args: A) => Tensor | { out: Tensor; saved: S };
  /** Gradients for each Tensor input, in the order they appear in args (arrays of tensors flattened). */
  vjp: (g: Tensor, ctx: VjpContext<S>, ...args: A) => Grads;
  /** The forward's output is always memory of its own, never a view (lets library callers recycle it: pool.ts, rule 6). */
  freshOutput?: boolean;
}

/**
 * Declare an op once: forward and VJP side by side. The returned function records a tape node when
 * needed. The VJP may keep any tensor it sees or makes: the engine never recycles their memory.
 */
export function defineOp<A extends unknown[], S = undefined>(def: OpDef<A, S>): (...args: A) => Tensor {
  return record(def, false);
}

/** defineOp for tapegrad's own ops, whose VJPs keep nothing: their gradients use the scratch pool (pool.ts). */
export function defineLibraryOp<A extends unknown[], S = undefined>(def: OpDef<A, S>): (...args: A) => Tensor {
  return record(def, true);
}

function record<A extends unknown[], S>(def: OpDef<A, S>, scratchSafe: boolean): (...args: A) => Tensor {
  const gradName = `${def.name}Backward`;
  return (...args: A): Tensor => {
    const res = def.forward(...args);
    const plain = isTensor(res);
    const out = plain ? res : res.out;
    if (isAnomalyEnabled()) checkForward(def.name, tensorsOf(args), out);
    if (!isGradEnabled()) return out;
    const inputs = tensorsOf(args);
    let needs = false;
    const needsInputGrad: boolean[] = [];
    for (let i = 0; i < inputs.length; i++) {
      const r = inputs[i].requiresGrad;
      needsInputGrad.push(r);
      needs ||= r;
    }
    if (!needs) return out;
    const rec: TapeRecord = { vjp: def.vjp as unknown as TapeRecord['vjp'], args, out, saved: plain ? undefined : res.saved, needsInputGrad };
    out.requiresGrad = true;
    out.gradFn = new Node(gradName, inputs, rec, out.shape);
    out.gradFn.scratchSafe = scratchSafe;
    out.gradFn.freshOutput = def.freshOutput === true;
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
