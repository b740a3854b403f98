// Predictor.predictBatch: the outputs of the model's eval-mode forward under noGrad (up to the order
// of float32 sums), results that are the caller's, frozen weights, and no typed-array allocation per
// call once warm.
import { describe, expect, it } from 'vitest';
import { Tensor, manualSeed, noGrad, randn, nn, Predictor } from '../lib/index.js';
import { expectClose } from './helpers.js';
import { countTypedArrays as count } from '../tools/count-allocations.mjs';

function reference(model: nn.Module, x: Tensor): Tensor {
  const was = model.training;
  model.eval();
  try {
    return noGrad(() => (model as nn.Module<[Tensor], Tensor>).forward(x));
  } finally {
    model.train(was);
  }
}

function expectBitwise(a: Tensor, b: Tensor): void {
  expect(a.shape).toEqual(b.shape);
  expect(a.dtype).toBe(b.dtype);
  for (let i = 0; i < a.data.length; i++) {
    if (!Object.is(a.data[i], b.data[i])) expect.fail(`element ${i}: ${a.data[i]} vs ${b.data[i]}`);
  }
}

/** A model with BatchNorm whose running statistics are not the initial 0/1 (a few training batches). */
function withStats<M extends nn.Module>(model: M, inF: number): M {
  model.train();
  for (let i = 0; i < 3; i++) noGrad(() => (model as unknown as nn.Module<[Tensor], Tensor>).forward(randn([16, inF]).mul(2).add(0.5)));
  return model;
}

/** Keeps the last input it saw (a module may hold on to what it is given). */
class Keeper extends nn.Module<[Tensor], Tensor> {
  kept: Tensor | null = null;
  override forward(x: Tensor): Tensor {
    this.kept = x;
    return x.mul(2);
  }
}

/** Within float32 rounding of sums over the layers' inputs (the products sum in another order). */
function expectNear(a: Tensor, b: Tensor, what: string): void {
  expect(a.shape).toEqual(b.shape);
  expect(a.dtype).toBe(b.dtype);
  const scale = Math.max(1, ...Array.from(b.data, Math.abs));
  expectClose(a, b, 0, (a.dtype === 'float64' ? 1e-12 : 2e-6) * scale, what);
}

const models: [string, () => nn.Module, number][] = [
  ['the default MNIST mlp (784-128-10 relu)', () => nn.mlp({ inFeatures: 784, hidden: [128], outFeatures: 10, activation: 'relu' }), 784],
  ['a sigmoid mlp with batchnorm and dropout', () => withStats(nn.mlp({ inFeatures: 20, hidden: [32, 16], outFeatures: 3, activation: 'sigmoid', batchnorm: true, dropout: 0.3 }), 20), 20],
  ['tanh, nested Sequentials, Identity and Flatten', () => new nn.Sequential(new nn.Flatten(), new nn.Sequential(new nn.Linear(6, 8), new nn.Tanh()), new nn.Identity(), new nn.Linear(8, 2, { bias: false })), 6],
  ['an activation first (x is read, never written), then BatchNorm without affine last', () => withStats(new nn.Sequential(new nn.ReLU(), new nn.Linear(5, 4), new nn.BatchNorm1d(4, { affine: false })), 5), 5],
  ['a single Linear', () => new nn.Linear(7, 3), 7],
  ['layers that run their own forward: LayerNorm, Softmax, a custom module', () => new nn.Sequential(new nn.Linear(9, 6), new nn.LayerNorm([6]), new nn.ReLU(), new Keeper(), new nn.Linear(6, 4), new nn.Softmax(1)), 9],
  ['float64 weights', () => new nn.Sequential(new nn.Linear(4, 5, { dtype: 'float64' }), new nn.Sigmoid(), new nn.Linear(5, 2, { dtype: 'float64' })), 4],
];

