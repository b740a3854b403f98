// Losses: every option combination against PyTorch 1.13 float64 references
// (test/fixtures/gen_torch_loss.py), gradchecks of the option paths, and one regression test per bug.
import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import * as tg from '../lib/index.js';
import { Tensor, tensor, nn, optim, type DType } from '../lib/index.js';
import { awayFromZero as az, expectClose, expectGradcheck, flat } from './helpers.js';

interface Case {
  name: string;
  fn: 'crossEntropy' | 'nllLoss' | 'mseLoss' | 'bceLoss' | 'bceWithLogitsLoss';
  input: string;
  target: string;
  opts: Record<string, string | number>;
  seed: string | null;
  shape: number[];
  value: number[];
  grad: { input: number[]; target?: number[] };
}
const nonFinite: Record<string, number> = { NaN, Infinity, '-Infinity': -Infinity };
const fx: { inputs: Record<string, { shape: number[]; data: number[]; labels?: boolean }>; cases: Case[] } = JSON.parse(
  readFileSync(new URL('./fixtures/torch_loss.json', import.meta.url), 'utf8'),
  (_k, v) => (typeof v === 'string' && v in nonFinite ? nonFinite[v] : v),
);

function input(name: string, dtype: DType, requiresGrad = false): Tensor {
  const { shape, data } = fx.inputs[name];
  return tensor(data, { shape, dtype, requiresGrad });
}

/** Close, with NaN and ±Infinity required exactly where PyTorch has them. */
function expectMatch(actual: Tensor | number[], expected: number[], rtol: number, atol: number, what: string): void {
  const a = flat(actual);
  expect(a.length, `${what} element count`).toBe(expected.length);
  const finite = expected.map((e) => Number.isFinite(e));
  for (let i = 0; i < a.length; i++) if (!finite[i]) expect(a[i], `${what} element ${i}`).toBe(expected[i]);
  expectClose(a.filter((_, i) => finite[i]), expected.filter((_, i) => finite[i]), rtol, atol, what);
}

const modules = { crossEntropy: nn.CrossEntropyLoss, nllLoss: nn.NLLLoss, mseLoss: nn.MSELoss, bceLoss: nn.BCELoss, bceWithLogitsLoss: nn.BCEWithLogitsLoss };

describe('losses match PyTorch 1.13 for every option combination', () => {
  for (const [dtype, rtol, atol] of [['float64', 1e-9, 1e-12], ['float32', 2e-5, 2e-6]] as [DType, number, number][]) {
    it(`${fx.cases.length} cases in ${dtype}: values and gradients, functional and module forms`, () => {
      fx.cases.forEach((c, ci) => {
        const x = input(c.input, dtype, true);
        const labels = fx.inputs[c.target].labels;
        // class labels as number[], Int32Array and a Tensor in turn
        const t = labels ? [fx.inputs[c.target].data, Int32Array.from(fx.inputs[c.target].data), input(c.target, dtype)][ci % 3]
          : input(c.target, dtype, c.grad.target !== undefined);
        const opts: Record<string, unknown> = { ...c.opts };
        for (const k of ['weight', 'posWeight']) if (k in opts) opts[k] = input(opts[k] as string, 'float32');
        const loss = (tg[c.fn] as (x: Tensor, t: unknown, o: unknown) => Tensor)(x, t, opts);
        expect(loss.shape, c.name).toEqual(c.shape);
        expectMatch(loss, c.value, rtol, atol, `${c.name}: value`);
        (c.seed ? loss.mul(input(c.seed, dtype)).sum() : loss).backward();
        expectMatch(x.grad!, c.grad.input, rtol, atol, `${c.name}: input gradient`);
        if (c.grad.target) expectMatch((t as Tensor).grad!, c.grad.target, rtol, atol, `${c.name}: target gradient`);
        const m = new modules[c.fn](opts as never).forward(x.detach(), t as never);
        expectMatch(m, c.value, rtol, atol, `${c.name}: module value`);
      });
    });
  }
});

