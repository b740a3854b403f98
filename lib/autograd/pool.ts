import type { FloatArray } from '../backend/backend.js';
import { withSetting } from '../scope.js';

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
  for (const a of done) {
    if (pinned.has(a)) continue;
    const list = free.get(a.length) ?? [];
    if (list.length >= MAX_PER_SIZE || freeBytes + a.byteLength > MAX_BYTES) continue;
    list.push(a);
    free.set(a.length, list);
    freeBytes += a.byteLength;
  }
}

/**
 * A float32 array of n elements. Inside an arena it may come from the pool with stale contents:
 * callers pass zero = true unless their kernel overwrites every element.
 */
export function allocF32(n: number, zero: boolean): Float32Array {
  if (arena === null || n < MIN) return new Float32Array(n);
  const list = free.get(n);
  let a = list?.pop();
  if (a) {
    freeBytes -= a.byteLength;
    if (zero) a.fill(0);
  } else {
    a = new Float32Array(n);
  }
  arena.push(a);
  return a;
}

/** Keep a from ever returning to the pool (a user VJP received it). */
export function pin(a: FloatArray): void {
  if (a instanceof Float32Array && a.length >= MIN) pinned.add(a);
}

/** Run fn with pooling off: what it allocates is ordinary GC memory (a user VJP runs this way). */
export function outsidePool<T>(fn: () => T): T {
  return withSetting(setArena, null, fn);
}