describe('Predictor.predictBatch equals the eval-mode forward', () => {
  for (const [name, make, inF] of models) {
    it(name, () => {
      manualSeed(3);
      const model = make();
      const p = new Predictor(model);
      const dtype = name.startsWith('float64') ? 'float64' : 'float32';
      for (const rows of [1, 3, 64]) {
        const x = randn([rows, inF], { dtype });
        const before = Float64Array.from(x.data);
        const y = p.predictBatch(x);
        expectNear(y, reference(model, x), `${rows} rows`);
        const out = new Tensor(dtype === 'float64' ? new Float64Array(y.data.length) : new Float32Array(y.data.length), y.shape.slice());
        expect(p.predictBatch(x, out)).toBe(out);
        expectBitwise(out, y);
        expect(Array.from(x.data)).toEqual(Array.from(before));
      }
      expect(model.training).toBe(true); // left as it was
    });
  }

  it('activations and batch norm alone (no product) are bit for bit', () => {
    manualSeed(10);
    const model = withStats(new nn.Sequential(new nn.ReLU(), new nn.BatchNorm1d(7), new nn.Sigmoid(), new nn.Tanh(), new nn.Dropout(0.5)), 7);
    const p = new Predictor(model);
    for (const rows of [1, 5, 300]) {
      const x = randn([rows, 7]).mul(3);
      expectBitwise(p.predictBatch(x), reference(model, x));
    }
  });

  it('the activations computed per element in float64 are within a few ulp of the ops', () => {
    manualSeed(4);
    const acts = [new nn.LeakyReLU(0.2), new nn.ELU(0.7), new nn.SiLU(), new nn.GELU(), new nn.GELU({ approximate: 'tanh' }), new nn.Softplus({ beta: 2, threshold: 3 }), new nn.Mish()];
    for (const act of acts) {
      const model = new nn.Sequential(new nn.Linear(6, 40), act, new nn.Linear(40, 3), act);
      const p = new Predictor(model);
      expect(p.describe()).toEqual(['0 Linear', `1 ${act.constructor.name}`, '2 Linear', `3 ${act.constructor.name}`]);
      const x = randn([50, 6]).mul(3);
      expectClose(p.predictBatch(x), reference(model, x), 1e-6, 1e-7, act.constructor.name);
    }
  });

  it('describes which layers run on kernels', () => {
    const p = new Predictor(new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU(), new nn.Dropout(), new nn.LayerNorm([4]), new nn.Sigmoid(), new nn.Linear(4, 1)));
    expect(p.describe()).toEqual(['0 Linear+relu', '3 LayerNorm (its own forward)', '4 sigmoid', '5 Linear']);
  });
});

describe('Predictor ownership', () => {
  it('a returned result is the caller\'s: the next call does not change it', () => {
    manualSeed(5);
    const model = nn.mlp({ inFeatures: 12, hidden: [30], outFeatures: 4, activation: 'relu' });
    const p = new Predictor(model);
    const x1 = randn([8, 12]), x2 = randn([8, 12]);
    const y1 = p.predictBatch(x1);
    const copy = Float32Array.from(y1.data);
    const y2 = p.predictBatch(x2);
    expect(y2.data).not.toBe(y1.data);
    expect(Array.from(y1.data)).toEqual(Array.from(copy));
  });

  it('a module that keeps its input keeps a copy, not the Predictor\'s buffer', () => {
    manualSeed(6);
    const keeper = new Keeper();
    const p = new Predictor(new nn.Sequential(new nn.Linear(5, 6), new nn.Tanh(), keeper, new nn.Linear(6, 2)));
    p.predictBatch(randn([4, 5]));
    const kept = keeper.kept!, copy = Float32Array.from(kept.data);
    p.predictBatch(randn([4, 5]));
    expect(keeper.kept).not.toBe(kept);
    expect(Array.from(kept.data)).toEqual(Array.from(copy));
  });

  it('serves the weights and running statistics it copied, until refresh()', () => {
    manualSeed(7);
    const model = withStats(nn.mlp({ inFeatures: 6, hidden: [10], outFeatures: 3, activation: 'tanh', batchnorm: true }), 6);
    const p = new Predictor(model);
    const x = randn([5, 6]);
    const before = p.predictBatch(x);
    expectNear(before, reference(model, x), 'before');
    manualSeed(8);
    model.loadStateDict(nn.mlp({ inFeatures: 6, hidden: [10], outFeatures: 3, activation: 'tanh', batchnorm: true }).stateDict());
    (model.at(1) as nn.BatchNorm1d).running_var!.data.fill(4);
    (model.at(0) as nn.Linear).weight.data[0] += 1; // in place, as an optimizer step writes
    expectBitwise(p.predictBatch(x), before);
    expect(p.refresh()).toBe(p);
    const after = p.predictBatch(x);
    expect(Array.from(after.data)).not.toEqual(Array.from(before.data));
    expectNear(after, reference(model, x), 'after refresh');
  });
});