describe('gradcheck of the loss options', () => {
  const w = tensor([0.5, 2, 1, 0.3]);
  const labels = [3, -100, 0, 2, 1];
  for (const reduction of ['none', 'mean', 'sum'] as const) {
    it(`crossEntropy: weight, ignoreIndex, labelSmoothing, reduction ${reduction}`, () => {
      expectGradcheck((x) => tg.crossEntropy(x, labels, { weight: w, labelSmoothing: 0.15, reduction }), [az([5, 4], 1)]);
      expectGradcheck((x) => tg.crossEntropy(x, [3, 1, 0, 2, 1], { ignoreIndex: 1, reduction }), [az([5, 4], 2)]);
    });
    it(`crossEntropy: probability targets (logits and target), weight, labelSmoothing, ${reduction}`, () => {
      const p = az([3, 4], 4).abs().detach().requiresGrad_();
      expectGradcheck((x, t) => tg.crossEntropy(x, t, { weight: w, labelSmoothing: 0.2, reduction }), [az([3, 4], 3), p]);
    });
    it(`nllLoss: weight, ignoreIndex, ${reduction}`, () => {
      expectGradcheck((x) => tg.nllLoss(x.logSoftmax(1), labels, { weight: w, reduction }), [az([5, 4], 5)]);
    });
    it(`bceLoss: weight, input and target, ${reduction}`, () => {
      const p = az([3, 4], 6).sigmoid().detach().requiresGrad_();
      expectGradcheck((x, y) => tg.bceLoss(x, y, { weight: w, reduction }), [p, az([3, 4], 7).abs().detach().requiresGrad_()]);
    });
    it(`bceWithLogitsLoss: weight, posWeight, input and target, ${reduction}`, () => {
      const y = tensor([[0, 1, 0.5, 1], [1, 0, 0.25, 0], [0, 0, 1, 1]]).requiresGrad_();
      expectGradcheck((x, t) => tg.bceWithLogitsLoss(x, t, { weight: w.reshape(1, 4), posWeight: tensor([3, 0.5, 1, 2]), reduction }), [az([3, 4], 8), y]);
      expectGradcheck((x, t) => tg.bceWithLogitsLoss(x, t, { reduction }), [az([3, 4], 9), y]);
    });
    it(`mseLoss: ${reduction}`, () => {
      expectGradcheck((a, b) => tg.mseLoss(a, b, { reduction }), [az([3, 2], 10), az([3, 2], 11)]);
    });
  }
  it('second derivatives of the BCE losses and of cross-entropy with options', () => {
    const y = tensor([[0, 1, 0.5], [1, 0, 0.25]]);
    const c = tensor([[1, -2, 0.5], [0.3, 1, -1]]);
    for (const f of [
      (x: Tensor) => tg.bceLoss(x.sigmoid(), y, { weight: tensor([1, 2, 0.5]) }),
      (x: Tensor) => tg.bceWithLogitsLoss(x, y, { posWeight: tensor([3, 0.5, 1]), reduction: 'sum' }),
      (x: Tensor) => tg.bceWithLogitsLoss(x, y),
      (x: Tensor) => tg.crossEntropy(x, [2, 0], { weight: tensor([1, 2, 0.5]), labelSmoothing: 0.1 }),
      (x: Tensor) => tg.crossEntropy(x, [2, 0], { reduction: 'sum' }),
      (x: Tensor) => tg.crossEntropy(x, y.softmax(1)),
    ]) {
      expectGradcheck((x) => tg.grad(f, [x])[0].mul(c).sum(), [az([2, 3], 31)]);
    }
  });
});

