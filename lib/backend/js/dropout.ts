// Inverted dropout of the JS backend, drawing from xoshiro128** state words passed in (and updated):
// the same stream as lib/random.ts's RandomGenerator.random(), so a seeded run draws the same mask
// on every backend.
import type { FloatArray } from '../backend.js';

export function dropout(x: FloatArray, p: number, state: Int32Array, out: FloatArray, mask: FloatArray | null): void {
  const len = x.length;
  if (!(p >= 0 && p <= 1)) throw new RangeError(`dropout: p must be a probability in [0, 1], got ${p}`);
  if (state.length < 4) throw new RangeError(`dropout: state has ${state.length} elements, needs 4 (xoshiro128** state words)`);
  if (out.length < len || (mask && mask.length < len)) throw new RangeError(`dropout: out (${out.length}) and mask (${mask?.length}) need x.length = ${len} elements`);
  let s0 = state[0] | 0, s1 = state[1] | 0, s2 = state[2] | 0, s3 = state[3] | 0;
  const scale = p === 1 ? 0 : 1 / (1 - p);
  // the scale as the mask stores it (float32 for float32 data), so out = x·mask exactly
  const scaleR = (mask ?? x) instanceof Float32Array ? Math.fround(scale) : scale;
  for (let i = 0; i < len; i++) {
    const s5 = Math.imul(s1, 5);
    const r = Math.imul((s5 << 7) | (s5 >>> 25), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    const m = r / 4294967296 < p ? 0 : scaleR;
    if (mask) mask[i] = m;
    out[i] = x[i] * m;
  }
  state[0] = s0; state[1] = s1; state[2] = s2; state[3] = s3;
}
