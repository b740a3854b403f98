// The Rosenblatt perceptron (AND, OR learnable; XOR not) and a 2-4-1 MLP that solves XOR by backprop.
import { describe, expect, it } from 'vitest';
import { tensor, manualSeed, noGrad, nn, optim, type Tensor } from '../lib/index.js';

const X = [[0, 0], [0, 1], [1, 0], [1, 1]];
const AND = [0, 0, 0, 1];
const OR = [0, 1, 1, 1];
const XOR = [0, 1, 1, 0];

describe('Perceptron', () => {
  for (const [name, y] of [['AND', AND], ['OR', OR]] as const) {
    it(`learns ${name}`, () => {
      const p = new nn.Perceptron(2);
      const r = p.fit(X, y);
      expect(r.converged).toBe(true);
      expect(r.epochs).toBe(r.errors.length);
      expect(r.epochs).toBeLessThan(100);
      expect(r.errors.at(-1)).toBe(0);
      expect(r.errors.slice(0, -1).every((e) => e > 0)).toBe(true);
      expect(Array.from(p.predict(X).data)).toEqual(y);
      expect(Array.from(p.forward(tensor(X)).data)).toEqual(y);
      expect(p.score(X, y)).toBe(1);
    });
  }

  it('AND follows the perceptron rule exactly (zero init, lr 1, fixed order)', () => {
    const p = new nn.Perceptron(2);
    const r = p.fit(tensor(X), Float32Array.from(AND));
    // traced by hand: epoch 1 only (1,1) is wrong (w = [1, 1], b = 1); ... epoch 6 makes no mistake
    expect(r.errors).toEqual([1, 3, 3, 2, 1, 0]);
    expect(Array.from(p.weight.data)).toEqual([2, 1]);
    expect(p.bias.item()).toBe(-2);
  });

  it('cannot learn XOR: no convergence after maxEpochs, errors in every epoch', () => {
    const p = new nn.Perceptron(2, { maxEpochs: 50 });
    const r = p.fit(X, XOR);
    expect(r.converged).toBe(false);
    expect(r.epochs).toBe(50);
    expect(r.errors).toHaveLength(50);
    expect(r.errors.every((e) => e > 0)).toBe(true);
    expect(p.score(X, XOR)).toBeLessThan(1);
  });

  it('shuffled training is reproducible under manualSeed', () => {
    const fit = () => { manualSeed(9); const p = new nn.Perceptron(2, { shuffle: true, lr: 0.5 }); return [p.fit(X, OR), Array.from(p.weight.data)]; };
    const [r1, w1] = fit(), [r2, w2] = fit();
    expect(r1).toEqual(r2);
    expect(w1).toEqual(w2);
    expect((r1 as { converged: boolean }).converged).toBe(true);
  });

  it('weights are buffers: in stateDict, not in parameters(); repr and input checks', () => {
    const p = new nn.Perceptron(3);
    expect(p.parameters()).toEqual([]);
    expect(Object.keys(p.stateDict())).toEqual(['weight', 'bias']);
    expect(String(p)).toBe('Perceptron(inFeatures=3, lr=1, maxEpochs=100)');
    expect(() => p.fit(X, AND)).toThrow(/Perceptron.fit: expected input of shape \[n, 3\] or \[3\], got \[4, 2\]/);
    expect(() => new nn.Perceptron(2).fit(X, [0, 1, 2, 0])).toThrow(/targets must be 0 or 1, got 2 at index 2/);
    expect(() => new nn.Perceptron(2).fit(X, [0, 1])).toThrow(/4 samples but 2 targets/);
    expect(p.predict([1, 1, 1]).shape).toEqual([]);
  });
});

const x = tensor(X), y = tensor(XOR.map((v) => [v]));

/** 1000 full-batch steps on the four XOR rows; returns the last loss. */
function trainXor(model: nn.Module, opt: optim.Optimizer, lossFn: { forward(a: Tensor, b: Tensor): Tensor }): number {
  let loss = Infinity;
  for (let epoch = 0; epoch < 1000; epoch++) {
    opt.zeroGrad();
    const l = lossFn.forward(model.forward(x), y);
    l.backward();
    opt.step();
    loss = l.item();
  }
  return loss;
}

describe('MLP 2-4-1 solves XOR by backprop', () => {
  it('Linear-Tanh-Linear-Sigmoid with BCE and Adam reaches 100% accuracy', () => {
    manualSeed(0);
    const model = new nn.Sequential(new nn.Linear(2, 4), new nn.Tanh(), new nn.Linear(4, 1), new nn.Sigmoid());
    const opt = new optim.Adam(model.parameters(), { lr: 0.05 });
    const loss = trainXor(model, opt, new nn.BCELoss());
    const out = noGrad(() => model.eval().forward(x));
    const pred = Array.from(out.data, (p) => (p > 0.5 ? 1 : 0));
    expect(pred).toEqual(XOR);
    expect(loss).toBeLessThan(0.05);
  });

  it('is robust across seeds (SGD lr 0.5)', () => {
    for (const seed of [1, 2, 3]) {
      manualSeed(seed);
      const model = new nn.Sequential(new nn.Linear(2, 4), new nn.Tanh(), new nn.Linear(4, 1));
      const opt = new optim.SGD(model.parameters(), { lr: 0.5, momentum: 0.9 });
      const loss = trainXor(model, opt, new nn.BCEWithLogitsLoss());
      const pred = Array.from(noGrad(() => model.forward(x)).data, (z) => (z > 0 ? 1 : 0));
      expect(pred, `seed ${seed}`).toEqual(XOR);
      expect(loss, `seed ${seed}`).toBeLessThan(0.05);
    }
  });
});
