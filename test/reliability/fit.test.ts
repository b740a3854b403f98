// fit(): the same numbers as a hand-written loop, yields to the event loop, stops cleanly on abort,
// surfaces errors, validates its arguments.
import { describe, expect, it } from 'vitest';
import { DataLoader, TensorDataset, fit, manualSeed, nn, optim, randn, tensor, type Tensor } from '../../lib/index.js';

function setup(seed = 7) {
  manualSeed(seed);
  const x = randn([256, 8]);
  const y = tensor(Array.from({ length: 256 }, (_, i) => (x.data[i * 8] + x.data[i * 8 + 1] > 0 ? 1 : 0)));
  const loader = new DataLoader(new TensorDataset(x, y), { batchSize: 16, shuffle: true, seed: 3 });
  const model = new nn.Sequential(new nn.Linear(8, 16), new nn.ReLU(), new nn.Linear(16, 2));
  const optimizer = new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
  return { loader, model, optimizer, lossFn: new nn.CrossEntropyLoss() };
}

describe('fit', () => {
  it('gives exactly the weights and losses of a plain loop', async () => {
    const a = setup();
    const h = await fit(a.model, a.loader, { lossFn: a.lossFn, optimizer: a.optimizer, epochs: 3, yieldEveryMs: 0 });
    const b = setup();
    const means: number[] = [];
    for (let e = 0; e < 3; e++) {
      let s = 0, n = 0;
      for (const [x, y] of b.loader) {
        b.optimizer.zeroGrad();
        const l = b.lossFn.forward(b.model.forward(x) as Tensor, y);
        l.backward();
        b.optimizer.step();
        s += l.item(); n++;
      }
      means.push(s / n);
    }
    expect(h.loss).toEqual(means);
    expect(h.steps).toBe(48);
    expect(h.aborted).toBe(false);
    expect(h.epochs.map((e) => e.batches)).toEqual([16, 16, 16]);
    expect(h.loss[2]).toBeLessThan(h.loss[0]);
    const sa = a.model.stateDict(), sb = b.model.stateDict();
    for (const k of Object.keys(sa)) expect(Array.from(sa[k].data), k).toEqual(Array.from(sb[k].data));
  });

  it('lets timers and I/O callbacks run while it trains, and stops cleanly on abort', async () => {
    const s = setup();
    const ac = new AbortController();
    let ticks = 0, batches = 0;
    const timer = setInterval(() => { ticks++; if (ticks === 5) ac.abort(); }, 1);
    const h = await fit(s.model, s.loader, {
      lossFn: s.lossFn, optimizer: s.optimizer, epochs: 1e6, yieldEveryMs: 0, signal: ac.signal,
      onBatch: () => { batches++; const t = performance.now(); while (performance.now() - t < 0.5); },
    });
    clearInterval(timer);
    expect(h.aborted).toBe(true);
    expect(ticks).toBeGreaterThanOrEqual(5);
    expect(h.steps).toBe(batches);
    expect(h.yields).toBeGreaterThan(0);
    expect(h.epochs.length).toBe(Math.floor(h.steps / 16));
    // an already-aborted signal: no step at all
    const h2 = await fit(s.model, s.loader, { lossFn: s.lossFn, optimizer: s.optimizer, epochs: 3, signal: AbortSignal.abort() });
    expect(h2).toMatchObject({ steps: 0, aborted: true, loss: [] });
  });

  it('yields at most every yieldEveryMs and awaits async callbacks', async () => {
    const s = setup();
    const seen: number[] = [];
    const h = await fit(s.model, s.loader, {
      lossFn: (o, t) => s.lossFn.forward(o, t), optimizer: s.optimizer, epochs: 2, yieldEveryMs: Infinity,
      onEpoch: async (e) => { await new Promise((r) => setTimeout(r, 1)); seen.push(e.epoch); },
    });
    expect(h.yields).toBe(0);
    expect(seen).toEqual([1, 2]);
  });

  it('rejects with the error of a failing step, and validates its arguments', async () => {
    const s = setup();
    const bad = [[randn([4, 3]), tensor([0, 1, 0, 1])]] as unknown as Iterable<[Tensor, Tensor]>;
    await expect(fit(s.model, bad, { lossFn: s.lossFn, optimizer: s.optimizer })).rejects.toThrow(/3/);
    await expect(fit(s.model, s.loader, { lossFn: () => randn([2]), optimizer: s.optimizer })).rejects.toThrow(/fit: lossFn must return a scalar Tensor, got shape \[2\]/);
    await expect(fit({} as never, s.loader, { lossFn: s.lossFn, optimizer: s.optimizer })).rejects.toThrow(TypeError);
    await expect(fit(s.model, 5 as never, { lossFn: s.lossFn, optimizer: s.optimizer })).rejects.toThrow(/fit: loader must be an iterable/);
    await expect(fit(s.model, s.loader, { lossFn: 1 as never, optimizer: s.optimizer })).rejects.toThrow(/fit: lossFn/);
    await expect(fit(s.model, s.loader, { lossFn: s.lossFn, optimizer: {} as never })).rejects.toThrow(/fit: optimizer/);
    await expect(fit(s.model, s.loader, { lossFn: s.lossFn, optimizer: s.optimizer, epochs: 1.5 })).rejects.toThrow(/fit: epochs/);
    await expect(fit(s.model, s.loader, { lossFn: s.lossFn, optimizer: s.optimizer, yieldEveryMs: -1 })).rejects.toThrow(/fit: yieldEveryMs/);
    await expect(fit(s.model, [[randn([2, 8])]] as never, { lossFn: s.lossFn, optimizer: s.optimizer })).rejects.toThrow(/expected \[input, target\]/);
  });
});
