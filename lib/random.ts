// Seeded random numbers: xoshiro128** for uniforms, Box-Muller for normals. The global generator
// (manualSeed; rand, randn, initializers, shuffling) is a RandomGenerator like any other, so seeded
// datasets and loaders can draw reproducibly without touching it.

/** The draws the library needs. */
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
    this.reset('RandomGenerator', seed);
  }

  /** Restart the stream: afterwards it draws what a new RandomGenerator(seed) would (torch.Generator.manual_seed). */
  manualSeed(seed: number): this {
    this.reset('manualSeed', seed);
    return this;
  }

  private reset(op: string, seed: number): void {
    if (!Number.isFinite(seed)) throw new RangeError(`${op}: seed must be a finite number, got ${seed}`);
    let a = Math.floor(seed) | 0;
    const next = (): number => { // splitmix32
      a = (a + 0x9e3779b9) | 0;
      let z = a;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return z ^ (z >>> 16); // int32: the state stays in small-integer fields
    };
    this.s0 = next(); this.s1 = next(); this.s2 = next(); this.s3 = next();
    this.spare = null;
  }

  /** The stream's position as plain numbers (JSON-able, for checkpoints): the four state words, then the pending normal if any. */
  getState(): number[] {
    return [this.s0, this.s1, this.s2, this.s3, ...(this.spare === null ? [] : [this.spare])];
  }

  /** Continue from a getState() result: afterwards it draws what the generator drew after that call. */
  setState(state: readonly number[]): this {
    const ok = Array.isArray(state) && (state.length === 4 || state.length === 5) && state.slice(0, 4).every((w) => Number.isInteger(w) && w === (w | 0))
      && state.slice(0, 4).some((w) => w !== 0) && (state.length === 4 || Number.isFinite(state[4]));
    if (!ok) throw new TypeError(`setState: expected 4 int32 state words (not all zero) and an optional finite pending normal, as getState() returns; got ${JSON.stringify(state)?.slice(0, 80)}`);
    [this.s0, this.s1, this.s2, this.s3] = state;
    this.spare = state.length === 5 ? state[4] : null;
    return this;
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

/** The global generator, reseeded in place by manualSeed. */
export const globalGenerator = new RandomGenerator(Date.now() ^ (process.pid << 8));

/** Make every random creation (rand, randn, initializers, shuffling) reproducible. */
export function manualSeed(seed: number): void {
  globalGenerator.manualSeed(seed);
}

/** The global generator's state (torch.get_rng_state): save it to continue a run's random draws later. */
export function getRngState(): number[] {
  return globalGenerator.getState();
}

/** Restore the global generator's state from getRngState() (torch.set_rng_state). */
export function setRngState(state: readonly number[]): void {
  globalGenerator.setState(state);
}

/** Uniform in [0, 1) from the global generator. */
export function random(): number {
  return globalGenerator.random();
}

/** Standard normal from the global generator. */
export function randomNormal(): number {
  return globalGenerator.normal();
}

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