describe('Predictor errors', () => {
  const model = new nn.Sequential(new nn.Linear(4, 3), new nn.ReLU(), new nn.Linear(3, 2));
  const p = new Predictor(model);
  it('names the layer and the shapes at fault', () => {
    expect(() => p.predictBatch(randn([2, 5]))).toThrow(/predictBatch: 0 Linear\+relu expects 4 input features, got input \[2, 5\]/);
    expect(() => p.predictBatch(randn([2, 4]), randn([3, 2]))).toThrow(/out has shape \[3, 2\] \(float32\), but 2 Linear gives \[2, 2\]/);
    expect(() => p.predictBatch(randn([2, 4]), randn([2, 2], { dtype: 'float64' }))).toThrow(/out has shape \[2, 2\] \(float64\)/);
    expect(() => p.predictBatch([1, 2] as unknown as Tensor)).toThrow(/x must be a Tensor/);
    expect(() => p.predictBatch(randn([2, 4]), {} as Tensor)).toThrow(/out must be a Tensor/);
  });
  it('refuses an out that shares memory with x', () => {
    const single = new Predictor(new nn.Linear(4, 4));
    const x = randn([2, 4]);
    expect(() => single.predictBatch(x, new Tensor(x.data.subarray(0, 8), [2, 4]))).toThrow(/out shares memory with the input x/);
  });
});

describe('Predictor allocations', () => {
  // The soak's counter (npm run bench -- --soak): counting subclasses of the typed-array globals.
  const countTypedArrays = (fn: () => void): number => count(fn).typedArrays;

  it('with out, none per call once warm (batch sizes 1 and 64 alternating); without, only the result', () => {
    manualSeed(9);
    const model = withStats(nn.mlp({ inFeatures: 784, hidden: [128], outFeatures: 10, activation: 'relu', batchnorm: true, dropout: 0.2 }), 784);
    const p = new Predictor(model);
    const x1 = randn([1, 784]), x64 = randn([64, 784]);
    const o1 = new Tensor(new Float32Array(10), [1, 10]), o64 = new Tensor(new Float32Array(640), [64, 10]);
    const calls = 50;
    const forward = countTypedArrays(() => { for (let i = 0; i < calls; i++) reference(model, x64); });
    expect(forward).toBeGreaterThanOrEqual(calls); // the counter sees the library's allocations
    // the first calls allocate the buffers, and the counter sees them
    expect(countTypedArrays(() => { p.predictBatch(x1, o1); p.predictBatch(x64, o64); })).toBeGreaterThan(0);
    const warm = countTypedArrays(() => {
      for (let i = 0; i < calls; i++) {
        p.predictBatch(x1, o1);
        p.predictBatch(x64, o64);
      }
    });
    expect(warm).toBe(0);
    expect(countTypedArrays(() => { for (let i = 0; i < calls; i++) p.predictBatch(x64); })).toBe(calls);
    expectNear(o64, reference(model, x64), 'after the counted calls');
  });
});
