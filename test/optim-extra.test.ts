// RMSprop, Adagrad and Adam/AdamW (amsgrad) trajectories against PyTorch 1.13 float64
// (test/fixtures/torch_sched.json, gen_torch_sched.py), state dict round trips, option checks.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Tensor, tensor, optim, type DType } from '../lib/index.js';
import { expectClose, type Nested } from './helpers.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const sx: any = JSON.parse(readFileSync(new URL('./fixtures/torch_sched.json', import.meta.url), 'utf8'));
const pb = sx.problem;
const flatOf = (v: Nested): number[] => (Array.isArray(v) ? v.flatMap(flatOf) : [v]);
const w1 = flatOf(pb.w1), t1 = flatOf(pb.t1), w2 = flatOf(pb.w2), t2 = flatOf(pb.t2);

/** Sets the gradients of sum(w1 (p1 - t1)²) + sum(w2 (p2 - t2)²) + c·sum(p1)·sum(p2). */
function setGrads(p1: Tensor, p2: Tensor): void {
  const s1 = p1.data.reduce((a, b) => a + b, 0), s2 = p2.data.reduce((a, b) => a + b, 0);
  const g1 = Array.from(p1.data, (x, i) => 2 * w1[i] * (x - t1[i]) + pb.c * s2);
  const g2 = Array.from(p2.data, (x, i) => 2 * w2[i] * (x - t2[i]) + pb.c * s1);
  p1.grad = tensor(g1, { dtype: p1.dtype }).reshape(p1.shape);
  p2.grad = tensor(g2, { dtype: p2.dtype });
}

type Case = { name: string; optimizer: 'RMSprop' | 'Adagrad' | 'Adam' | 'AdamW'; options: Record<string, unknown>; groups: Record<string, unknown>[] | null; params: [number[], number[]][] };

function make(c: Case, p1: Tensor, p2: Tensor): optim.Optimizer {
  const Cls = optim[c.optimizer] as unknown as new (ps: unknown, o: unknown) => optim.Optimizer;
  return new Cls(c.groups ? c.groups.map((g, i) => ({ params: [[p1, p2][i]], ...g })) : [p1, p2], c.options);
}

function params(dtype: DType): [Tensor, Tensor] {
  return [tensor(pb.p1, { dtype }).requiresGrad_(), tensor(pb.p2, { dtype }).requiresGrad_()];
}

describe('optimizers match PyTorch 1.13 (float64 trajectories)', () => {
  for (const c of sx.optim as Case[]) {
    it(`${c.name}: ${c.optimizer} ${JSON.stringify(c.options)}${c.groups ? ` groups ${JSON.stringify(c.groups)}` : ''}`, () => {
      const [p1, p2] = params('float64');
      const opt = make(c, p1, p2);
      c.params.forEach(([r1, r2], k) => {
        setGrads(p1, p2);
        opt.step();
        expectClose(p1, r1, 1e-10, 1e-12, `${c.name} step ${k + 1} p1`);
        expectClose(p2, r2, 1e-10, 1e-12, `${c.name} step ${k + 1} p2`);
      });
    });
  }

  it('float32 parameters follow the float64 trajectories closely', () => {
    for (const c of sx.optim as Case[]) {
      const [p1, p2] = params('float32');
      const opt = make(c, p1, p2);
      for (let k = 0; k < c.params.length; k++) { setGrads(p1, p2); opt.step(); }
      const [r1, r2] = c.params[c.params.length - 1];
      expectClose(p1, r1, 1e-4, 1e-5, `${c.name} float32 p1`);
      expectClose(p2, r2, 1e-4, 1e-5, `${c.name} float32 p2`);
    }
  });

  it('a state dict taken mid-way resumes the same trajectory in a fresh optimizer', () => {
    for (const c of sx.optim as Case[]) {
      const [p1, p2] = params('float64');
      const opt = make(c, p1, p2);
      const half = c.params.length >> 1;
      for (let k = 0; k < half; k++) { setGrads(p1, p2); opt.step(); }
      const sd = opt.stateDict();
      const [q1, q2] = [p1.detach().clone().requiresGrad_(), p2.detach().clone().requiresGrad_()];
      const fresh = make({ ...c, options: {}, groups: c.groups && c.groups.map(() => ({})) }, q1, q2);
      fresh.loadStateDict(sd);
      for (let k = half; k < c.params.length; k++) { setGrads(q1, q2); fresh.step(); }
      const [r1, r2] = c.params[c.params.length - 1];
      expectClose(q1, r1, 1e-10, 1e-12, `${c.name} resumed p1`);
      expectClose(q2, r2, 1e-10, 1e-12, `${c.name} resumed p2`);
    }
  });
});

