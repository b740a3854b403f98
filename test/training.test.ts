// End-to-end training: an MLP learns two spirals; a perceptron learns a separable 2-D set.
import { describe, expect, it } from 'vitest';
import { Tensor, tensor, manualSeed, randn, rand, noGrad, nn, optim } from '../lib/index.js';

/** Two interleaved spirals, n points each (2 turns), Gaussian noise of std `noise`; seeded. */
function twoSpirals(n: number, noise: number, seed: number): { x: Tensor; y: number[] } {
  manualSeed(seed);
  const eps = randn([2 * n, 2]).data;
  const pts: number[][] = [], y: number[] = [];
  for (let c = 0; c < 2; c++) {
    for (let i = 0; i < n; i++) {
      const t = 0.5 + (i / n) * 4 * Math.PI;
      const r = t / (4 * Math.PI + 0.5);
      const k = c * n + i;
      pts.push([r * Math.cos(t + c * Math.PI) + noise * eps[2 * k], r * Math.sin(t + c * Math.PI) + noise * eps[2 * k + 1]]);
      y.push(c);
    }
  }
  return { x: tensor(pts), y };
}

function accuracy(logits: Tensor, y: number[]): number {
  const pred = logits.argmax(1).data;
  let ok = 0;
  for (let i = 0; i < y.length; i++) if (pred[i] === y[i]) ok++;
  return ok / y.length;
}

describe('training', () => {
  it('an MLP learns two spirals to >= 95% training accuracy in < 5 s', () => {
    const { x, y } = twoSpirals(100, 0.03, 123);
    manualSeed(1);
    const model = new nn.Sequential(
      new nn.Linear(2, 32), new nn.Tanh(), new nn.Linear(32, 32), new nn.Tanh(), new nn.Linear(32, 2),
    );
    const opt = new optim.Adam(model.parameters(), { lr: 0.02 });
    const lossFn = new nn.CrossEntropyLoss();
    const t0 = performance.now();
    let acc = 0, loss = Infinity, steps = 0;
    while (steps < 3000) {
      opt.zeroGrad();
      const logits = model.forward(x);
      const l = lossFn.forward(logits, y);
      l.backward();
      opt.step();
      steps++;
      loss = l.item();
      if (steps % 50 === 0 && (acc = accuracy(noGrad(() => model.forward(x)), y)) >= 0.99) break;
    }
    const ms = performance.now() - t0;
    acc = accuracy(noGrad(() => model.forward(x)), y);
    console.log(`two spirals: ${steps} steps, ${ms.toFixed(0)} ms, accuracy ${acc}, loss ${loss.toFixed(4)}`);
    expect(acc).toBeGreaterThanOrEqual(0.95);
    expect(ms).toBeLessThan(5000);
  }, 20_000);

  it('a perceptron converges on a linearly separable random 2-D set', () => {
    manualSeed(5);
    const pts = rand([400, 2], { low: -1, high: 1 }).data;
    // true boundary 0.8·x0 - 0.6·x1 + 0.1 = 0; drop points within a margin of 0.05 of it
    const xs: number[][] = [], ys: number[] = [];
    for (let i = 0; i < 400; i++) {
      const a = pts[2 * i], b = pts[2 * i + 1], z = 0.8 * a - 0.6 * b + 0.1;
      if (Math.abs(z) < 0.05) continue;
      xs.push([a, b]);
      ys.push(z > 0 ? 1 : 0);
    }
    expect(xs.length).toBeGreaterThan(300);
    const p = new nn.Perceptron(2, { lr: 0.1, maxEpochs: 1000 });
    const r = p.fit(xs, ys);
    expect(r.converged).toBe(true);
    expect(r.errors.at(-1)).toBe(0);
    expect(p.score(xs, ys)).toBe(1);
    // the learned boundary points the same way as the true one
    const w = p.weight.data;
    expect((w[0] * 0.8 - w[1] * 0.6) / Math.hypot(w[0], w[1])).toBeGreaterThan(0.9);
  });
});
