// Issue 11's layers, activations and losses beyond the PyTorch fixtures (test/blocks.test.ts):
// gradchecks (float64, first and second order), Dropout's statistics and seeding, ModuleList and
// ModuleDict registration, option and shape errors, and safetensors' I64 narrowing.
import { describe, it, expect } from 'vitest';
import * as tg from '../lib/index.js';
import { Tensor, tensor, nn, manualSeed, decodeSafetensors } from '../lib/index.js';
import { RandomGenerator } from '../lib/random.js';

const { functionalCall } = nn;
import { awayFromZero as az, expectClose, expectGradcheck, flat } from './helpers.js';

/** x ↦ cᵀ·∇(cᵀf)(x): its gradcheck checks the second derivatives. */
const secondOrder = (f: (x: Tensor) => Tensor, c: Tensor) => (x: Tensor): Tensor => {
  const k = c.detach();
  return tg.grad((u) => f(u).mul(k).sum(), [x])[0].mul(k).sum();
};

describe('gradcheck (float64) of the activations and erf, first and second order', () => {
  const fns: [string, (x: Tensor) => Tensor][] = [
    ['erf', (x) => tg.erf(x)],
    ['leakyRelu', (x) => tg.leakyRelu(x, 0.2)],
    ['gelu', (x) => tg.gelu(x)],
    ['gelu tanh', (x) => tg.gelu(x, { approximate: 'tanh' })],
    ['elu', (x) => tg.elu(x, 0.7)],
    ['silu', (x) => tg.silu(x)],
    ['softplus', (x) => tg.softplus(x)],
    ['softplus beta 2 threshold 1.2 (inputs on both sides of the threshold)', (x) => tg.softplus(x, { beta: 2, threshold: 1.2 })],
    ['mish', (x) => tg.mish(x)],
  ];
  for (const [name, f] of fns) {
    it(name, () => {
      const x = az([3, 5], 11, 0.2, 2.5);
      expectGradcheck(f, [x]);
      expectGradcheck(secondOrder(f, az([3, 5], 12)), [x]);
    });
  }
  it('the derivatives at exactly 0 are PyTorch\'s: leakyRelu slope, elu alpha, softplus and gelu 1/2, silu 1/2, mish 0.6', () => {
    const at0 = (f: (x: Tensor) => Tensor): number => tg.grad((x) => f(x).sum(), [tg.zeros([1])])[0].item();
    expect(at0((x) => tg.leakyRelu(x, 0.2))).toBeCloseTo(0.2, 7);
    expect(at0((x) => tg.elu(x, 0.7))).toBeCloseTo(0.7, 7);
    expect(at0((x) => tg.softplus(x))).toBeCloseTo(0.5, 7);
    expect(at0((x) => tg.softplus(x, { beta: 3 }))).toBeCloseTo(0.5, 7);
    expect(at0((x) => tg.gelu(x))).toBeCloseTo(0.5, 7);
    expect(at0((x) => tg.silu(x))).toBeCloseTo(0.5, 7);
    expect(at0((x) => tg.mish(x))).toBeCloseTo(Math.tanh(Math.LN2), 7);
  });
  it('softplus and elu stay finite and exact far out (no overflow of exp), NaN propagates', () => {
    const x = tensor([-1000, -100, 100, 1000, NaN], { dtype: 'float64' });
    expect(flat(tg.softplus(x)).slice(0, 4)).toEqual([0, Math.exp(-100), 100, 1000]);
    expect(flat(tg.softplus(x, { threshold: 2000 }))[3]).toBe(1000);
    expect(flat(tg.elu(x)).slice(0, 4)).toEqual([-1, -1, 100, 1000]);
    expect(flat(tg.mish(x)).slice(2, 4)).toEqual([100, 1000]);
    for (const f of [tg.softplus, tg.elu, tg.gelu, tg.silu, tg.mish, tg.leakyRelu, tg.erf]) expect(flat((f as (t: Tensor) => Tensor)(x))[4]).toBeNaN();
  });
  it('softplus and mish keep their relative precision for any x (float32 and float64)', () => {
    for (const [dtype, tol] of [['float32', 5e-7], ['float64', 2e-15]] as const) {
      const x = tg.arange(-80, 30, 0.01, { dtype });
      const sp = tg.softplus(x), mi = tg.mish(x);
      for (let i = 0; i < x.size; i++) {
        const v = x.data[i], ref = Math.log1p(Math.exp(v));
        expect(Math.abs(sp.data[i] - (v > 20 ? v : ref)) / ref, `softplus(${v}) in ${dtype}`).toBeLessThan(tol);
        expect(Math.abs(mi.data[i] - v * Math.tanh(ref)) / Math.abs(v * Math.tanh(ref) || 1), `mish(${v}) in ${dtype}`).toBeLessThan(2 * tol);
      }
    }
  });
  it('erf matches known values to the last digit', () => {
    expectClose(tg.erf(tensor([0, 0.5, 1, -2, 3, 6.5], { dtype: 'float64' })), [0, 0.5204998778130465, 0.8427007929497149, -0.9953222650189527, 0.9999779095030014, 1], 2e-16, 0);
  });
});