describe('optimizer state and options', () => {
  const p = (): Tensor => tensor([1, 2], { dtype: 'float64' }).requiresGrad_();

  it('keeps PyTorch state names', () => {
    const q = p();
    const opts: [optim.Optimizer, string[]][] = [
      [new optim.RMSprop([q], { momentum: 0.9, centered: true }), ['step', 'squareAvg', 'momentumBuffer', 'gradAvg']],
      [new optim.RMSprop([q]), ['step', 'squareAvg']],
      [new optim.Adagrad([q], { initialAccumulatorValue: 0.5 }), ['step', 'sum']],
      [new optim.Adam([q], { amsgrad: true }), ['step', 'expAvg', 'expAvgSq', 'maxExpAvgSq']],
      [new optim.AdamW([q], { amsgrad: true }), ['step', 'expAvg', 'expAvgSq', 'maxExpAvgSq']],
    ];
    for (const [opt, keys] of opts) {
      q.grad = tensor([0.5, -1], { dtype: 'float64' });
      opt.step();
      expect(Object.keys(opt.stateDict().state['0']).sort()).toEqual(keys.slice().sort());
    }
  });

  it('has PyTorch defaults and rejects unknown or invalid options with the name', () => {
    expect(new optim.RMSprop([p()]).paramGroups[0]).toMatchObject({ lr: 0.01, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false });
    expect(new optim.Adagrad([p()]).paramGroups[0]).toMatchObject({ lr: 0.01, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10 });
    expect(new optim.Adam([p()]).paramGroups[0].amsgrad).toBe(false);
    expect(() => new optim.RMSprop([p()], { weight_decay: 0.1 } as never)).toThrow(/RMSprop: unknown option 'weight_decay'/);
    expect(() => new optim.RMSprop([p()], { alpha: -1 })).toThrow(/RMSprop: invalid alpha -1/);
    expect(() => new optim.RMSprop([p()], { centered: 1 } as never)).toThrow(/RMSprop: invalid centered 1/);
    expect(() => new optim.Adagrad([p()], { lrDecay: -0.1 })).toThrow(/Adagrad: invalid lrDecay -0.1/);
    expect(() => new optim.Adagrad([p()], { initialAccumulatorValue: NaN })).toThrow(/Adagrad: invalid initialAccumulatorValue NaN/);
    expect(() => new optim.AdamW([p()], { amsgrad: 'yes' } as never)).toThrow(/AdamW: invalid amsgrad 'yes'|AdamW: invalid amsgrad yes/);
  });

  it('loadStateDict rejects a tensor of the wrong shape and leaves the state as it was', () => {
    const q = p();
    const opt = new optim.Adam([q], { amsgrad: true });
    q.grad = tensor([1, 1], { dtype: 'float64' });
    opt.step();
    const sd = opt.stateDict();
    sd.state['0'].maxExpAvgSq = tensor([1, 2, 3]);
    expect(() => opt.loadStateDict(sd)).toThrow(/'maxExpAvgSq' of parameter 0 has shape \[3\] but the parameter has shape \[2\]/);
    expect((opt.state.get(q)!.maxExpAvgSq as Tensor).shape).toEqual([2]);
  });
});
