// optim.lrScheduler: learning-rate (and OneCycle momentum) sequences against PyTorch 1.13
// (test/fixtures/torch_sched.json, gen_torch_sched.py), state dict round trips, checks.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tensor, zeros, optim, nn, saveCheckpoint, loadCheckpoint, io } from '../lib/index.js';
import { expectClose } from './helpers.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const sx: any = JSON.parse(readFileSync(new URL('./fixtures/torch_sched.json', import.meta.url), 'utf8'));
const S = optim.lrScheduler;
type Case = { name: string; scheduler: keyof typeof S; options: Record<string, unknown>; optimizer: 'SGD' | 'Adam'; lrs: number[][]; momentum?: number[][]; metrics?: number[] };

/** Two param groups (lr 0.1 and 0.05), as the generator builds them. */
function makeOpt(kind: 'SGD' | 'Adam'): optim.Optimizer {
  const groups = [{ params: [zeros([2]).requiresGrad_()] }, { params: [zeros([3]).requiresGrad_()], lr: 0.05 }];
  return kind === 'SGD' ? new optim.SGD(groups, { lr: 0.1, momentum: 0.9 }) : new optim.Adam(groups, { lr: 0.1, betas: [0.9, 0.999] });
}

function makeSched(c: Case, opt: optim.Optimizer): optim.LRScheduler {
  const Cls = S[c.scheduler] as unknown as new (o: optim.Optimizer, opts: unknown) => optim.LRScheduler;
  return new Cls(opt, c.options);
}

const moments = (opt: optim.Optimizer): number[] => opt.paramGroups.map((g) => {
  const h = g as unknown as { betas?: number[]; momentum: number };
  return h.betas ? h.betas[0] : h.momentum;
});

/** JSON as a checkpoint stores it (Infinity kept). */
const viaJson = <T>(v: T): T => JSON.parse(JSON.stringify(v, (_k, x) => (x === Infinity ? 'Inf' : x === -Infinity ? '-Inf' : x)), (_k, x) => (x === 'Inf' ? Infinity : x === '-Inf' ? -Infinity : x));

function check(c: Case, opt: optim.Optimizer, sched: optim.LRScheduler, k: number): void {
  expectClose(opt.paramGroups.map((g) => g.lr), c.lrs[k], 1e-12, 1e-15, `${c.name} lr after ${k} steps`);
  expectClose(sched.getLastLr(), c.lrs[k], 1e-12, 1e-15, `${c.name} getLastLr after ${k} steps`);
  expect(opt.lr).toBe(opt.paramGroups[0].lr);
  if (c.momentum) expectClose(moments(opt), c.momentum[k], 1e-12, 1e-15, `${c.name} momentum after ${k} steps`);
}

const stepOf = (c: Case, s: optim.LRScheduler, k: number): void => (c.metrics ? s.step(c.metrics[k]) : s.step());

describe('schedulers match PyTorch 1.13', () => {
  for (const c of sx.sched as Case[]) {
    it(`${c.name}: ${c.scheduler} ${JSON.stringify(c.options)} on ${c.optimizer}`, () => {
      const opt = makeOpt(c.optimizer);
      const sched = makeSched(c, opt);
      expect(sched.needsMetric).toBe(c.scheduler === 'ReduceLROnPlateau');
      expect(sched.perBatch).toBe(c.scheduler === 'OneCycleLR');
      check(c, opt, sched, 0);
      for (let k = 1; k < c.lrs.length; k++) {
        stepOf(c, sched, k - 1);
        check(c, opt, sched, k);
      }
    });
  }

  it('a state dict taken mid-way (through JSON) resumes the same sequence with a fresh optimizer and scheduler', () => {
    for (const c of sx.sched as Case[]) {
      const opt = makeOpt(c.optimizer);
      const sched = makeSched(c, opt);
      const half = c.lrs.length >> 1;
      for (let k = 1; k <= half; k++) stepOf(c, sched, k - 1);
      const osd = viaJson(opt.stateDict()), ssd = viaJson(sched.stateDict());
      const opt2 = makeOpt(c.optimizer);
      const sched2 = makeSched(c, opt2);
      opt2.loadStateDict(osd);
      sched2.loadStateDict(ssd);
      check(c, opt2, sched2, half);
      for (let k = half + 1; k < c.lrs.length; k++) {
        stepOf(c, sched2, k - 1);
        check(c, opt2, sched2, k);
      }
    }
  });
});

