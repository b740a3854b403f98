import type { FloatArray } from '../backend/backend.js';
import { isTensor, Node, Tensor, type DType, type FloatTensor, type TapeRecord } from '../tensor.js';
import { castArray, getDefaultDtype } from '../creation.js';
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
  /**
   * The forward only moves elements (reshape, cat, gather...): when every tensor input is int32 the
   * result is int32 too, computed on exact float64 copies. Otherwise int32 inputs are promoted.
   */
  movesData?: boolean;
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
  const freshOutput = def.freshOutput === true;
  return (...given: A): Tensor => {
    // one pass lists the tensor inputs (for the tape), counts int32 ones and whether any needs a grad
    let inputs: Tensor[] = [];
    const scan = scanInputs(given, inputs);
    let args = given;
    if (scan & INTS) {
      const ints = intsAmong(inputs);
      const keep = ints === 'all' && def.movesData;
      args = promoteInts(given, keep ? 'float64' : floatTypeOf(inputs));
      if (keep) return toInt32(def.name, def.forward(...args));
      inputs = [];
      scanInputs(args, inputs);
    }
    const res = def.forward(...args);
    const plain = res instanceof Tensor || isTensor(res);
    const out = plain ? res : res.out;
    const anomaly = isAnomalyEnabled();
    if (anomaly) checkForward(def.name, inputs, out);
    if (!(scan & NEEDS) || !isGradEnabled()) return out;
    const needsInputGrad: boolean[] = new Array<boolean>(inputs.length);
    for (let i = 0; i < inputs.length; i++) needsInputGrad[i] = inputs[i].requiresGrad;
    const rec: TapeRecord = { vjp: def.vjp as unknown as TapeRecord['vjp'], args, out, saved: plain ? undefined : res.saved, needsInputGrad };
    out.requiresGrad = true;
    const node = new Node(gradName, inputs, rec, out.shape);
    node.scratchSafe = scratchSafe;
    node.freshOutput = freshOutput;
    if (anomaly) node.createdAt = new Error().stack?.split('\n').slice(2).join('\n');
    out.gradFn = node;
    return out;
  };
}

// The one place where int32 meets float ops. Like PyTorch's type promotion: an int32 input computes
// as the float dtype of the op's other tensor inputs (float64 if any is float64, else float32), and
// as the default dtype when all are int32 (exp/mean of an int tensor are float). Kernels never see
// Int32Array memory (the backend's kernels() refuses it).

const INTS = 1, NEEDS = 2;

/**
 * Push the tensors among args (arrays of tensors flattened) onto into; returns INTS if one holds
 * int32 memory, | NEEDS if one requires grad. instanceof first: the tag lookup of isTensor on the
 * other arguments (arrays, options) is slow; it still catches tensors of another copy of the module.
 */
function scanInputs(args: readonly unknown[], into: Tensor[]): number {
  let flags = 0;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a instanceof Tensor) flags |= addInput(a, into);
    else if (typeof a !== 'object' || a === null) continue;
    else if (Array.isArray(a)) {
      for (let j = 0; j < a.length; j++) {
        const t: unknown = a[j];
        if (t instanceof Tensor || isTensor(t)) flags |= addInput(t, into);
      }
    } else if (!ArrayBuffer.isView(a) && isTensor(a)) flags |= addInput(a, into);
  }
  return flags;
}

function addInput(t: Tensor, into: Tensor[]): number {
  into.push(t);
  return (t.data instanceof Int32Array ? INTS : 0) | (t.requiresGrad ? NEEDS : 0);
}

function intsAmong(ts: readonly Tensor[]): 'none' | 'some' | 'all' {
  let ints = 0;
  for (let i = 0; i < ts.length; i++) if (ts[i].data instanceof Int32Array) ints++;
  return ints === 0 ? 'none' : ints === ts.length ? 'all' : 'some';
}

/**
 * t as float memory: int32 becomes dtype, by default the default float dtype (as an op computes it,
 * for composed ops that read data before any op runs); 'float64' holds every int32 value exactly
 * (for ops that only compare values). Float tensors are returned as they are.
 */
export function asFloat(t: Tensor, dtype: DType = getDefaultDtype()): FloatTensor {
  return (t.data instanceof Int32Array ? promoteInts([t], dtype)[0] : t) as FloatTensor;
}

function floatTypeOf(inputs: readonly Tensor[]): DType {
  let seen: DType | null = null;
  for (const t of inputs) {
    if (t.dtype === 'float64') return 'float64';
    if (t.dtype === 'float32') seen = 'float32';
  }
  return seen ?? getDefaultDtype();
}

function promoteInts<A extends unknown[]>(args: A, dtype: DType): A {
  const cast = (t: unknown): unknown => {
    if (!isTensor(t) || !(t.data instanceof Int32Array)) return t;
    if (t.requiresGrad) throw new TypeError('requiresGrad: only floating point tensors can require gradients, got an int32 tensor');
    return new Tensor(castArray('promote', t.data, dtype), t.shape);
  };
  return args.map((a) => (Array.isArray(a) ? a.map(cast) : cast(a))) as A;
}

function toInt32<S>(op: string, res: Tensor | { out: Tensor; saved: S }): Tensor {
  const out = isTensor(res) ? res : res.out;
  return new Tensor(castArray(op, out.data, 'int32'), out.shape);
}

