// `tapegrad train --scheduler / --clip-grad-norm / --dropout / --batchnorm` through trainModel: the
// rates actually used (the JSON-lines log and the per-batch progress) against the closed-form
// schedules, the size of a clipped update, the layers recorded in the model file, and resumed runs
// that end byte-identical with uninterrupted ones.
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainModel, buildMlp } from '../lib/cli/train.js';
import { readModel, META_ARCH } from '../lib/cli/modelfile.js';
import { readSafetensors, save } from '../lib/io/index.js';
import { manualSeed, noGrad, randn } from '../lib/index.js';
import { accuracy } from '../lib/train/index.js';
import type { Sequential } from '../lib/nn/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tapegrad-sched-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const logLrs = (file: string): number[] => readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l).lr);
const expectClose = (got: number[], want: number[]): void => {
  expect(got).toHaveLength(want.length);
  got.forEach((g, i) => expect(Math.abs(g - want[i]), `step ${i}: ${g} vs ${want[i]}`).toBeLessThanOrEqual(1e-12 * Math.abs(want[i]) + 1e-18));
};
const flat = (m: Sequential): number[] => m.parameters().flatMap((p) => Array.from(p.data));
const dist = (a: number[], b: number[]): number => Math.sqrt(a.reduce((s, x, i) => s + (x - b[i]) ** 2, 0));

describe('train --scheduler', () => {
  it('cosine: epoch k trains with lr·(1 + cos(π(k-1)/epochs))/2', async () => {
    const log = join(dir, 'cos.jsonl');
    const r = await trainModel({ dataset: 'circles', epochs: 5, scheduler: 'cosine', log, out: null });
    expect(r.options.scheduler).toBe('cosine');
    expectClose(logLrs(log), [0, 1, 2, 3, 4].map((k) => (0.01 * (1 + Math.cos((Math.PI * k) / 5))) / 2));
  });

  it('step: lr/10 every ceil(epochs/3) epochs', async () => {
    const log = join(dir, 'step.jsonl');
    await trainModel({ dataset: 'circles', epochs: 7, scheduler: 'step', lr: 0.02, log, out: null });
    expectClose(logLrs(log), [0.02, 0.02, 0.02, 0.002, 0.002, 0.002, 0.0002]);
  });

  it('onecycle: per batch, cosine up from lr/25 to lr over 30% of the steps, then down to lr/25e4', async () => {
    const lrs: number[] = [];
    const log = join(dir, 'one.jsonl');
    await trainModel({ dataset: 'circles', epochs: 3, scheduler: 'onecycle', lr: 0.05, log, out: null }, { onProgress: (b) => lrs.push(b.lr!) });
    const total = 3 * 25, max = 0.05, initial = max / 25, min = initial / 1e4, up = 0.3 * total - 1;
    const cos = (a: number, b: number, pct: number): number => b + ((a - b) / 2) * (Math.cos(Math.PI * pct) + 1);
    const want = Array.from({ length: total }, (_, s) => (s <= up ? cos(initial, max, s / up) : cos(max, min, (s - up) / (total - 1 - up))));
    expectClose(lrs, want);
    expect(logLrs(log)).toEqual([lrs[0], lrs[25], lrs[50]]); // an epoch's lr is that of its first batch
  });

  for (const scheduler of ['onecycle', 'cosine'] as const) {
    it(`${scheduler}: the schedule is saved in checkpoints; an interrupted run resumes byte-identical`, async () => {
      const a = join(dir, `${scheduler}-a`, 'model.safetensors'), b = join(dir, `${scheduler}-b`, 'model.safetensors');
      const ckpt = join(dir, `${scheduler}-b`, 'model.checkpoint.safetensors');
      const common = { dataset: 'circles' as const, epochs: 4, scheduler, optimizer: 'momentum' as const, lr: 0.1 };
      const straight: number[] = [], resumed: number[] = [];
      await trainModel({ ...common, out: a }, { onProgress: (p) => straight.push(p.lr!) });
      const stop = new AbortController();
      const r1 = await trainModel({ ...common, out: b, signal: stop.signal }, {
        onProgress: (p) => { resumed.push(p.lr!); if (p.epoch === 3 && p.batch === 7) stop.abort(); },
      });
      expect(r1.interrupted).toEqual({ epoch: 3, batch: 7 });
      const state = JSON.parse(readSafetensors(ckpt).metadata['tapegrad.scheduler']);
      expect(state.lastEpoch).toBe(scheduler === 'onecycle' ? 2 * 25 + 7 : 2);
      await expect(trainModel({ resume: ckpt, epochs: 6 })).rejects.toThrow(/--epochs 6 \(the checkpoint has 4\)/);
      await expect(trainModel({ resume: ckpt, scheduler: 'step' })).rejects.toThrow(/--scheduler step \(the checkpoint has \w+\)/);
      await trainModel({ resume: ckpt }, { onProgress: (p) => resumed.push(p.lr!) });
      expect(resumed).toEqual(straight);
      expect(readFileSync(b).equals(readFileSync(a))).toBe(true);
      expect(JSON.parse(readSafetensors(b).metadata['tapegrad.train']).scheduler).toBe(scheduler);
    });
  }
});