describe('scheduler checks', () => {
  const sgd = (): optim.SGD => new optim.SGD([zeros([2]).requiresGrad_()], { lr: 0.1 });

  it('rejects unknown, missing and invalid options with the scheduler name', () => {
    expect(() => new S.StepLR(sgd(), { step_size: 2 } as never)).toThrow(/StepLR: unknown option 'step_size'/);
    expect(() => new S.StepLR(sgd(), {} as never)).toThrow(/StepLR: option 'stepSize' is required/);
    expect(() => new S.StepLR(sgd(), { stepSize: 0 })).toThrow(/StepLR: invalid stepSize 0 \(must be a positive integer\)/);
    expect(() => new S.CosineAnnealingLR(sgd(), { tMax: 2.5 })).toThrow(/CosineAnnealingLR: invalid tMax 2.5/);
    expect(() => new S.MultiStepLR(sgd(), { milestones: [1, 'x'] } as never)).toThrow(/MultiStepLR: milestones must be an array of integers/);
    expect(() => new S.LinearLR(sgd(), { startFactor: 1.5 })).toThrow(/LinearLR: invalid startFactor 1.5/);
    expect(() => new S.OneCycleLR(sgd(), { maxLr: 1 })).toThrow(/OneCycleLR: give either totalSteps or \(epochs and stepsPerEpoch\)/);
    expect(() => new S.OneCycleLR(sgd(), { maxLr: [1, 2], totalSteps: 5 })).toThrow(/OneCycleLR: expected 1 values for maxLr/);
    expect(() => new S.OneCycleLR(sgd(), { maxLr: 1, totalSteps: 5, annealStrategy: 'exp' as never })).toThrow(/annealStrategy must be 'cos' or 'linear'/);
    expect(() => new S.OneCycleLR(new optim.Adagrad([zeros([1]).requiresGrad_()]), { maxLr: 1, totalSteps: 5 })).toThrow(/OneCycleLR: cycleMomentum needs an optimizer with momentum or betas/);
    expect(() => new S.ReduceLROnPlateau(sgd(), { factor: 1 })).toThrow(/ReduceLROnPlateau: invalid factor 1/);
    expect(() => new S.ReduceLROnPlateau(sgd(), { mode: 'avg' as never })).toThrow(/mode must be 'min' or 'max'/);
    expect(() => new S.StepLR({} as never, { stepSize: 1 })).toThrow(/StepLR: expected an optimizer/);
    expect(() => new S.OneCycleLR(null as never, { maxLr: 1, totalSteps: 2 })).toThrow(/OneCycleLR: expected an optimizer \(e.g. new optim.SGD\(...\)\), got null/);
  });

  it('step() takes a metric exactly when needsMetric says so', () => {
    expect(() => new S.ReduceLROnPlateau(sgd()).step()).toThrow(/ReduceLROnPlateau.step: needs the monitored metric/);
    expect(() => new S.ReduceLROnPlateau(sgd()).step(NaN)).toThrow(/needs the monitored metric/);
    const r = new S.ReduceLROnPlateau(sgd(), { patience: 0 });
    r.step(tensor(2));
    r.step(tensor([3]));
    expect(r.getLastLr()).toEqual([0.010000000000000002]);
    expect(() => new S.StepLR(sgd(), { stepSize: 1 }).step(0.5)).toThrow(/StepLR.step: takes no metric/);
  });

  it('OneCycleLR refuses to step past totalSteps', () => {
    const s = new S.OneCycleLR(sgd(), { maxLr: 1, totalSteps: 3, cycleMomentum: false });
    for (let i = 0; i < 3; i++) s.step();
    expect(() => s.step()).toThrow(/OneCycleLR.step: tried to step 5 times; the schedule has totalSteps = 3/);
  });

  it('loadStateDict validates keys, kinds and per-group lengths before changing anything', () => {
    const s = new S.StepLR(sgd(), { stepSize: 2, gamma: 0.5 });
    const before = s.stateDict();
    expect(Object.keys(before).sort()).toEqual(['baseLrs', 'gamma', 'lastEpoch', 'lastLr', 'stepCount', 'stepSize']);
    expect(() => s.loadStateDict({ ...before, extra: 1 })).toThrow(/StepLR.loadStateDict: unknown key 'extra'/);
    const { gamma: _g, ...noGamma } = before;
    expect(() => s.loadStateDict(noGamma)).toThrow(/the state dict lacks 'gamma'/);
    expect(() => s.loadStateDict({ ...before, lastEpoch: '3' })).toThrow(/invalid 'lastEpoch' "3" \(must be a number\)/);
    expect(() => s.loadStateDict({ ...before, baseLrs: [0.1, 0.2] })).toThrow(/invalid 'baseLrs' \[0.1,0.2\] \(must be 1 finite numbers, one per param group\)/);
    expect(() => s.loadStateDict(null as never)).toThrow(/expected an object/);
    expect(() => s.loadStateDict({ ...before, lastEpoch: 1.5 })).toThrow(/invalid 'lastEpoch' 1.5 \(must be an integer >= -1\)/);
    expect(() => s.loadStateDict({ ...before, stepSize: 0 })).toThrow(/invalid 'stepSize' 0 \(must be an integer >= 1\)/);
    const plateau = new S.ReduceLROnPlateau(sgd());
    expect(() => plateau.loadStateDict({ ...plateau.stateDict(), mode: 'avg' })).toThrow(/ReduceLROnPlateau.loadStateDict: invalid 'mode' "avg" \(must be one of min, max\)/);
    expect(s.stateDict()).toEqual(before);
    const p = new S.ReduceLROnPlateau(sgd());
    expect(p.stateDict().best).toBe(Infinity);
  });
});

