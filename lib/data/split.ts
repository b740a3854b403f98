import { RandomGenerator, permutation } from '../random.js';

/** A reproducible random split of the indices 0..n-1: round(n * testFraction) go to test. */
export function trainTestSplit(n: number, testFraction: number, seed: number): { train: Int32Array; test: Int32Array } {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`trainTestSplit: n must be a non-negative integer, got ${n}`);
  if (!(testFraction >= 0 && testFraction <= 1)) throw new RangeError(`trainTestSplit: testFraction must be in [0, 1], got ${testFraction}`);
  const p = permutation(n, new RandomGenerator(seed));
  const nTest = Math.round(n * testFraction);
  return { train: p.slice(nTest), test: p.slice(0, nTest) };
}
