// A seeded random generator instance (xoshiro128**, the same algorithm as lib/random.ts) so that
// data shuffling and synthetic datasets can be reproducible without touching the global RNG.
import { random as globalRandom, randomNormal as globalNormal } from '../random.js';

/** The few draws lib/data needs. */
export interface RandomSource {
  /** Uniform in [0, 1). */
  random(): number;
  /** Standard normal. */
  normal(): number;
}

export class RandomGenerator implements RandomSource {
  private s0 = 0; private s1 = 0; private s2 = 0; private s3 = 0;
  private spare: number | null = null;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`RandomGenerator: seed must be a finite number, got ${seed}`);
    let a = Math.floor(seed) | 0;
    const next = (): number => { // splitmix32
      a = (a + 0x9e3779b9) | 0;
      let z = a;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next(); this.s1 = next(); this.s2 = next(); this.s3 = next();
  }

  random(): number {
    const r = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0; this.s3 ^= this.s1; this.s1 ^= this.s2; this.s0 ^= this.s3; this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return r / 4294967296;
  }

  normal(): number {
    if (this.spare !== null) { const s = this.spare; this.spare = null; return s; }
    let u = 0;
    while (u === 0) u = this.random();
    const v = this.random();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** The global generator (seeded by manualSeed) behind the RandomSource interface. */
export const globalGenerator: RandomSource = { random: globalRandom, normal: globalNormal };

/** A RandomGenerator for a seed, or the global generator when the seed is undefined. */
export function generatorFor(seed: number | undefined): RandomSource {
  return seed === undefined ? globalGenerator : new RandomGenerator(seed);
}

/** Fisher-Yates permutation of 0..n-1 drawn from gen. */
export function permutation(n: number, gen: RandomSource = globalGenerator): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(gen.random() * (i + 1));
    const t = p[i]; p[i] = p[j]; p[j] = t;
  }
  return p;
}