describe('train --clip-grad-norm', () => {
  it('one full-batch SGD step moves the weights by lr · maxNorm; unclipped by lr · the logged norm', async () => {
    const r0 = await trainModel({ dataset: 'xor', epochs: 1, optimizer: 'sgd', lr: 0.5, out: null }); // xor: one batch of 4
    const init = flat(buildMlpSeeded(r0.arch));
    const norms: number[] = [];
    const r = await trainModel({ dataset: 'xor', epochs: 1, optimizer: 'sgd', lr: 0.5, clipGradNorm: 1e-3, out: null }, { onProgress: (b) => norms.push(b.gradNorm!) });
    expect(norms).toHaveLength(1);
    expect(norms[0]).toBeGreaterThan(0.01);
    expect(dist(flat(r.model), init) / (0.5 * 1e-3)).toBeCloseTo(1, 3);
    expect(dist(flat(r0.model), init) / (0.5 * norms[0])).toBeCloseTo(1, 3);
    await expect(trainModel({ dataset: 'xor', clipGradNorm: 0, out: null })).rejects.toThrow(/--clip-grad-norm must be a positive number, got 0/);
  });
});

/** The initial weights of a run with seed 0 (train seeds right before it builds the model). */
function buildMlpSeeded(arch: Parameters<typeof buildMlp>[0]): Sequential {
  manualSeed(0);
  return buildMlp(arch);
}