describe('gradcheck (float64) of the new losses, input and target, every reduction', () => {
  for (const reduction of ['none', 'mean', 'sum'] as const) {
    it(`l1Loss, smoothL1Loss (beta 0.7), huberLoss (delta 0.4): ${reduction}`, () => {
      const a = az([4, 3], 21, 0.05, 2), b = az([4, 3], 22, 0.05, 2);
      expectGradcheck((x, y) => tg.l1Loss(x, y, { reduction }), [a, b]);
      expectGradcheck((x, y) => tg.smoothL1Loss(x, y, { reduction, beta: 0.7 }), [a, b]);
      expectGradcheck((x, y) => tg.huberLoss(x, y, { reduction, delta: 0.4 }), [a, b]);
      expectGradcheck(secondOrder((x) => tg.huberLoss(x, b.detach(), { reduction, delta: 0.4 }), az([4, 3], 23)), [a]);
    });
  }
  for (const reduction of ['none', 'mean', 'sum', 'batchmean'] as const) {
    it(`klDiv: ${reduction}, probability and log targets`, () => {
      const logp = az([3, 4], 24).logSoftmax(1).detach().requiresGrad_();
      const q = az([3, 4], 25).softmax(1).detach().requiresGrad_();
      expectGradcheck((x, t) => tg.klDiv(x, t, { reduction }), [logp, q]);
      expectGradcheck((x, t) => tg.klDiv(x, t, { reduction, logTarget: true }), [logp, q.log().detach().requiresGrad_()]);
    });
  }
  it('klDiv: a target of 0 adds exactly 0 (xlogy), batchmean divides by the batch size only', () => {
    const x = tensor([[-1, -2], [-0.5, -3]]), t = tensor([[0, 1], [0.25, 0.75]]);
    const per = [0, -(-2), 0.25 * (Math.log(0.25) + 0.5), 0.75 * (Math.log(0.75) + 3)];
    expectClose(tg.klDiv(x, t, { reduction: 'none' }), per, 1e-6, 1e-7);
    expectClose(tg.klDiv(x, t, { reduction: 'batchmean' }), (per[0] + per[1] + per[2] + per[3]) / 2, 1e-6, 1e-7);
    expectClose(tg.klDiv(x, t), (per[0] + per[1] + per[2] + per[3]) / 4, 1e-6, 1e-7);
  });
});