describe('regression tests (issue 10)', () => {
  it('bceWithLogitsLoss at a logit of exactly 0 has gradient (sigmoid(x) - y)/N', () => {
    const x = tg.zeros([4]).requiresGrad_();
    tg.bceWithLogitsLoss(x, tensor([0, 1, 0.5, 1])).backward();
    expectClose(x.grad!, [0.125, -0.125, 0, -0.125], 0, 1e-7);
    // and a zero-initialised logistic regression takes PyTorch's first step
    const w = tg.zeros([2]).requiresGrad_();
    tg.bceWithLogitsLoss(tensor([[1, 2], [3, -1]]).matmul(w), tensor([1, 0])).backward();
    expectClose(w.grad!, [(-0.5 + 1.5) / 2, (-1 - 0.5) / 2], 0, 1e-7);
  });

  it('BCELoss with a probability of exactly 0 or 1 gives finite values and gradients', () => {
    const p = tensor([0, 1, 1, 0, 0.5]).requiresGrad_();
    const loss = new nn.BCELoss().forward(p, tensor([0, 1, 0, 1, 1]));
    expectClose(loss, (100 + 100 + Math.LN2) / 5); // logs clamped at -100, as PyTorch
    loss.backward();
    // PyTorch: (x - y) / max(x(1-x), 1e-12) / N
    expectClose(p.grad!, [0, 0, 1e12 / 5, -1e12 / 5, -0.4], 1e-6, 0);
  });

  it('Sequential(Linear, Sigmoid) + BCELoss on unscaled inputs keeps finite weights', () => {
    tg.manualSeed(3);
    const model = new nn.Sequential(new nn.Linear(3, 1), new nn.Sigmoid());
    const x = tensor([[200, -150, 90], [-300, 120, 40], [50, 80, -260], [170, 10, 300]]);
    const y = tensor([[1], [0], [0], [1]]);
    const out = model.forward(x) as Tensor;
    expect(flat(out).some((v) => v === 0 || v === 1), 'the sigmoid saturates to exactly 0 or 1 in float32').toBe(true);
    const opt = new optim.SGD(model.parameters(), { lr: 0.01 });
    const lossFn = new nn.BCELoss();
    for (let step = 0; step < 5; step++) {
      opt.zeroGrad();
      const loss = lossFn.forward(model.forward(x) as Tensor, y);
      expect(Number.isFinite(loss.item()), `loss at step ${step}`).toBe(true);
      loss.backward();
      opt.step();
    }
    for (const [n, p] of model.namedParameters()) expect(flat(p).every(Number.isFinite), `${n} is finite`).toBe(true);
  });

  it('loss modules do not ignore options: weight, ignoreIndex, posWeight; unknown options are rejected', () => {
    const x = tensor([[1, 2, 0.5], [0.3, -1, 2], [0, 0, 1]]);
    const labels = [0, 2, 1];
    const plain = new nn.CrossEntropyLoss().forward(x, labels).item();
    const logp = flat(x.logSoftmax(1));
    const pick = [-logp[0], -logp[5], -logp[7]];
    const weighted = new nn.CrossEntropyLoss({ weight: tensor([2, 1, 3]) }).forward(x, labels).item();
    expectClose(weighted, (2 * pick[0] + 3 * pick[1] + 1 * pick[2]) / 6);
    expectClose(new nn.CrossEntropyLoss({ ignoreIndex: 2 }).forward(x, labels), (pick[0] + pick[2]) / 2);
    expect(weighted).not.toBeCloseTo(plain, 3);
    const z = tensor([[0.5, -1], [2, 0]]), t = tensor([[1, 0], [1, 1]]);
    const sp = (v: number) => Math.log1p(Math.exp(-v)); // -log σ(v)
    expectClose(new nn.BCEWithLogitsLoss({ posWeight: tensor([3, 1]) }).forward(z, t), (3 * sp(0.5) + (-1 + sp(-1)) + 3 * sp(2) + sp(0)) / 4);
    expect(() => new nn.MSELoss({ reductoin: 'sum' } as never)).toThrow("MSELoss: unknown option 'reductoin' (options: reduction)");
    expect(() => new nn.CrossEntropyLoss({ wieght: tensor([1]) } as never)).toThrow(/CrossEntropyLoss: unknown option 'wieght'/);
    expect(() => new nn.BCEWithLogitsLoss({ pos_weight: tensor([1]) } as never)).toThrow(/BCEWithLogitsLoss: unknown option 'pos_weight'/);
    expect(() => new nn.NLLLoss({ constructor: 1 } as never)).toThrow(/NLLLoss: unknown option 'constructor'/);
    expect(() => tg.crossEntropy(x, labels, { labelSmoothig: 0.1 } as never)).toThrow(/crossEntropy: unknown option 'labelSmoothig'/);
    expect(() => tg.mseLoss(x, x, { reduce: false } as never)).toThrow(/mseLoss: unknown option 'reduce'/);
    expect(() => tg.bceLoss(x.sigmoid(), x.sigmoid(), 'sum' as never)).toThrow(/bceLoss: options must be an object/);
  });

  it('mseLoss of empty tensors is NaN, and cross-entropy sum of an empty batch is 0', () => {
    expect(tg.mseLoss(tg.zeros([0]), tg.zeros([0])).item()).toBeNaN();
    expect(tg.mseLoss(tg.zeros([0, 3]), tg.zeros([0, 3]), { reduction: 'sum' }).item()).toBe(0);
    const e = tg.zeros([0, 4]).requiresGrad_();
    const s = tg.crossEntropy(e, [], { reduction: 'sum' });
    expect(s.item()).toBe(0);
    s.backward();
    expect(e.grad!.shape).toEqual([0, 4]);
    expect(tg.crossEntropy(e, []).item()).toBeNaN();
    expect(tg.nllLoss(e, [], { reduction: 'sum' }).item()).toBe(0);
    expect(tg.bceLoss(tg.zeros([0]), tg.zeros([0])).item()).toBeNaN();
    expect(tg.bceWithLogitsLoss(tg.zeros([0]), tg.zeros([0]), { reduction: 'sum' }).item()).toBe(0);
  });

  it('cross-entropy and nllLoss labels changed after the forward pass do not move the gradient', () => {
    const x0 = az([4, 3], 41);
    const run = (f: (x: Tensor, l: Int32Array) => Tensor, mutate: boolean) => {
      const x = x0.detach().requiresGrad_();
      const l = Int32Array.from([2, 0, 1, 1]);
      const loss = f(x, l);
      if (mutate) l.set([0, 1, 2, 0]);
      loss.backward();
      return flat(x.grad!);
    };
    for (const f of [
      (x: Tensor, l: Int32Array) => tg.crossEntropy(x, l), // the fused kernel
      (x: Tensor, l: Int32Array) => tg.crossEntropy(x, l, { weight: tensor([1, 2, 3]), labelSmoothing: 0.1 }),
      (x: Tensor, l: Int32Array) => tg.nllLoss(x.logSoftmax(1), l),
      (x: Tensor, l: Int32Array) => tg.grad((y: Tensor) => tg.crossEntropy(y, l), [x], { createGraph: true })[0].sum(),
    ]) {
      expect(run(f, true)).toEqual(run(f, false));
    }
  });

  it('cross-entropy reads each label once: a label flipped out of range after the check cannot reach the kernel', () => {
    // what another thread writing a shared array between the check and the kernel would do
    const flipping = (values: number[]) => {
      const reads = values.map(() => 0);
      const arr = { length: values.length, reads } as unknown as ArrayLike<number> & { reads: number[] };
      values.forEach((v, i) => Object.defineProperty(arr, i, { get: () => (reads[i]++ === 0 ? v : 1 << 28) }));
      return arr;
    };
    const x0 = az([3, 4], 42);
    const expected = tg.grad((x: Tensor) => tg.crossEntropy(x, [3, 0, 2]), [x0])[0];
    for (const opts of [{}, { weight: tensor([1, 2, 3, 4]) }, { reduction: 'none' as const }]) {
      const labels = flipping([3, 0, 2]);
      const x = x0.detach().requiresGrad_();
      const loss = tg.crossEntropy(x, labels, opts);
      loss.sum().backward();
      expect(labels.reads).toEqual([1, 1, 1]);
      if (!('weight' in opts)) expectClose(x.grad!, expected.mul(opts.reduction === 'none' ? 3 : 1));
    }
  });
});

