// trainInWorker: the same weights as fit() in this thread (bit for bit: one process, one OpenBLAS
// thread count), progress, cancel with a loadable checkpoint, errors from the worker, buffer transfer,
// a model factory module and CSV data. Runs on the vitest project's backend.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { DataLoader, TensorDataset, fit, getBackend, loadCheckpoint, loadCsv, manualSeed, nn, optim, randn, tensor, trainInWorker, type Tensor, type WorkerTrainSpec } from '../lib/index.js';
import { TrainingAbortedError, type WorkerProgress } from '../lib/train/index.js';
import { resolveModuleFile } from '../lib/train/worker-spec.js';
import { createModel } from './fixtures/worker-model.js';

const dir = mkdtempSync(join(tmpdir(), 'tapegrad-worker-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** 4 features, 3 classes from a fixed rule. */
function data(n = 96, seed = 11): [Tensor, Tensor] {
  manualSeed(seed);
  const x = randn([n, 4]);
  const y = tensor(Array.from({ length: n }, (_, i) => (x.data[i * 4] > 0.5 ? 2 : x.data[i * 4 + 1] > 0 ? 1 : 0)));
  return [x, y];
}

const bits = (t: Tensor): Buffer => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);

function expectSameWeights(a: Record<string, Tensor>, b: Record<string, Tensor>): void {
  expect(Object.keys(a)).toEqual(Object.keys(b));
  for (const k of Object.keys(a)) {
    expect(a[k].shape, k).toEqual(b[k].shape);
    expect(bits(a[k]).equals(bits(b[k])), `${k} differs from the in-process fit`).toBe(true);
  }
}

/** fit() in this thread in the worker's order: seed, model, loader (shuffled with the seed), optimizer, scheduler. */
async function inProcess(build: () => nn.Module, x: Tensor, y: Tensor, o: { seed: number; epochs: number; batchSize: number; val?: [Tensor, Tensor] }) {
  manualSeed(o.seed);
  const model = build();
  const loader = new DataLoader(new TensorDataset(x, y), { batchSize: o.batchSize, shuffle: true, seed: o.seed });
  const optimizer = new optim.Adam(model.parameters(), { lr: 0.01 });
  const scheduler = new optim.lrScheduler.StepLR(optimizer, { stepSize: 2, gamma: 0.5 });
  const history = await fit(model, loader, { lossFn: new nn.CrossEntropyLoss(), optimizer, scheduler, epochs: o.epochs, ...(o.val && { validationData: o.val }) });
  return { model, history };
}

const arch = { inFeatures: 4, hidden: [16], outFeatures: 3, activation: 'relu' as const };
const base = (x: Tensor, y: Tensor): WorkerTrainSpec => ({
  model: { mlp: arch }, data: [x, y], loss: 'CrossEntropyLoss', optimizer: { name: 'Adam', options: { lr: 0.01 } },
  scheduler: { name: 'StepLR', options: { stepSize: 2, gamma: 0.5 } }, epochs: 5, batchSize: 16, seed: 5,
});

describe(`trainInWorker (${getBackend()} backend)`, () => {
  it('gives bit for bit the weights and history of the same fit() in this thread; copies the data', async () => {
    const [x, y] = data();
    const [xv, yv] = data(32, 12);
    const ref = await inProcess(() => nn.mlp(arch), x, y, { seed: 5, epochs: 5, batchSize: 16, val: [xv, yv] });
    const epochs: WorkerProgress[] = [];
    const r = await trainInWorker({ ...base(x, y), validationData: [xv, yv] }, { onProgress: (p) => { if (p.kind === 'epoch') epochs.push(p); } });
    expectSameWeights(r.stateDict, ref.model.stateDict());
    expectSameWeights(r.model.stateDict(), ref.model.stateDict());
    expect(r.history.loss).toEqual(ref.history.loss);
    expect(r.history.epochs.map((e) => [e.valLoss, e.valAccuracy, e.lr])).toEqual(ref.history.epochs.map((e) => [e.valLoss, e.valAccuracy, e.lr]));
    expect(r.history.epochs.map((e) => e.lr)).toEqual([0.01, 0.01, 0.005, 0.005, 0.0025]); // the scheduler ran
    expect(r.history.loss[4]).toBeLessThan(r.history.loss[0]);
    expect(epochs.map((p) => [p.epoch, p.loss])).toEqual(ref.history.epochs.map((e) => [e.epoch, e.loss]));
    // copied, not transferred: the caller's tensors are intact
    expect(Array.from(x.data)).toEqual(Array.from(data()[0].data));
    for (const t of [x, y, xv, yv]) expect(t.data.length).toBeGreaterThan(0);
    // the model rebuilt here predicts as the in-process one
    const [xt] = data(8, 13);
    expect(bits(r.model.forward(xt)).equals(bits(ref.model.forward(xt)))).toBe(true);
  });

  it.runIf(process.platform === 'linux')('lowers the nice value of the training thread only (default 10)', async () => {
    // field 19 of /proc/<pid>/task/<tid>/stat (after the command name) is the thread's nice value
    // (a thread may exit between the listing and the read: skipped)
    const niceOf = (): number[] => readdirSync('/proc/self/task').flatMap((t) => {
      let s: string;
      try { s = readFileSync(`/proc/self/task/${t}/stat`, 'utf8'); } catch { return []; }
      return [Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[16])];
    });
    const before = niceOf();
    const during: number[][] = [];
    const [x, y] = data(64);
    await trainInWorker({ ...base(x, y), epochs: 2 }, { progressEveryMs: 0, onProgress: () => { during.push(niceOf()); } });
    expect(during.some((n) => n.filter((v) => v === 10).length === before.filter((v) => v === 10).length + 1)).toBe(true);
    // the worker is gone (its thread may stay listed for a moment after terminate() resolves)
    await vi.waitFor(() => expect(niceOf().filter((v) => v === 10).length).toBe(before.filter((v) => v === 10).length), { timeout: 5000 });
    // nice 0 leaves the thread as it is
    const [x2, y2] = data(64);
    const seen: number[][] = [];
    await trainInWorker({ ...base(x2, y2), epochs: 1 }, { nice: 0, progressEveryMs: 0, onProgress: () => { seen.push(niceOf()); } });
    expect(seen.every((n) => n.filter((v) => v === 10).length === before.filter((v) => v === 10).length)).toBe(true);
    await expect(trainInWorker(base(x2, y2), { nice: 20 })).rejects.toThrow('trainInWorker: nice must be an integer in [0, 19], got 20');
  });

  it('a perBatch scheduler (OneCycleLR) steps after every batch, inside fit, as fit() does here', async () => {
    const [x, y] = data();
    const one = { maxLr: 0.05, totalSteps: 3 * 6 }; // 96 rows in batches of 16
    manualSeed(5);
    const model = nn.mlp(arch);
    const loader = new DataLoader(new TensorDataset(x, y), { batchSize: 16, shuffle: true, seed: 5 });
    const optimizer = new optim.Adam(model.parameters(), { lr: 0.01 });
    const h = await fit(model, loader, { lossFn: new nn.CrossEntropyLoss(), optimizer, scheduler: new optim.lrScheduler.OneCycleLR(optimizer, one), epochs: 3 });
    const r = await trainInWorker({ ...base(x, y), scheduler: { name: 'OneCycleLR', options: one }, epochs: 3 });
    expectSameWeights(r.stateDict, model.stateDict());
    expect(r.history.epochs.map((e) => e.lr)).toEqual(h.epochs.map((e) => e.lr));
    expect(new Set(h.epochs.map((e) => e.lr)).size).toBe(3);
  });

  it('transfer: true hands the data buffers to the worker (the caller\'s tensors are detached)', async () => {
    const [x, y] = data(32);
    const [xr, yr] = data(32);
    const ref = await trainInWorker({ ...base(xr, yr), epochs: 1 });
    const r = await trainInWorker({ ...base(x, y), epochs: 1 }, { transfer: true });
    expect(x.data.length).toBe(0);
    expect(y.data.length).toBe(0);
    expectSameWeights(r.stateDict, ref.stateDict);
  });

  it('reports every batch with progressEveryMs: 0, and every epoch', async () => {
    const [x, y] = data();
    const seen: WorkerProgress[] = [];
    const r = await trainInWorker({ ...base(x, y), epochs: 2 }, { onProgress: (p) => seen.push(p), progressEveryMs: 0 });
    const batches = seen.filter((p) => p.kind === 'batch');
    expect(batches.map((p) => p.step)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(batches.every((p) => p.kind === 'batch' && p.batches === 6 && Number.isFinite(p.loss))).toBe(true);
    expect(seen.filter((p) => p.kind === 'epoch').map((p) => p.epoch)).toEqual([1, 2]);
    expect(seen.at(-1)!.kind).toBe('epoch');
    expect(r.history.steps).toBe(12);
  });

  it('cancelling stops after the current batch and leaves a loadable checkpoint named in the AbortError', async () => {
    const [x, y] = data(512);
    const file = join(dir, 'cancel.ckpt.safetensors');
    const ac = new AbortController();
    let batchesSeen = 0;
    const err = await trainInWorker({ ...base(x, y), epochs: 10_000 }, {
      signal: ac.signal, checkpoint: file, progressEveryMs: 0,
      onProgress: (p) => { if (p.kind === 'batch' && ++batchesSeen === 3) ac.abort(); },
    }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(TrainingAbortedError);
    const e = err as TrainingAbortedError;
    expect(e.name).toBe('AbortError');
    expect(e.message).toContain(file);
    expect(e.checkpoint).toBe(file);
    expect(e.history.aborted).toBe(true);
    expect(e.history.steps).toBeGreaterThanOrEqual(3);
    expect(e.history.steps).toBeLessThan(10_000 * 32);
    // the checkpoint restores model, optimizer and scheduler; its extra says where training stopped
    const model = nn.mlp(arch);
    const optimizer = new optim.Adam(model.parameters(), { lr: 0.01 });
    const scheduler = new optim.lrScheduler.StepLR(optimizer, { stepSize: 2, gamma: 0.5 });
    const fresh = Float32Array.from(model.stateDict()['0.weight'].data);
    const extra = loadCheckpoint(file, { model, optimizer, scheduler }) as { steps: number; epochsDone: number; partial: { batch: number } | null };
    expect(extra.steps).toBe(e.history.steps);
    expect(extra.epochsDone * 32 + (extra.partial?.batch ?? 0)).toBe(e.history.steps);
    expect(model.stateDict()['0.weight'].data).not.toEqual(fresh);
  });

  it('an already aborted signal rejects without starting a worker', async () => {
    const [x, y] = data(16);
    const err = await trainInWorker(base(x, y), { signal: AbortSignal.abort('stop'), transfer: true }).catch((e: Error) => e);
    expect((err as Error).name).toBe('AbortError');
    expect(x.data.length).toBe(16 * 4); // nothing was transferred
  });

  it('errors inside the worker reject with their original message', async () => {
    const [x, y] = data(16);
    // a shape error of the first forward: the same message as in this thread
    const model = nn.mlp({ ...arch, inFeatures: 5 });
    const local = await fit(model, [[x, y]], { lossFn: new nn.CrossEntropyLoss(), optimizer: new optim.SGD(model.parameters(), { lr: 0.1 }) }).catch((e: Error) => e);
    expect(local).toBeInstanceOf(Error);
    const [x2, y2] = data(16);
    await expect(trainInWorker({ ...base(x2, y2), model: { mlp: { ...arch, inFeatures: 5 } } })).rejects.toThrow((local as Error).message);
    const [x3, y3] = data(16);
    await expect(trainInWorker({ ...base(x3, y3), loss: 'HingeLoss' as 'MSELoss' })).rejects.toThrow(/unknown loss "HingeLoss" \(known: MSELoss, .*CrossEntropyLoss/);
    const [x4, y4] = data(16);
    await expect(trainInWorker({ ...base(x4, y4), optimizer: { name: 'SGD', options: { lr: -1 } } })).rejects.toThrow(/lr/);
  });

  it('builds the model from a module file\'s factory, as the same factory in this thread', async () => {
    const file = new URL('./fixtures/worker-model.ts', import.meta.url).pathname;
    const [x, y] = data();
    const ref = await inProcess(() => createModel({ hidden: 8 }), x, y, { seed: 3, epochs: 3, batchSize: 16 });
    const r = await trainInWorker({ ...base(x, y), model: { module: file, export: 'createModel', options: { hidden: 8 } }, seed: 3, epochs: 3 });
    expectSameWeights(r.stateDict, ref.model.stateDict());
    expect(String(r.model)).toBe(String(ref.model));
    const [x2, y2] = data(16);
    await expect(trainInWorker({ ...base(x2, y2), model: { module: file, export: 'notAFunction' } })).rejects.toThrow(/has no function export 'notAFunction'/);
    expect(() => resolveModuleFile('node:child_process')).toThrow(/not a URL or node: specifier/);
    expect(() => resolveModuleFile('data:text/javascript,1')).toThrow(/not a URL/);
    expect(() => resolveModuleFile(join(dir, 'missing.mjs'))).toThrow(/no such file/);
    expect(() => resolveModuleFile(dir)).toThrow(/no such file/);
  });

  it('loads a CSV file in the worker (text labels), as loadCsv + fit here', async () => {
    const file = join(dir, 'toy.csv');
    const [x, y] = data(64, 21);
    const names = ['low', 'mid', 'high'];
    writeFileSync(file, 'a;b;c;d;kind\n' + Array.from({ length: 64 }, (_, i) => `${[...x.data.subarray(i * 4, i * 4 + 4)].join(';')};${names[y.data[i]]}`).join('\n') + '\n');
    const c = loadCsv(file, { target: 'kind' });
    const ref = await inProcess(() => nn.mlp(arch), c.x, c.y!, { seed: 5, epochs: 2, batchSize: 16 });
    const r = await trainInWorker({ ...base(x, y), data: { csv: file, target: 'kind' }, epochs: 2 });
    expectSameWeights(r.stateDict, ref.model.stateDict());
    await expect(trainInWorker({ ...base(x, y), data: { csv: join(dir, 'nope.csv'), target: 'kind' } })).rejects.toThrow(/nope\.csv: cannot read file/);
  });
});
