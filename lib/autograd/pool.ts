import type { FloatArray } from '../backend/backend.js';

// Scratch memory for the reverse pass. Every gradient a VJP computes during backward() is
// consumed by the engine (added into a leaf's own .grad buffer, or passed to the next VJP), so
// once the pass ends none of them is reachable: their arrays go back to a pool and the next
// backward() reuses them instead of asking the allocator (fresh large typed arrays cost page
// faults and GC work on every step). Only float32 arrays of at least MIN elements are pooled.
// A VJP must therefore not keep references to the gradients it creates (none of ours do).

const MIN = 1024;
const MAX_PER_SIZE = 8;
const MAX_BYTES = 256 * 1024 * 1024;

const free = new Map<number, Float32Array[]>();
let freeBytes = 0;
let arena: Float32Array[] | null = null;

/** Start recording allocations of a backward pass; returns the previous arena (passes can nest). */
export function openArena(): Float32Array[] | null {
  const prev = arena;
  arena = [];
  return prev;
}

/** Return the pass's arrays to the pool and restore the previous arena. */
export function closeArena(prev: Float32Array[] | null): void {
  const done = arena;
  arena = prev;
  if (!done) return;
  for (const a of done) {
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

export function isPooled(a: FloatArray): boolean {
  return arena !== null && a instanceof Float32Array && a.length >= MIN;
}

/** Drop every pooled array (memory goes back to the garbage collector). */
export function releasePool(): void {
  free.clear();
  freeBytes = 0;
}
