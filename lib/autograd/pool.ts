import type { FloatArray } from '../backend/backend.js';
import { withSetting } from '../scope.js';
import { nodeInternals as N, type Node, type Tensor } from '../tensor.js';

// Gradient memory ownership: the one place these rules live (engine.ts and Tensor follow them).
//
// Rule: the engine writes into or reuses only memory it allocated itself and that no user code
// holds a reference to. Concretely:
// 1. Scratch pool. A plain backward() (no createGraph, no functional grad) opens an arena: every
//    float32 array of >= MIN elements allocated during the pass is recorded, and returned to the
//    pool when the pass ends, for the next pass to reuse (fresh large typed arrays cost page faults
//    and GC work on every step). This is safe because these arrays only ever reach the engine:
//    library VJPs (defineLibraryOp) keep nothing, and the engine copies a gradient before it can
//    become user-visible (a leaf's .grad buffer, a retained non-leaf's .grad are copies).
// 2. VJPs written with the public defineOp may keep anything. The engine runs them outside the
//    arena (their allocations are ordinary GC memory) and pins the g they receive, so no array a
//    user VJP can see is ever recycled.
// 3. Leaf .grad. The engine accumulates in place (dW written by the gemm with beta = 1, adds into
//    the buffer) only into a .grad buffer it allocated (tensorInternals.owned) and that was never
//    handed out: reading t.grad, or assigning it, clears the owned flag. A later backward then
//    writes a fresh buffer instead. zeroGrad() (Tensor.releaseGrad) keeps an owned, never-read
//    buffer for the next backward to overwrite; a tensor the user read or assigned is simply
//    dropped. A fused library VJP gets the buffer through ctx.gradInto(j); a VJP written with the
//    public defineOp never does. Library code that reads gradients without keeping them
//    (optimizers) reads tensorInternals.grad(t).
// 4. createGraph backward. Gradients are graph tensors, never updated in place; a leaf's first
//    gradient is a (differentiable) copy, never the caller's seed or a tensor another leaf holds.
// 5. The user's backward seed is only read, never written.
// 6. Forward activations. Outside a backward pass, allocF32 also takes arrays from the pool (they
//    are dead: nothing holds them), unrecorded: such an array returns to the pool only by this
//    rule. A library caller that drops an op's output h after feeding it to the next op (an exact
//    nn.Sequential's hidden activations) calls recycleAfterUse(h, next). Then h is reachable only
//    through the tape: its producer's record and the consumer's inputs. Once a plain backward has
//    released both nodes, h's array returns to the pool, unless someone read the consumer's
//    .inputs (the only public path to h: Node.inputs marks the node exposed), the producer's
//    output is not memory of its own (a view), or h was made inside a backward pass.

const MIN = 1024;
const MAX_PER_SIZE = 8;
const MAX_BYTES = 256 * 1024 * 1024;

const free = new Map<number, Float32Array[]>();
let freeBytes = 0;
let arena: Float32Array[] | null = null;
const pinned = new WeakSet<Float32Array>();

/** Start recording allocations of a backward pass; returns the previous arena (passes can nest). */
export function openArena(): Float32Array[] | null {
  return setArena([]);
}

function setArena(a: Float32Array[] | null): Float32Array[] | null {
  const prev = arena;
  arena = a;
  return prev;
}

/** Return the pass's arrays to the pool and restore the previous arena. */
export function closeArena(prev: Float32Array[] | null): void {
  const done = setArena(prev);
  if (!done) return;
  for (const a of done) giveBack(a);
}

/**
 * A float32 array of n elements. It may come from the pool with stale contents: callers pass
 * zero = true unless their kernel overwrites every element. Inside an arena it returns to the pool
 * when the pass ends.
 */
export function allocF32(n: number, zero: boolean): Float32Array {
  if (n < MIN) return new Float32Array(n);
  const list = free.get(n);
  let a = list?.pop();
  if (a) {
    freeBytes -= a.byteLength;
    if (zero) a.fill(0);
  } else {
    a = new Float32Array(n);
  }
  arena?.push(a);
  return a;
}

function giveBack(a: Float32Array): void {
  if (pinned.has(a)) return;
  const list = free.get(a.length) ?? [];
  if (list.length >= MAX_PER_SIZE || freeBytes + a.byteLength > MAX_BYTES) return;
  list.push(a);
  free.set(a.length, list);
  freeBytes += a.byteLength;
}

/**
 * Rule 6: h, an op's output, was fed to the op that made next and the caller keeps no reference
 * to it. Its memory may return to the pool once backward has released both nodes.
 */
export function recycleAfterUse(h: Tensor, next: Tensor): void {
  const prod = h.gradFn, cons = next.gradFn;
  if (arena !== null || !prod || !cons || !prod.scratchSafe || !prod.freshOutput || !cons.scratchSafe) return;
  if (!(h.data instanceof Float32Array) || h.data.length < MIN || N.exposed(cons) || !N.inputs(cons).includes(h)) return;
  N.setConsumer(prod, cons);
}

/** The engine released node (plain backward, rule 6): recycle its output when its consumer is done too. */
export function recycleOutput(node: Node, out: Tensor): void {
  const c = N.consumer(node);
  if (c && c.released && !N.exposed(c) && out.data instanceof Float32Array) giveBack(out.data);
}

/** Keep a from ever returning to the pool (a user VJP received it). */
export function pin(a: FloatArray): void {
  if (a instanceof Float32Array && a.length >= MIN) pinned.add(a);
}

/** Run fn with no arena: what it allocates never returns to the pool (a user VJP runs this way). */
export function outsidePool<T>(fn: () => T): T {
  return withSetting(setArena, null, fn);
}