describe('train --dropout --batchnorm', () => {
  it('Linear → BatchNorm1d → act → Dropout per hidden layer, with PyTorch names', () => {
    const m = buildMlp({ inFeatures: 6, hidden: [5, 4], outFeatures: 3, activation: 'tanh', dropout: 0.25, batchnorm: true });
    expect([...m].map((l) => l.constructor.name)).toEqual(['Linear', 'BatchNorm1d', 'Tanh', 'Dropout', 'Linear', 'BatchNorm1d', 'Tanh', 'Dropout', 'Linear']);
    expect(Object.entries(m.stateDict()).map(([k, t]) => `${k} ${t.shape.join('x')}`)).toEqual([
      '0.weight 5x6', '0.bias 5', '1.weight 5', '1.bias 5', '1.running_mean 5', '1.running_var 5', '1.num_batches_tracked ',
      '4.weight 4x5', '4.bias 4', '5.weight 4', '5.bias 4', '5.running_mean 4', '5.running_var 4', '5.num_batches_tracked ', '8.weight 3x4', '8.bias 3',
    ]);
    expect(() => buildMlp({ inFeatures: 2, hidden: [3], outFeatures: 2, activation: 'relu', dropout: 1 })).toThrow(/dropout 1 \(must be a probability in \[0, 1\)\)/);
    // save() of the Sequential records the layers, so any tapegrad reader rebuilds them
    noGrad(() => m.forward(randn([10, 6]))); // running statistics away from 0 and 1
    const file = join(dir, 'seq-bn.safetensors');
    save(m, file);
    const back = readModel(file);
    expect(back.description).toBe('Linear(6, 5) BatchNorm1d Tanh Dropout Linear(5, 4) BatchNorm1d Tanh Dropout Linear(4, 3)');
    expect(back.model.stateDict()).toEqual(m.stateDict());
    m.eval();
    const x = randn([3, 6]);
    expect(Array.from(noGrad(() => back.model.forward(x)).data)).toEqual(Array.from(noGrad(() => m.forward(x)).data));
  });

  it('records both in the model file; readModel rebuilds them in eval mode (running statistics, no dropout) with the same accuracy', async () => {
    const out = join(dir, 'dbn', 'model.safetensors');
    const r = await trainModel({ dataset: 'circles', epochs: 5, dropout: 0.2, batchnorm: true, out });
    expect(r.testAccuracy).toBeGreaterThan(0.8);
    expect(JSON.parse(readSafetensors(out).metadata[META_ARCH])).toMatchObject({ hidden: [16], dropout: 0.2, batchnorm: true });
    const back = readModel(out);
    expect(back.description).toBe('2-16-2 relu batchnorm dropout 0.2');
    expect(back.model.training).toBe(false);
    const seen = back.model.stateDict()['1.num_batches_tracked'].item();
    expect(seen).toBe(5 * 25); // 800 training points, batches of 32
    expect(accuracy(back.model, r.split.xTest, r.split.yTest)).toBe(r.testAccuracy);
    // in train mode the same rows give other outputs (dropout masks, batch statistics)
    const x = randn([8, 2]);
    const evalOut = noGrad(() => back.model.forward(x)).data;
    back.model.train();
    expect(Array.from(noGrad(() => back.model.forward(x)).data)).not.toEqual(Array.from(evalOut));
  });

  it('an interrupted dropout run resumes byte-identical (the generator state is in the checkpoint)', async () => {
    const a = join(dir, 'drop-a', 'model.safetensors'), b = join(dir, 'drop-b', 'model.safetensors');
    const ckpt = join(dir, 'drop-b', 'model.checkpoint.safetensors');
    const common = { dataset: 'circles' as const, epochs: 3, dropout: 0.3, batchnorm: true };
    await trainModel({ ...common, out: a });
    const stop = new AbortController();
    const r1 = await trainModel({ ...common, out: b, signal: stop.signal }, { onProgress: (p) => { if (p.epoch === 2 && p.batch === 4) stop.abort(); } });
    expect(r1.interrupted).toEqual({ epoch: 2, batch: 4 });
    await expect(trainModel({ resume: ckpt, dropout: 0.5 })).rejects.toThrow(/--dropout 0.5 \(the checkpoint has 0.3\)/);
    await trainModel({ resume: ckpt });
    expect(readFileSync(b).equals(readFileSync(a))).toBe(true);
    await expect(trainModel({ dataset: 'xor', dropout: 1, out: null })).rejects.toThrow(/--dropout must be a probability in \[0, 1\), got 1/);
  });

  it('--batchnorm drops a last batch of one row (BatchNorm1d cannot train on it)', async () => {
    let batches = 0;
    const r = await trainModel({ dataset: 'circles', epochs: 1, batchSize: 799, batchnorm: true, out: null }, { onProgress: () => { batches++; } });
    expect(batches).toBe(1); // 800 training rows: 799 + 1
    expect(r.history.trainLoss).toHaveLength(1);
    await trainModel({ dataset: 'circles', epochs: 1, batchSize: 799, out: null }, { onProgress: () => { batches++; } });
    expect(batches).toBe(3); // without batchnorm the row is trained on
  });
});