describe('schedulers in checkpoints', () => {
  it('saveCheckpoint stores the scheduler state and loadCheckpoint restores it (Infinity included), all or nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapegrad-sched-'));
    try {
      const file = join(dir, 'ck.safetensors');
      const model = new nn.Linear(2, 1);
      const opt = new optim.SGD(model.parameters(), { lr: 0.1 });
      const plateau = new S.ReduceLROnPlateau(opt, { mode: 'max', patience: 0 });
      plateau.step(1);
      plateau.step(0.5);
      saveCheckpoint(file, { model, optimizer: opt, scheduler: plateau });
      expect(io.readSafetensors(file).metadata['tapegrad.scheduler']).toBeDefined();

      const model2 = new nn.Linear(2, 1);
      const opt2 = new optim.SGD(model2.parameters(), { lr: 0.1 });
      const plateau2 = new S.ReduceLROnPlateau(opt2, { mode: 'max', patience: 0 });
      loadCheckpoint(file, { model: model2, optimizer: opt2, scheduler: plateau2 });
      expect(plateau2.stateDict()).toEqual(plateau.stateDict());
      expect(opt2.lr).toBeCloseTo(0.01, 15);
      // a fresh scheduler's state: -Infinity survives the file too
      saveCheckpoint(file, { model, scheduler: new S.ReduceLROnPlateau(opt, { mode: 'max' }) });
      loadCheckpoint(file, { model: model2, scheduler: plateau2 });
      expect(plateau2.best).toBe(-Infinity);

      // a scheduler of another kind rejects the state: model and optimizer keep their values
      saveCheckpoint(file, { model, optimizer: opt, scheduler: plateau });
      const model3 = new nn.Linear(2, 1);
      const before = Array.from(model3.parameters()[0].data);
      const opt3 = new optim.SGD(model3.parameters(), { lr: 0.3 });
      const step3 = new S.StepLR(opt3, { stepSize: 2 });
      expect(() => loadCheckpoint(file, { model: model3, optimizer: opt3, scheduler: step3 })).toThrow(/loadCheckpoint .*StepLR.loadStateDict: unknown key/);
      expect(Array.from(model3.parameters()[0].data)).toEqual(before);
      expect(opt3.lr).toBe(0.3);

      saveCheckpoint(file, { model });
      expect(() => loadCheckpoint(file, { model: model3, scheduler: step3 })).toThrow(/the checkpoint has no scheduler state/);
      expect(loadCheckpoint(file, { model: model3 })).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
