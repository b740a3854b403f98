// Shape and stride helpers shared by the JS kernels (called once per kernel call, outside the hot loops).
import { fmt } from '../../shape.js';

export function checkAxis(what: string, len: number, outer: number, n: number, inner: number, op = ''): void {
  if (len < outer * n * inner) {
    throw new RangeError(`${what}${op && ` ${op}`}: x has ${len} elements, fewer than [${outer}, ${n}, ${inner}]`);
  }
}

/**
 * Strides of `shape` aligned right to an `nd`-dimensional broadcast shape `full`: 0 on the axes it
 * broadcasts along. Throws if shape does not broadcast to full.
 */
export function broadcastStrides(shape: readonly number[], full: readonly number[], what: string): number[] {
  const nd = full.length;
  const off = nd - shape.length;
  if (off < 0) throw new Error(`${what}: shape ${fmt(shape)} has more axes than ${fmt(full)}`);
  const strides = new Array<number>(nd).fill(0);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    const dim = shape[d];
    if (dim !== full[d + off] && dim !== 1) {
      throw new Error(`${what}: shape ${fmt(shape)} does not broadcast to ${fmt(full)}`);
    }
    strides[d + off] = dim === 1 ? 0 : s;
    s *= dim;
  }
  return strides;
}

/**
 * Merge adjacent axes that are contiguous for every stride set, and drop size-1 axes, so the
 * generic loops run over as few, as long axes as possible.
 */
export function coalesce(shape: readonly number[], strideSets: number[][]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strideSets.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && strideSets.every((s, t) => outStrides[t][last] === s[d] * shape[d])) {
      outShape[last] *= shape[d];
      strideSets.forEach((s, t) => { outStrides[t][last] = s[d]; });
    } else {
      outShape.push(shape[d]);
      strideSets.forEach((s, t) => outStrides[t].push(s[d]));
    }
  }
  if (outShape.length === 0) {
    outShape.push(1);
    outStrides.forEach((s) => s.push(0));
  }
  return { shape: outShape, strides: outStrides };
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d];
  }
  return strides;
}
