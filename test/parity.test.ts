import { describe, it, expect } from 'vitest';
import * as tg from '../lib/index.js';
import { nativeBackend } from '../lib/backend/index.js';

// One 200-step training run per backend in the same process, same seed: the loss curves must agree.
// Runs once, in the native project (it switches backends itself).
const run = process.env.TAPEGRAD_BACKEND === 'native' && nativeBackend() !== null;

function train(backend: 'js' | 'native'): number[] {
  tg.setBackend(backend);
  tg.manualSeed(42);
  const model = new tg.nn.Sequential(
    new tg.nn.Linear(64, 128), new tg.nn.ReLU(), new tg.nn.Linear(128, 64), new tg.nn.Tanh(), new tg.nn.Linear(64, 10),
  );
  const opt = new tg.optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
  const x = tg.randn([96, 64]);
  const y = Array.from({ length: 96 }, (_, i) => (i * 7) % 10);
  const lossFn = new tg.nn.CrossEntropyLoss();
  const losses: number[] = [];
  for (let step = 0; step < 200; step++) {
    opt.zeroGrad();
    const loss = lossFn.forward(model.forward(x), y);
    loss.backward();
    opt.step();
    losses.push(loss.item());
  }
  return losses;
}

describe.runIf(run)('backend parity', () => {
  it('a 200-step MLP training run gives the same loss curve on js and native within 1e-4', () => {
    const js = train('js');
    const native = train('native');
    tg.setBackend('native');
    expect(js[199]).toBeLessThan(js[0] / 4); // it really trained
    let worst = 0;
    for (let i = 0; i < 200; i++) worst = Math.max(worst, Math.abs(js[i] - native[i]) / Math.max(1, Math.abs(js[i])));
    console.log(`[parity] 200 steps: worst relative loss difference js vs native ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-4);
  });
});