describe('loss option errors', () => {
  const x = tensor([[1, 2, 0.5], [0.3, -1, 2]]);
  it('names the loss and the value at fault', () => {
    expect(() => tg.crossEntropy(x, [0, 1], { reduction: 'avg' as 'sum' })).toThrow("crossEntropy: reduction must be 'none', 'mean' or 'sum', got 'avg'");
    expect(() => tg.crossEntropy(x, [0, 1], { weight: tensor([1, 2]) })).toThrow('crossEntropy: weight must have shape [3] (one per class), got [2]');
    expect(() => tg.crossEntropy(x, [0, 1], { labelSmoothing: 1.5 })).toThrow('crossEntropy: invalid labelSmoothing 1.5 (must be a number in [0, 1])');
    expect(() => tg.crossEntropy(x, [0, 1], { ignoreIndex: 0.5 })).toThrow('crossEntropy: invalid ignoreIndex 0.5 (must be an integer)');
    expect(() => tg.crossEntropy(x, [0, -100], { ignoreIndex: -1 })).toThrow('crossEntropy: index -100 at position 1 is out of range [0, 3)');
    expect(() => tg.crossEntropy(x, x.softmax(1), { ignoreIndex: 1 })).toThrow('crossEntropy: ignoreIndex (1) is not supported with probability targets');
    expect(() => tg.crossEntropy(x, tg.zeros([2, 2]))).toThrow('crossEntropy: probability targets must have the input\'s shape [2, 3], got [2, 2]');
    expect(() => tg.crossEntropy(x, [0, 1], { weight: [1, 2, 3] as never })).toThrow('crossEntropy: weight must be a Tensor or null, got object');
    expect(() => tg.crossEntropy(x, [0, 1], { weight: tensor([1, 2, 3]).requiresGrad_() })).toThrow(/crossEntropy: weight must not require grad/);
    expect(() => tg.crossEntropy(x, null as never)).toThrow('crossEntropy: labels must be a 1-D array, typed array or Tensor of class indices');
    expect(() => tg.bceLoss(x.sigmoid(), x.sigmoid(), { weight: tensor([1, 2]) })).toThrow("bceLoss: weight [2] does not broadcast to the input's shape [2, 3]");
    expect(() => tg.bceWithLogitsLoss(x, x, { posWeight: tg.ones([4, 3]) })).toThrow("bceWithLogitsLoss: posWeight [4, 3] does not broadcast to the input's shape [2, 3]");
    expect(() => tg.oneHot([0, 1], 2.5)).toThrow('oneHot: classes must be a non-negative integer, got 2.5');
  });
  it('module options: weight and posWeight are buffers in the state dict; the repr shows the options', () => {
    const m = new nn.BCEWithLogitsLoss({ posWeight: tensor([2, 3]), reduction: 'sum' });
    expect(Object.keys(m.stateDict())).toEqual(['posWeight']);
    expect(m.parameters()).toHaveLength(0);
    m.loadStateDict({ posWeight: tensor([1, 1]) });
    expectClose(m.forward(tensor([0, 0]), tensor([1, 1])), 2 * Math.LN2);
    expect(String(new nn.CrossEntropyLoss({ ignoreIndex: 3, labelSmoothing: 0.1, weight: tensor([1, 1, 1, 1]) })))
      .toBe('CrossEntropyLoss(ignoreIndex=3, labelSmoothing=0.1)');
    expect(String(new nn.MSELoss({ reduction: 'none' }))).toBe("MSELoss(reduction='none')");
    expect(String(new nn.NLLLoss())).toBe('NLLLoss()');
  });
  it('options checked once per module still see a replaced buffer, a buffer set to require grad, and a caller\'s edited object', () => {
    const m = new nn.CrossEntropyLoss({ weight: tensor([1, 1]) });
    // row losses: -log softmax([0, 1])[0] = log(1 + e) and -log softmax([0, 0])[1] = ln 2; PyTorch's weighted mean
    const x = tensor([[0, 1], [0, 0]]), a = Math.log(1 + Math.E), b = Math.LN2;
    expectClose(m.forward(x, [0, 1]), (a + b) / 2);
    expectClose(m.forward(x, [0, 1]), (a + b) / 2); // the second call reuses the checked options
    m.loadStateDict({ weight: tensor([3, 1]) });
    expectClose(m.forward(x, [0, 1]), (3 * a + b) / 4);
    (m as unknown as { weight: Tensor }).weight = tensor([1, 3]);
    expectClose(m.forward(x, [0, 1]), (a + 3 * b) / 4);
    (m as unknown as { weight: Tensor }).weight.requiresGrad_();
    expect(() => m.forward(x, [0, 1])).toThrow(/weight must not require grad/);
    const o: { reduction: string } = { reduction: 'sum' };
    expectClose(tg.mseLoss(tensor([1, 2]), tensor([0, 0]), o as { reduction: 'sum' }), 5);
    o.reduction = 'wrong';
    expect(() => tg.mseLoss(tensor([1, 2]), tensor([0, 0]), o as { reduction: 'sum' })).toThrow(/reduction must be/);
  });
});
