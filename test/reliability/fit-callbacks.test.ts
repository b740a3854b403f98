// fit() as Keras/Lightning users use it: validation metrics, callbacks, early stopping, the best
// weights, a scheduler hook, a JSON-lines log, and resuming an interrupted epoch exactly.
import { describe, expect, it, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataLoader, TensorDataset, fit, manualSeed, nn, optim, randn, tensor, add, mul, sum, crossEntropy, type Tensor, type EpochLogs } from '../../lib/index.js';
import { evaluate, predict, argmaxRows, accuracy } from '../../lib/train/index.js';
import { readSafetensors } from '../../lib/io/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tapegrad-fit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function setup(seed = 7) {
  manualSeed(seed);
  const x = randn([256, 8]), xv = randn([64, 8]);
  const label = (t: Tensor) => tensor(Array.from({ length: t.shape[0] }, (_, i) => (t.data[i * 8] + t.data[i * 8 + 1] > 0 ? 1 : 0)));
  const y = label(x), yv = label(xv);
  const loader = new DataLoader(new TensorDataset(x, y), { batchSize: 16, shuffle: true, seed: 3 });
  const model = new nn.Sequential(new nn.Linear(8, 16), new nn.ReLU(), new nn.Linear(16, 2));
  const optimizer = new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
  return { loader, model, optimizer, lossFn: new nn.CrossEntropyLoss(), x, y, xv, yv };
}

const weights = (m: nn.Sequential): number[][] => Object.values(m.stateDict()).map((t) => Array.from(t.data));

