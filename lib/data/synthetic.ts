// Toy 2-D classification datasets for the CLI and examples. Labels are int32 class indices [n].
import { Tensor } from '../tensor.js';
import { generatorFor } from '../random.js';

export interface ToyData {
  /** [n, 2] float32 points. */
  x: Tensor;
  /** [n] int32 class indices. */
  y: Tensor;
  numClasses: number;
}

/** The four XOR points: y = x0 xor x1. */
export function xor(): ToyData {
  return {
    x: new Tensor(Float32Array.from([0, 0, 0, 1, 1, 0, 1, 1]), [4, 2]),
    y: new Tensor(Int32Array.from([0, 1, 1, 0]), [4]),
    numClasses: 2,
  };
}

export interface SpiralOptions {
  /** Std of the Gaussian noise added to each arm's angle (default 0.2). */
  noise?: number;
  /** Number of interleaved arms/classes (default 2). */
  classes?: number;
  /** Seed of a private generator; without it the global generator (manualSeed) is used. */
  seed?: number;
}

/**
 * n points on `classes` interleaved spiral arms (the CS231n spiral): arm k has radius r in [0, 1] and
 * angle 4k + 4r (+ noise). Samples are spread as evenly as possible over the classes.
 */
export function spirals(n: number, opts: SpiralOptions = {}): ToyData {
  const { noise = 0.2, classes = 2, seed } = opts;
  checkCount('spirals', n);
  if (!Number.isInteger(classes) || classes < 2) throw new RangeError(`spirals: classes must be an integer >= 2, got ${classes}`);
  const gen = generatorFor(seed);
  const x = new Float32Array(n * 2), y = new Int32Array(n);
  let i = 0;
  for (let k = 0; k < classes; k++) {
    const m = Math.floor(n / classes) + (k < n % classes ? 1 : 0);
    for (let j = 0; j < m; j++, i++) {
      const r = m === 1 ? 1 : j / (m - 1);
      const angle = 4 * k + 4 * r + noise * gen.normal();
      x[2 * i] = r * Math.sin(angle);
      x[2 * i + 1] = r * Math.cos(angle);
      y[i] = k;
    }
  }
  return { x: new Tensor(x, [n, 2]), y: new Tensor(y, [n]), numClasses: classes };
}

export interface CircleOptions {
  /** Std of the Gaussian noise added to each coordinate (default 0.05). */
  noise?: number;
  /** Radius of the inner circle relative to the outer one, in (0, 1) (default 0.5). */
  factor?: number;
  /** Seed of a private generator; without it the global generator (manualSeed) is used. */
  seed?: number;
}

/** Two concentric circles (sklearn's make_circles): outer circle class 0 (ceil(n/2) points), inner class 1. */
export function circles(n: number, opts: CircleOptions = {}): ToyData {
  const { noise = 0.05, factor = 0.5, seed } = opts;
  checkCount('circles', n);
  if (!(factor > 0 && factor < 1)) throw new RangeError(`circles: factor must be in (0, 1), got ${factor}`);
  const gen = generatorFor(seed);
  const x = new Float32Array(n * 2), y = new Int32Array(n);
  const nOut = Math.ceil(n / 2), nIn = n - nOut;
  for (let i = 0; i < n; i++) {
    const inner = i >= nOut;
    const m = inner ? nIn : nOut, j = inner ? i - nOut : i;
    const a = (2 * Math.PI * j) / m, r = inner ? factor : 1;
    x[2 * i] = r * Math.cos(a) + noise * gen.normal();
    x[2 * i + 1] = r * Math.sin(a) + noise * gen.normal();
    y[i] = inner ? 1 : 0;
  }
  return { x: new Tensor(x, [n, 2]), y: new Tensor(y, [n]), numClasses: 2 };
}

function checkCount(op: string, n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${op}: n must be a positive integer, got ${n}`);
}