describe('gradcheck (float64) of LayerNorm, BatchNorm1d and Embedding', () => {
  it('layerNorm over the last one and two dims, with weight and bias', () => {
    expectGradcheck((x, w, b) => tg.layerNorm(x, [4], { weight: w, bias: b }), [az([3, 4], 31), az([4], 32), az([4], 33)]);
    expectGradcheck((x, w, b) => tg.layerNorm(x, [2, 4], { weight: w, bias: b, eps: 0.01 }), [az([3, 2, 4], 34), az([2, 4], 35), az([2, 4], 36)]);
    expectGradcheck(secondOrder((x) => tg.layerNorm(x, [4]), az([3, 4], 37)), [az([3, 4], 38)]);
  });
  it('batchNorm in training ([N, C] and [N, C, L]) and with running statistics', () => {
    expectGradcheck((x, w, b) => tg.batchNorm(x, null, null, { weight: w, bias: b, training: true }), [az([5, 3], 41), az([3], 42), az([3], 43)]);
    expectGradcheck((x, w, b) => tg.batchNorm(x, null, null, { weight: w, bias: b, training: true }), [az([4, 3, 2], 44), az([3], 45), az([3], 46)]);
    const rm = tensor([0.1, -0.2, 0.3], { dtype: 'float64' }), rv = tensor([0.5, 1.5, 2], { dtype: 'float64' });
    expectGradcheck((x, w, b) => tg.batchNorm(x, rm, rv, { weight: w, bias: b }), [az([4, 3, 2], 47), az([3], 48), az([3], 49)]);
    expectGradcheck(secondOrder((x) => tg.batchNorm(x, null, null, { training: true }), az([5, 3], 50)), [az([5, 3], 51)]);
  });
  const f64 = (t: Tensor, grad = false): Tensor => new Tensor(Float64Array.from(t.data), t.shape).requiresGrad_(grad);
  /** w ↦ dᵀ·∇ₓ(cᵀf(x, w)): its gradcheck checks the mixed second derivatives in x and the weight. */
  const mixed = (f: (x: Tensor, w: Tensor) => Tensor, x: Tensor, c: Tensor) => (w: Tensor): Tensor =>
    tg.grad((u) => f(u, w).mul(c.detach()).sum(), [x])[0].mul(c.detach()).sum();
  it('second order through the weight and bias too (the createGraph gradients are built from ops)', () => {
    const x2 = az([5, 3], 60), x3 = f64(az([4, 3, 2], 61)), w = az([3], 62), b = f64(az([3], 63));
    expectGradcheck(mixed((u, v) => tg.batchNorm(u, null, null, { weight: v, bias: b, training: true }), f64(x3, true), az([4, 3, 2], 64)), [w]);
    expectGradcheck(secondOrder((v) => tg.batchNorm(v, null, null, { weight: f64(w), bias: b, training: true }), az([5, 3], 65)), [x2]);
    const lw = az([2, 4], 66), lb = f64(az([2, 4], 67)), lx = az([3, 2, 4], 68), lx64 = f64(lx);
    expectGradcheck(mixed((u, v) => tg.layerNorm(u, [2, 4], { weight: v, bias: lb }), f64(lx64, true), az([3, 2, 4], 69)), [lw]);
    const w4 = f64(az([4], 75)), b4 = f64(az([4], 76));
    expectGradcheck(secondOrder((v) => tg.layerNorm(v, [4], { weight: w4, bias: b4 }), az([3, 2, 4], 70)), [lx]);
  });
  it('the backward kernels and the createGraph gradients agree (float64)', () => {
    const cases: [string, (x: Tensor, w: Tensor, b: Tensor) => Tensor, number[], number[]][] = [
      ['batchNorm [N, C, L]', (x, w, b) => tg.batchNorm(x, null, null, { weight: w, bias: b, training: true }), [4, 3, 5], [3]],
      ['layerNorm', (x, w, b) => tg.layerNorm(x, [2, 5], { weight: w, bias: b }), [3, 2, 5], [2, 5]],
    ];
    for (const [name, f, xs, ws] of cases) {
      const inputs = [f64(az(xs, 71), true), f64(az(ws, 72), true), f64(az(ws, 73), true)], c = f64(az(xs, 74));
      const plain = tg.grad((x, w, b) => f(x, w, b).mul(c).sum(), inputs, { createGraph: false });
      const graph = tg.grad((x, w, b) => f(x, w, b).mul(c).sum(), inputs, { createGraph: true });
      plain.forEach((g, i) => expectClose(graph[i], flat(g), 1e-10, 1e-12, `${name}: input ${i}`));
    }
  });
  it('the BatchNorm1d and LayerNorm modules through functionalCall (weights as float64 inputs)', () => {
    const bn = new nn.BatchNorm1d(3, { trackRunningStats: false });
    expectGradcheck((x, w, b) => functionalCall(bn, { weight: w, bias: b }, x), [az([6, 3], 52), az([3], 53), az([3], 54)]);
    const ln = new nn.LayerNorm([3]);
    expectGradcheck((x, w, b) => functionalCall(ln, { weight: w, bias: b }, x), [az([2, 3], 55), az([3], 56), az([3], 57)]);
  });
  it('Embedding: the weight gradient is the scattered output gradient', () => {
    const emb = new nn.Embedding(5, 2);
    expectGradcheck((w) => functionalCall(emb, { weight: w }, [[4, 0, 4], [2, 2, 1]]), [az([5, 2], 58)]);
  });
});