describe('fit: validation, callbacks, log', () => {
  it('reports loss/accuracy on the validation data each epoch, the same as computed by hand, and logs JSON lines', async () => {
    const s = setup();
    const logFile = join(dir, 'metrics.jsonl');
    const seen: EpochLogs[] = [];
    let batchCalls = 0;
    const h = await fit(s.model, s.loader, {
      lossFn: s.lossFn, optimizer: s.optimizer, epochs: 3, validationData: [s.xv, s.yv], logFile,
      onBatchEnd: (b) => { batchCalls++; expect(b.batches).toBe(16); },
      onEpochEnd: (logs) => {
        seen.push(logs);
        // by hand: one forward over all 64 rows, cross-entropy, argmax
        const out = s.model.forward(s.xv);
        expect(logs.valLoss).toBeCloseTo(crossEntropy(out, s.yv).item(), 6);
        const pred = argmaxRows(out);
        expect(logs.valAccuracy).toBe(pred.filter((p, i) => p === s.yv.data[i]).length / 64);
      },
    });
    expect(batchCalls).toBe(48);
    expect(seen.map((e) => e.epoch)).toEqual([1, 2, 3]);
    expect(seen.every((e) => e.epochs === 3 && e.samples === 256 && e.batches === 16 && e.lr === 0.1)).toBe(true);
    expect(seen[2].accuracy!).toBeGreaterThan(0.8);
    expect(h.epochs).toEqual(seen);
    const lines = readFileSync(logFile, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual(seen.map((e) => JSON.parse(JSON.stringify(e))));
    // evaluate/predict/accuracy agree with fit's last validation numbers
    const ev = evaluate(s.model, [s.xv, s.yv], s.lossFn, { batchSize: 10 });
    expect(ev.loss).toBeCloseTo(seen[2].valLoss!, 5);
    expect(ev.accuracy).toBe(seen[2].valAccuracy);
    expect(accuracy(s.model, s.xv, s.yv)).toBe(seen[2].valAccuracy);
    expect(predict(s.model, s.xv, { batchSize: 7 }).shape).toEqual([64, 2]);
  });

  it('early stopping: stops when the monitored value has not improved by minDelta for patience epochs', async () => {
    const s = setup();
    // a loss whose value per epoch is scripted (its gradient is zero): the epoch means are exact
    const script = [5, 4, 4.5, 4.25, 3.875, 4.375, 4.5, 1];
    let epoch = 0;
    const lossFn = (o: Tensor) => add(mul(sum(o), 0), script[epoch]);
    const run = (earlyStopping: object) => { epoch = 0; return fit(s.model, s.loader, { lossFn, optimizer: s.optimizer, epochs: 8, earlyStopping, onEpochEnd: () => { epoch++; } }); };
    let h = await run({ monitor: 'loss', patience: 2 });
    expect(h.loss).toEqual([5, 4, 4.5, 4.25]); // 4.5 and 4.25 do not beat 4
    expect(h.stoppedEarly).toBe(4);
    h = await run({ monitor: 'loss', patience: 3 });
    expect(h.loss).toEqual(script);
    expect(h.stoppedEarly).toBeNull();
    h = await run({ monitor: 'loss', patience: 3, minDelta: 0.2 }); // 3.875 is only 0.125 better than 4
    expect(h.stoppedEarly).toBe(5);
    h = await run({ monitor: 'loss', patience: 1, mode: 'max' });
    expect(h.loss).toEqual([5, 4]);
    await expect(fit(s.model, s.loader, { lossFn, optimizer: s.optimizer, earlyStopping: { monitor: 'valLoss' } })).rejects.toThrow(/cannot monitor 'valLoss' without validationData/);
    await expect(fit(s.model, s.loader, { lossFn, optimizer: s.optimizer, earlyStopping: { monitor: 'f1' } })).rejects.toThrow(/monitored metric 'f1' is not in the epoch logs/);
  });

  it('keepBest restores the weights of the best epoch', async () => {
    const s = setup();
    const snaps: number[][][] = [];
    const best: number[] = [];
    const h = await fit(s.model, s.loader, {
      lossFn: s.lossFn, optimizer: new optim.SGD(s.model.parameters(), { lr: 2 }), epochs: 6, validationData: [s.xv, s.yv],
      keepBest: { monitor: 'valLoss', file: join(dir, 'best.safetensors'), onBest: (l) => { best.push(l.epoch); } },
      onEpochEnd: () => { snaps.push(weights(s.model)); },
    });
    const vals = h.epochs.map((e) => e.valLoss!);
    const argmin = vals.indexOf(Math.min(...vals));
    expect(h.best).toEqual({ epoch: argmin + 1, value: vals[argmin] });
    expect(best.at(-1)).toBe(argmin + 1);
    expect(weights(s.model)).toEqual(snaps[argmin]);
    const file = readSafetensors(join(dir, 'best.safetensors'));
    expect(Object.values(file.tensors).map((t) => Array.from(t.data))).toEqual(snaps[argmin]);
    expect(JSON.parse(file.metadata['tapegrad.best']).epoch).toBe(argmin + 1);
  });

  it('steps the scheduler once per epoch, with the monitored metric when it asks for one', async () => {
    const s = setup();
    const plain = { calls: [] as unknown[][], step(...a: unknown[]) { this.calls.push(a); s.optimizer.lr /= 2; } };
    const h = await fit(s.model, s.loader, { lossFn: s.lossFn, optimizer: s.optimizer, epochs: 3, scheduler: plain });
    expect(plain.calls).toEqual([[], [], []]);
    expect(h.epochs.map((e) => e.lr)).toEqual([0.1, 0.05, 0.025]); // the lr the epoch trained with
    const plateau = { needsMetric: true, metrics: [] as number[], step(m?: number) { this.metrics.push(m!); } };
    const h2 = await fit(s.model, s.loader, { lossFn: s.lossFn, optimizer: s.optimizer, epochs: 2, scheduler: plateau, validationData: [s.xv, s.yv] });
    expect(plateau.metrics).toEqual(h2.epochs.map((e) => e.valLoss));
    const p2 = { needsMetric: true, metrics: [] as number[], step(m?: number) { this.metrics.push(m!); } };
    const h3 = await fit(s.model, s.loader, { lossFn: s.lossFn, optimizer: s.optimizer, epochs: 2, scheduler: p2, schedulerMonitor: 'accuracy' });
    expect(p2.metrics).toEqual(h3.epochs.map((e) => e.accuracy));
    await expect(fit(s.model, s.loader, { lossFn: s.lossFn, optimizer: s.optimizer, scheduler: {} as never })).rejects.toThrow(/scheduler must have a step\(\) method/);
  });

  it('a perBatch scheduler steps after every optimizer step (not per epoch); clipGradNorm clips before the step', async () => {
    const s = setup();
    const lrs: number[] = [];
    const sched = { perBatch: true, calls: 0, step() { this.calls++; s.optimizer.lr *= 0.9; } };
    const h = await fit(s.model, s.loader, { lossFn: s.lossFn, optimizer: s.optimizer, epochs: 2, scheduler: sched, onBatchEnd: (b) => { lrs.push(b.lr!); } });
    expect(sched.calls).toBe(32);
    lrs.forEach((lr, i) => expect(lr).toBeCloseTo(0.1 * 0.9 ** i, 12));
    expect(h.epochs.map((e) => e.lr)).toEqual([lrs[0], lrs[16]]);
    const norms: number[] = [];
    const c = setup();
    await fit(c.model, c.loader, {
      lossFn: c.lossFn, optimizer: c.optimizer, clipGradNorm: 0.05,
      onBatchEnd: (b) => {
        norms.push(b.gradNorm!);
        const g = c.model.parameters().flatMap((p) => Array.from(p.grad!.data));
        expect(Math.hypot(...g)).toBeCloseTo(Math.min(b.gradNorm!, 0.05), 5); // what the optimizer stepped with
      },
    });
    expect(norms).toHaveLength(16);
    expect(norms.some((n) => n > 0.05)).toBe(true);
    await expect(fit(s.model, s.loader, { lossFn: s.lossFn, optimizer: s.optimizer, clipGradNorm: -1 })).rejects.toThrow(/clipGradNorm must be a finite number > 0, got -1/);
    await expect(fit({ forward: (x: Tensor) => x }, s.loader, { lossFn: s.lossFn, optimizer: s.optimizer, clipGradNorm: 1 })).rejects.toThrow(/clipGradNorm needs a model with parameters\(\)/);
    await expect(fit(s.model, s.loader, { lossFn: s.lossFn, optimizer: s.optimizer, scheduler: { perBatch: true, needsMetric: true, step() {} } })).rejects.toThrow(/cannot both step per batch/);
  });

  it('an aborted epoch resumes exactly (initialEpoch + resume) to the weights of a straight run', async () => {
    const loaderFor = (s: ReturnType<typeof setup>) => (e: number) => new DataLoader(new TensorDataset(s.x, s.y), { batchSize: 16, shuffle: true, seed: 100 + e });
    const a = setup();
    const ha = await fit(a.model, loaderFor(a), { lossFn: a.lossFn, optimizer: a.optimizer, epochs: 3 });
    const b = setup();
    const ac = new AbortController();
    const h1 = await fit(b.model, loaderFor(b), { lossFn: b.lossFn, optimizer: b.optimizer, epochs: 3, signal: ac.signal, onBatchEnd: (l) => { if (l.epoch === 2 && l.batch === 5) ac.abort(); } });
    expect(h1.aborted).toBe(true);
    expect(h1.partial).toMatchObject({ batch: 5, seen: 80 });
    const h2 = await fit(b.model, loaderFor(b), { lossFn: b.lossFn, optimizer: b.optimizer, epochs: 3, initialEpoch: 1, resume: h1.partial });
    expect(weights(b.model)).toEqual(weights(a.model));
    expect([...h1.loss, ...h2.loss]).toEqual(ha.loss);
  });
});
