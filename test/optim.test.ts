// optim: SGD / Adam / AdamW trajectories against PyTorch (test/fixtures/torch.json), state dicts, option checks.
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor, tensor, zeros, nn, optim } from '../lib/index.js';
import { expectClose, flat, fx, maxDiffSeen, type Nested } from './helpers.js';

afterAll(() => console.log(`optim fixtures: max |tapegrad - torch| = ${maxDiffSeen().toExponential(2)}`));

function freshMlp(): nn.Sequential {
  const m = new nn.Sequential(new nn.Linear(4, 5), new nn.ReLU(), new nn.Linear(5, 3));
  m.loadStateDict(Object.fromEntries(Object.entries(fx.mlp.params as Record<string, Nested>).map(([k, v]) => [k, tensor(v)])));
  return m;
}

const x = tensor(fx.mlp.x);
const labels: number[] = fx.mlp.labels;
const lossFn = new nn.CrossEntropyLoss();

/** steps × (zeroGrad, CE loss, backward, step); returns the losses. */
function run(model: nn.Module, opt: optim.Optimizer, steps: number): number[] {
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    opt.zeroGrad();
    const loss = lossFn.forward(model.forward(x), labels);
    loss.backward();
    losses.push(loss.item());
    opt.step();
  }
  return losses;
}

function checkRun(make: (ps: Tensor[]) => optim.Optimizer, ref: { losses: number[]; final: Record<string, Nested> }, name: string): void {
  const m = freshMlp();
  const losses = run(m, make(m.parameters()), 5);
  expectClose(losses, ref.losses, 1e-5, 1e-6, `${name} losses`);
  for (const [k, p] of m.namedParameters()) expectClose(p, ref.final[k], 1e-5, 1e-6, `${name} ${k}`);
}

describe('SGD matches PyTorch', () => {
  for (const name of ['plain', 'momentum', 'nesterov', 'dampening']) {
    it(name, () => {
      const ref = fx.sgd[name];
      checkRun((ps) => new optim.SGD(ps, ref.options), ref, `sgd.${name}`);
    });
  }
});

describe('Adam / AdamW match PyTorch', () => {
  for (const name of ['adam', 'adamL2', 'adamw']) {
    it(name, () => {
      const ref = fx.adam[name];
      const o = { lr: ref.options.lr, betas: ref.options.betas as [number, number], eps: ref.options.eps, weightDecay: ref.options.weightDecay };
      checkRun((ps) => (name === 'adamw' ? new optim.AdamW(ps, o) : new optim.Adam(ps, o)), ref, name);
    });
  }
});

describe('state dicts', () => {
  const makers: [string, (ps: Tensor[]) => optim.Optimizer][] = [
    ['SGD nesterov', (ps) => new optim.SGD(ps, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 })],
    ['Adam', (ps) => new optim.Adam(ps, { lr: 0.01, betas: [0.8, 0.95], weightDecay: 0.1 })],
    ['AdamW', (ps) => new optim.AdamW(ps, { lr: 0.01 })],
  ];
  for (const [name, make] of makers) {
    it(`${name}: 3 steps, save, new optimizer + load, 2 steps == 5 straight steps`, () => {
      const straight = freshMlp();
      const lossesStraight = run(straight, make(straight.parameters()), 5);

      const m = freshMlp();
      const first = make(m.parameters());
      const losses = run(m, first, 3);
      const modelState = Object.fromEntries(Object.entries(m.stateDict()).map(([k, t]) => [k, t.clone()]));
      const optState = JSON.parse(JSON.stringify(first.stateDict(), (_k, v) => (v instanceof Tensor ? { shape: v.shape, data: Array.from(v.data) } : v)),
        (_k, v) => (v && Array.isArray(v.shape) && Array.isArray(v.data) ? tensor(v.data, { shape: v.shape }) : v));
      run(m, first, 4); // keep using the old one: the saved copies must not change

      const resumed = freshMlp();
      resumed.loadStateDict(modelState);
      const second = make(resumed.parameters());
      second.loadStateDict(optState);
      losses.push(...run(resumed, second, 2));
      expect(losses).toEqual(lossesStraight);
      resumed.parameters().forEach((p, i) => expect(Array.from(p.data)).toEqual(Array.from(straight.parameters()[i].data)));
    });
  }

  it('stateDict layout: state by param index, hyperparameters per group', () => {
    const m = freshMlp();
    const opt = new optim.Adam(m.parameters(), { lr: 0.01 });
    run(m, opt, 2);
    const sd = opt.stateDict();
    expect(Object.keys(sd.state)).toEqual(['0', '1', '2', '3']);
    expect(sd.state['0'].step).toBe(2);
    expect((sd.state['0'].expAvg as Tensor).shape).toEqual([5, 4]);
    expect(sd.paramGroups).toEqual([{ lr: 0.01, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, params: [0, 1, 2, 3] }]);
    const sgd = new optim.SGD(m.parameters(), { lr: 0.1, momentum: 0.5 });
    run(m, sgd, 1);
    expect(Object.keys(sgd.stateDict().state['3'])).toEqual(['momentumBuffer']);
  });

  it('loadStateDict rejects mismatched groups and shapes', () => {
    const m = freshMlp();
    const opt = new optim.SGD(m.parameters(), { lr: 0.1, momentum: 0.9 });
    run(m, opt, 1);
    const sd = opt.stateDict();
    const other = new optim.SGD(m.parameters().slice(0, 2), { lr: 0.1, momentum: 0.9 });
    expect(() => other.loadStateDict(sd)).toThrow(/SGD\.loadStateDict: param group 0 has 4 params in the state dict but 2/);
    sd.state['0'].momentumBuffer = zeros([2, 2]);
    expect(() => opt.loadStateDict(sd)).toThrow(/'momentumBuffer' of parameter 0 has shape \[2, 2\] but the parameter has shape \[5, 4\]/);
  });
});

