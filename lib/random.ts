// Seeded random numbers: xoshiro128** for uniforms, Box-Muller for normals.

let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
let spare: number | null = null;

function splitmix32(a: number): () => number {
  return () => {
    a = (a + 0x9e3779b9) | 0;
    let z = a;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** Make every random creation (rand, randn, initializers, shuffling) reproducible. */
export function manualSeed(seed: number): void {
  if (!Number.isFinite(seed)) throw new RangeError(`manualSeed: seed must be a finite number, got ${seed}`);
  const next = splitmix32(Math.floor(seed) | 0);
  s0 = next(); s1 = next(); s2 = next(); s3 = next();
  spare = null;
}
manualSeed(Date.now() ^ (process.pid << 8));

/** Uniform in [0, 1). */
export function random(): number {
  const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
  const t = s1 << 9;
  s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl(s3, 11);
  return r / 4294967296;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Standard normal. */
export function randomNormal(): number {
  if (spare !== null) { const s = spare; spare = null; return s; }
  let u = 0;
  while (u === 0) u = random();
  const v = random();
  const r = Math.sqrt(-2 * Math.log(u));
  spare = r * Math.sin(2 * Math.PI * v);
  return r * Math.cos(2 * Math.PI * v);
}

/** Integer in [0, n). */
export function randomInt(n: number): number {
  return Math.floor(random() * n);
}

/** Fisher-Yates permutation of 0..n-1. */
export function randperm(n: number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    const t = p[i]; p[i] = p[j]; p[j] = t;
  }
  return p;
}
