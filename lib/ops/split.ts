// split, chunk, repeat: composed from narrow, reshape and expand, whose VJPs route the gradient back.
import type { Tensor } from '../tensor.js';
import { describeValue, fmt, normDim } from '../shape.js';
import { expand, narrow, reshape } from './shape.js';

/**
 * torch.split: a number gives pieces of that size along dim (the last one smaller if it does not
 * divide); an array gives pieces of those sizes, which must add up to the dim's size.
 */
export function split(x: Tensor, splitSizeOrSections: number | readonly number[], dim = 0): Tensor[] {
  const d = normDim('split', dim, x.ndim);
  const n = x.shape[d];
  let sizes: number[];
  if (typeof splitSizeOrSections === 'number') {
    const s = splitSizeOrSections;
    if (!Number.isInteger(s) || s < 0 || (s === 0 && n !== 0)) throw new RangeError(`split: split size must be a positive integer, got ${describeValue(s)}`);
    const count = n === 0 ? 1 : Math.ceil(n / s);
    sizes = Array.from({ length: count }, (_, i) => Math.min(s, n - i * s));
  } else {
    if (!Array.isArray(splitSizeOrSections)) throw new TypeError(`split: expected a size or an array of sizes, got ${describeValue(splitSizeOrSections)}`);
    sizes = splitSizeOrSections.slice();
    const total = sizes.reduce((a, b) => a + b, 0);
    if (sizes.some((s) => !Number.isInteger(s) || s < 0) || total !== n) {
      throw new RangeError(`split: sizes [${sizes}] must be non-negative integers adding up to ${n} (dim ${dim} of shape ${fmt(x.shape)})`);
    }
  }
  let start = 0;
  return sizes.map((s) => {
    const piece = narrow(x, d, start, s);
    start += s;
    return piece;
  });
}

/** torch.chunk: pieces of size ceil(n / chunks) along dim; may give fewer than chunks pieces. */
export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  if (!Number.isInteger(chunks) || chunks <= 0) throw new RangeError(`chunk: chunks must be a positive integer, got ${describeValue(chunks)}`);
  const n = x.shape[normDim('chunk', dim, x.ndim)];
  return split(x, Math.max(1, Math.ceil(n / chunks)), dim);
}

/** torch.Tensor.repeat: tile x sizes[i] times along dim i; extra leading sizes add dims. */
export function repeat(x: Tensor, sizes: readonly number[]): Tensor {
  if (sizes.length < x.ndim) throw new RangeError(`repeat: got ${sizes.length} sizes [${sizes}] for a tensor of shape ${fmt(x.shape)} (need at least ${x.ndim})`);
  for (const r of sizes) {
    if (!Number.isInteger(r) || r < 0) throw new RangeError(`repeat: sizes must be non-negative integers, got [${sizes}]`);
  }
  const shape = [...new Array<number>(sizes.length - x.ndim).fill(1), ...x.shape];
  // [s0, s1] -> [1, s0, 1, s1] -> expand to [r0, s0, r1, s1] -> [r0*s0, r1*s1]
  const interleaved = shape.flatMap((s) => [1, s]);
  const tiled = shape.flatMap((s, i) => [sizes[i], s]);
  const out = shape.map((s, i) => s * sizes[i]);
  return reshape(expand(reshape(x, interleaved), tiled), out);
}