describe('Optimizer behaviour', () => {
  it('step skips params without grad; zeroGrad sets grads to null', () => {
    const a = tensor([1, 2], { requiresGrad: true }), b = tensor([3], { requiresGrad: true });
    const opt = new optim.SGD([a, b], { lr: 0.5 });
    a.grad = tensor([1, -1]);
    opt.step();
    expect(flat(a)).toEqual([0.5, 2.5]);
    expect(flat(b)).toEqual([3]);
    opt.zeroGrad();
    expect(a.grad).toBeNull();
  });

  it('lr is settable for schedulers; param groups carry their own options', () => {
    const a = tensor([1], { requiresGrad: true }), b = tensor([1], { requiresGrad: true });
    const opt = new optim.SGD([{ params: [a] }, { params: [b], lr: 0.1 }], { lr: 1 });
    expect(opt.paramGroups.map((g) => g.lr)).toEqual([1, 0.1]);
    a.grad = tensor([1]); b.grad = tensor([1]);
    opt.step();
    expect(flat(a)[0]).toBe(0);
    expectClose(b, [0.9]);
    opt.lr = 0.25;
    expect(opt.lr).toBe(0.25);
    expect(opt.paramGroups.map((g) => g.lr)).toEqual([0.25, 0.25]);
    expect(() => { opt.lr = -1; }).toThrow(/SGD: invalid lr -1/);
  });

  it('closure: step(closure) evaluates the loss and returns it', () => {
    const w = tensor([2], { requiresGrad: true });
    const opt = new optim.SGD([w], { lr: 0.25 });
    const loss = opt.step(() => { opt.zeroGrad(); const l = w.mul(w).sum(); l.backward(); return l; });
    expect((loss as Tensor).item()).toBe(4);
    expect(w.item()).toBe(1); // 2 - 0.25·4
  });

  it('bad options throw errors naming the optimizer and option', () => {
    const ps = [tensor([1], { requiresGrad: true })];
    expect(() => new optim.SGD(ps, { lr: -0.1 })).toThrow(/SGD: invalid lr -0\.1 \(must be a finite number >= 0\)/);
    expect(() => new optim.SGD(ps, { lr: NaN })).toThrow(/SGD: invalid lr NaN/);
    expect(() => new optim.SGD(ps, {} as { lr: number })).toThrow(/SGD: the learning rate is required/);
    expect(() => new optim.SGD(ps, { lr: 0.1, momentum: -1 })).toThrow(/SGD: invalid momentum -1/);
    expect(() => new optim.SGD(ps, { lr: 0.1, weightDecay: -1 })).toThrow(/SGD: invalid weightDecay -1/);
    expect(() => new optim.SGD(ps, { lr: 0.1, nesterov: true })).toThrow(/SGD: nesterov requires momentum > 0/);
    expect(() => new optim.SGD(ps, { lr: 0.1, nesterov: true, momentum: 0.9, dampening: 0.1 })).toThrow(/SGD: nesterov requires dampening = 0/);
    expect(() => new optim.SGD(ps, { lr: 0.1, weight_decay: 0.1 } as never)).toThrow(/SGD: unknown option 'weight_decay' \(options: lr, momentum, dampening, nesterov, weightDecay\)/);
    expect(() => new optim.Adam(ps, { betas: [1, 0.999] })).toThrow(/Adam: invalid betas\[0\] 1 \(must be in \[0, 1\)\)/);
    expect(() => new optim.Adam(ps, { eps: -1 })).toThrow(/Adam: invalid eps -1/);
    expect(() => new optim.AdamW(ps, { lr: -1 })).toThrow(/AdamW: invalid lr -1/);
    expect(() => new optim.AdamW(ps, { weight_decay: 0.1 } as never)).toThrow(/AdamW: unknown option 'weight_decay'/);
    expect(() => new optim.Adam([], {})).toThrow(/Adam: got an empty parameter list/);
    expect(() => new optim.Adam([ps[0], ps[0]])).toThrow(/appears more than once/);
    expect(() => new optim.Adam([ps[0].mul(2)])).toThrow(/Adam: can't optimize a non-leaf tensor/);
  });

  it('defaults: Adam lr 1e-3, AdamW weightDecay 1e-2', () => {
    const ps = [tensor([1], { requiresGrad: true })];
    expect(new optim.Adam(ps).paramGroups[0]).toMatchObject({ lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 });
    expect(new optim.AdamW(ps).paramGroups[0]).toMatchObject({ lr: 1e-3, weightDecay: 1e-2 });
  });
});