describe('BatchNorm1d and Embedding details', () => {
  it('BatchNorm1d: state dict keys and dtypes, cumulative average with momentum null, eval uses the running statistics', () => {
    const bn = new nn.BatchNorm1d(2, { momentum: null });
    const sd = bn.stateDict();
    expect(Object.keys(sd)).toEqual(['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
    expect(sd.num_batches_tracked.shape).toEqual([]);
    expect(bn.parameters()).toEqual([bn.weight, bn.bias]);
    const batches = [tensor([[1, 2], [3, 6]]), tensor([[0, 0], [2, 2]]), tensor([[5, -1], [7, 1]])];
    for (const b of batches) bn.forward(b);
    // cumulative average: the plain mean of the batch means and of the unbiased batch variances
    expectClose(bn.runningMean!, [(2 + 1 + 6) / 3, (4 + 1 + 0) / 3]);
    expectClose(bn.runningVar!, [(2 + 2 + 2) / 3, (8 + 2 + 2) / 3]);
    expect(bn.numBatchesTracked!.item()).toBe(3);
    bn.eval();
    const y = bn.forward(tensor([[3, 5 / 3]]));
    expectClose(y, [0, 0], 0, 1e-6); // the running mean maps to 0 in eval, whatever the batch
    expect(bn.numBatchesTracked!.item()).toBe(3);
    bn.resetRunningStats();
    expect([...bn.runningMean!.data, ...bn.runningVar!.data, bn.numBatchesTracked!.item()]).toEqual([0, 0, 1, 1, 0]);
  });
  it('BatchNorm1d without affine or running statistics registers no such tensors', () => {
    expect(Object.keys(new nn.BatchNorm1d(3, { affine: false }).stateDict())).toEqual(['running_mean', 'running_var', 'num_batches_tracked']);
    const m = new nn.BatchNorm1d(3, { trackRunningStats: false });
    expect(Object.keys(m.stateDict())).toEqual(['weight', 'bias']);
    m.eval(); // no running statistics: eval normalizes with the batch's
    expectClose(m.forward(tensor([[1, 2, 3], [3, 2, 1]])), [[-1, 0, 1], [1, 0, -1]], 1e-4, 1e-5);
  });
  it('Embedding: plain arrays, typed arrays and index tensors of any shape; paddingIdx row starts at 0', () => {
    manualSeed(5);
    const emb = new nn.Embedding(4, 3, { paddingIdx: 0 });
    expect(flat(emb.weight).slice(0, 3)).toEqual([0, 0, 0]);
    const w = emb.weight.toArray() as number[][];
    expect(emb.forward([1, 3, 1]).toArray()).toEqual([w[1], w[3], w[1]]);
    expect(emb.forward(Int32Array.from([2])).toArray()).toEqual([w[2]]);
    expect(emb.forward(tensor([[2, 0]])).shape).toEqual([1, 2, 3]);
    expect(emb.forward(3).toArray()).toEqual(w[3]);
    const y = emb.forward([[0, 2], [0, 0]]);
    y.sum().backward();
    expect(flat(emb.weight.grad!)).toEqual([0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0]);
  });
});

describe('Dropout', () => {
  it('zeroes a fraction p of a large tensor, scales the rest by exactly 1/(1-p); the gradient has the same pattern', () => {
    manualSeed(1);
    const n = 200_000, p = 0.3;
    const x = tg.ones([n]).requiresGrad_();
    const y = new nn.Dropout(p).forward(x);
    const scale = Math.fround(1 / (1 - p));
    let zeros = 0;
    for (const v of y.data) {
      if (v === 0) zeros++;
      else expect(v).toBe(scale);
    }
    // binomial: mean n·p, standard deviation √(n·p(1-p)) ≈ 205; allow 5 of them
    expect(Math.abs(zeros - n * p)).toBeLessThan(5 * Math.sqrt(n * p * (1 - p)));
    expect(Math.abs(y.mean().item() - 1)).toBeLessThan(0.01);
    y.sum().backward();
    expect(x.grad!.data).toEqual(y.data);
  });
  it('is the identity in eval(), and for p = 0; p = 1 zeroes everything', () => {
    const x = tg.randn([3, 4]);
    const d = new nn.Dropout(0.5).eval();
    expect(d.forward(x)).toBe(x);
    expect(tg.dropout(x, 0.5, false)).toBe(x);
    expect(new nn.Dropout(0).forward(x)).toBe(x);
    expect(flat(new nn.Dropout(1).forward(x)).every((v) => v === 0)).toBe(true);
    const model = new nn.Sequential(new nn.Linear(4, 4), new nn.Dropout(0.9));
    model.eval();
    expect(model.forward(x).data).toEqual(model.at(0).forward(x).data);
  });
  it('draws the same mask for the same seed, another for another seed', () => {
    const mask = (seed: number): Float32Array => { manualSeed(seed); return tg.dropout(tg.ones([64]), 0.5).data as Float32Array; };
    expect(mask(7)).toEqual(mask(7));
    expect(mask(7)).not.toEqual(mask(8));
  });
  it('the mask is the global generator\'s stream (u < p drops), element by element, and the generator continues from there', () => {
    for (const [n, p] of [[10, 0.3], [5000, 0.2], [777, 1], [300, 0.999]] as const) { // small work runs in JS, large in the addon
      manualSeed(11);
      tg.rand([3]); // a pending position, not the seed's start
      const ref = new RandomGenerator(0).setState(tg.getRngState());
      const y = tg.dropout(tg.ones([n]), p);
      const scale = p === 1 ? 0 : Math.fround(1 / (1 - p));
      const expected = Float32Array.from({ length: n }, () => (ref.random() < p ? 0 : scale));
      expect(y.data).toEqual(expected);
      expect(tg.getRngState()).toEqual(ref.getState());
    }
  });
  it('gradcheck (float64) with a fixed seed, first and second order: the backward replays the mask', () => {
    const f = (x: Tensor): Tensor => { manualSeed(3); return tg.dropout(x, 0.4); };
    expectGradcheck(f, [az([6, 5], 80)]);
    expectGradcheck(secondOrder(f, az([6, 5], 81)), [az([6, 5], 82)]);
  });
  it('rejects p outside [0, 1]', () => {
    expect(() => new nn.Dropout(1.5)).toThrow(/Dropout: invalid p 1.5 \(must be a probability in \[0, 1\]\)/);
    expect(() => tg.dropout(tg.ones([2]), -0.1)).toThrow(/dropout: invalid p -0.1/);
  });
});

describe('ModuleList and ModuleDict', () => {
  class Net extends nn.Module<[Tensor], Tensor> {
    layers = new nn.ModuleList([new nn.Linear(2, 3), new nn.Linear(3, 1)]);
    heads = new nn.ModuleDict({ out: new nn.Linear(1, 1), aux: new nn.LayerNorm(1) });
    forward(x: Tensor): Tensor {
      for (const l of this.layers) x = (l as nn.Linear).forward(x);
      return (this.heads.get('out') as nn.Linear).forward(x);
    }
  }
  it('register their children under PyTorch\'s names for parameters, stateDict and train/eval', () => {
    const net = new Net();
    const names = ['layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.1.bias', 'heads.out.weight', 'heads.out.bias', 'heads.aux.weight', 'heads.aux.bias'];
    expect(net.namedParameters().map(([n]) => n)).toEqual(names);
    expect(Object.keys(net.stateDict())).toEqual(names);
    expect(net.parameters().length).toBe(8);
    net.eval();
    expect(net.layers.at(-1).training).toBe(false);
    expect(net.heads.get('aux')!.training).toBe(false);
    expect(net.forward(tensor([[1, 2]])).shape).toEqual([1, 1]);
  });
  it('ModuleList: append, extend, at, set, length, iteration; no forward', () => {
    const l = new nn.ModuleList();
    l.append(new nn.ReLU()).extend([new nn.Tanh(), new nn.Linear(1, 2)]);
    expect(l.length).toBe(3);
    expect([...l].map((m) => m.constructor.name)).toEqual(['ReLU', 'Tanh', 'Linear']);
    l.set(0, new nn.Linear(2, 2));
    expect(Object.keys(l.stateDict())).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
    expect(() => l.at(3)).toThrow(/ModuleList.at: index 3 is out of range for 3 modules/);
    expect(() => l.append({} as nn.Module)).toThrow(/not a Module/);
    expect(() => (l as unknown as { forward(): void }).forward()).toThrow(/ModuleList has no forward/);
  });
  it('ModuleDict: set, get, has, keys in insertion order, replacement; rejects keys with a dot or a method name', () => {
    const d = new nn.ModuleDict([['b', new nn.ReLU()], ['a', new nn.Linear(1, 1)]]);
    expect(d.keys()).toEqual(['b', 'a']);
    expect(d.has('a') && !d.has('c')).toBe(true);
    d.set('b', new nn.Linear(2, 1));
    expect(Object.keys(d.stateDict())).toEqual(['b.weight', 'b.bias', 'a.weight', 'a.bias']);
    expect(d.size).toBe(2);
    expect(d.items().map(([k]) => k)).toEqual(['b', 'a']);
    expect(() => d.set('x.y', new nn.ReLU())).toThrow(/invalid module name 'x.y'/);
    expect(() => d.set('keys', new nn.ReLU())).toThrow(/the name is taken by a method/);
    for (const k of ['_map', 'training']) expect(() => d.set(k, new nn.ReLU())).toThrow(`ModuleDict.set: the key '${k}' is taken by a field of ModuleDict`);
    expect(d.keys()).toEqual(['b', 'a']);
  });
});

describe('options and shapes are checked, naming the op', () => {
  const a = tg.ones([2, 3]), b = tg.zeros([2, 3]);
  it('losses: unknown options, reductions, beta and delta', () => {
    expect(() => tg.l1Loss(a, b, { reductoin: 'sum' } as never)).toThrow(/l1Loss: unknown option 'reductoin' \(options: reduction\)/);
    expect(() => new nn.HuberLoss({ beta: 1 } as never)).toThrow(/HuberLoss: unknown option 'beta' \(options: reduction, delta\)/);
    expect(() => tg.l1Loss(a, b, { reduction: 'batchmean' } as never)).toThrow(/l1Loss: reduction must be 'none', 'mean' or 'sum', got 'batchmean'/);
    expect(() => tg.klDiv(a, b, { reduction: 'avg' } as never)).toThrow(/klDiv: reduction must be 'none', 'mean', 'batchmean' or 'sum'/);
    expect(() => tg.huberLoss(a, b, { delta: 0 })).toThrow(/huberLoss: invalid delta 0 \(must be a positive number\)/);
    expect(() => tg.smoothL1Loss(a, b, { beta: -1 })).toThrow(/smoothL1Loss: invalid beta -1/);
    expect(() => tg.klDiv(a, b, { logTarget: 1 } as never)).toThrow(/klDiv: logTarget must be a boolean/);
    expect(() => tg.l1Loss(a, tg.zeros([3, 2]))).toThrow(/l1Loss: input \[2, 3\] and target \[3, 2\] must have the same shape/);
    expect(new nn.SmoothL1Loss({ beta: 0.5, reduction: 'sum' }).toString()).toBe("SmoothL1Loss(reduction='sum', beta=0.5)");
    expect(new nn.KLDivLoss({ reduction: 'batchmean' }).reduction).toBe('batchmean');
  });
  it('activations: unknown options and bad values', () => {
    expect(() => new nn.GELU({ approximate: 'erf' } as never)).toThrow(/GELU: approximate must be 'none' or 'tanh', got 'erf'/);
    expect(() => tg.softplus(a, { betta: 2 } as never)).toThrow(/softplus: unknown option 'betta' \(options: beta, threshold\)/);
    expect(() => new nn.Softplus({ beta: 0 })).toThrow(/Softplus: invalid beta 0/);
    expect(() => new nn.LeakyReLU(NaN)).toThrow(/LeakyReLU: invalid negativeSlope NaN/);
    expect(new nn.LeakyReLU(0.1).toString()).toBe('LeakyReLU(negativeSlope=0.1)');
  });
  it('layers: wrong input shapes, bad sizes, out-of-range indices', () => {
    const bn = new nn.BatchNorm1d(3);
    expect(() => bn.forward(tg.ones([4, 2]))).toThrow(/BatchNorm1d: input of shape \[4, 2\] has 2 channels \(dim 1\), expected numFeatures = 3/);
    expect(() => bn.forward(tg.ones([2, 3, 2, 2]))).toThrow(/BatchNorm1d: expected 2D or 3D input \(got 4D input/);
    expect(() => bn.forward(tg.ones([1, 3]))).toThrow(/expected more than 1 value per channel when training, got input of shape \[1, 3\]/);
    expect(bn.numBatchesTracked!.item()).toBe(0); // a rejected batch is not counted
    expect(() => new nn.BatchNorm1d(3, { momentun: 0.1 } as never)).toThrow(/BatchNorm1d: unknown option 'momentun'/);
    expect(() => new nn.BatchNorm1d(0)).toThrow(/BatchNorm1d: invalid numFeatures 0/);
    expect(() => new nn.LayerNorm([3]).forward(tg.ones([3, 2]))).toThrow(/layerNorm: input of shape \[3, 2\] does not end with normalizedShape \[3\]/);
    const emb = new nn.Embedding(4, 2);
    expect(() => emb.forward([1, 4])).toThrow(/Embedding: index 4 at position 1 is out of range \[0, 4\)/);
    expect(() => emb.forward([0.5])).toThrow(/Embedding: index 0.5 at position 0 is out of range/);
    expect(() => new nn.Embedding(4, 2, { paddingIdx: 4 })).toThrow(/Embedding: invalid paddingIdx 4 \(must be an integer in \[-4, 4\)\)/);
    expect(new nn.Embedding(4, 2, { paddingIdx: -1 }).paddingIdx).toBe(3);
  });
});

describe('safetensors I64', () => {
  const file = (values: bigint[]): Buffer => {
    const header = Buffer.from(JSON.stringify({ n: { dtype: 'I64', shape: [values.length], data_offsets: [0, 8 * values.length] } }).padEnd(48));
    const out = Buffer.alloc(8 + header.length + 8 * values.length);
    out.writeBigUInt64LE(BigInt(header.length), 0);
    header.copy(out, 8);
    values.forEach((v, i) => out.writeBigInt64LE(v, 8 + header.length + 8 * i));
    return out;
  };
  it('reads int32-range values exactly, and names the tensor and element for values outside it', () => {
    const t = decodeSafetensors(file([0n, -2147483648n, 2147483647n, 12345n])).tensors.n;
    expect(Array.from(t.data)).toEqual([0, -2147483648, 2147483647, 12345]);
    expect(() => decodeSafetensors(file([1n, 2147483648n]))).toThrow(/safetensors buffer: tensor "n": I64 element 1 is 2147483648, outside the int32 range/);
  });
});
