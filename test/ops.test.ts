import { describe, it, expect } from 'vitest';
import * as tg from '../lib/index.js';
import { Tensor, tensor } from '../lib/index.js';
import { awayFromZero as az, expectClose, expectGradcheck } from './helpers.js';
import fixtures from './fixtures/torch.json' with { type: 'json' };

describe('gradcheck of every op', () => {
  const unary: [string, (x: Tensor) => Tensor, (s: number) => Tensor][] = [
    ['neg', (x) => x.neg(), (s) => az([2, 3], s)],
    ['exp', (x) => x.exp(), (s) => az([2, 3], s)],
    ['log', (x) => x.log(), (s) => az([2, 3], s).abs().detach().requiresGrad_()],
    ['sqrt', (x) => x.sqrt(), (s) => az([3, 2], s).abs().detach().requiresGrad_()],
    ['abs', (x) => x.abs(), (s) => az([4], s)],
    ['pow 3', (x) => x.pow(3), (s) => az([2, 2], s)],
    ['pow -1.5', (x) => x.pow(-1.5), (s) => az([2, 2], s).abs().detach().requiresGrad_()],
    ['pow 0', (x) => x.pow(0), (s) => az([2, 2], s)],
    ['sigmoid', (x) => x.sigmoid(), (s) => az([2, 3], s)],
    ['tanh', (x) => x.tanh(), (s) => az([2, 3], s)],
    ['relu', (x) => x.relu(), (s) => az([2, 3], s)],
    ['clamp', (x) => x.clamp(-0.7, 0.9), (s) => az([3, 3], s)],
    ['clamp min only', (x) => x.clamp(0.5), (s) => az([3, 3], s)],
    ['softmax dim 1', (x) => x.softmax(1), (s) => az([3, 4], s)],
    ['softmax dim 0', (x) => x.softmax(0), (s) => az([3, 4], s)],
    ['softmax 3-d dim 1', (x) => x.softmax(1), (s) => az([2, 3, 2], s)],
    ['logSoftmax dim -1', (x) => x.logSoftmax(-1), (s) => az([3, 4], s)],
    ['logSoftmax dim 0', (x) => x.logSoftmax(0), (s) => az([3, 4], s)],
    ['sum all', (x) => x.sum(), (s) => az([2, 3, 4], s)],
    ['sum dim 0', (x) => x.sum(0), (s) => az([2, 3, 4], s)],
    ['sum dim 1 keepDim', (x) => x.sum(1, true), (s) => az([2, 3, 4], s)],
    ['sum dim -1', (x) => x.sum(-1), (s) => az([2, 3, 4], s)],
    ['mean all', (x) => x.mean(), (s) => az([2, 3], s)],
    ['mean dim 0', (x) => x.mean(0), (s) => az([2, 3, 4], s)],
    ['mean dim 1', (x) => x.mean(1), (s) => az([2, 3, 4], s)],
    ['mean dim 2 keepDim', (x) => x.mean(2, true), (s) => az([2, 3, 4], s)],
    ['max all', (x) => x.max(), (s) => az([2, 3], s)],
    ['max dim 0', (x) => x.max(0), (s) => az([3, 4], s)],
    ['max dim 1', (x) => x.max(1), (s) => az([3, 4], s)],
    ['max dim 2 keepDim', (x) => x.max(2, true), (s) => az([2, 3, 4], s)],
    ['reshape', (x) => x.reshape(3, -1).mul(x.reshape(3, 2)), (s) => az([2, 3], s)],
    ['flatten', (x) => x.flatten(1).exp(), (s) => az([2, 3, 2], s)],
    ['unsqueeze/squeeze', (x) => x.unsqueeze(1).exp().squeeze(1), (s) => az([2, 3], s)],
    ['transpose', (x) => x.transpose(0, 2).exp(), (s) => az([2, 3, 4], s)],
    ['T', (x) => x.T.matmul(x), (s) => az([3, 2], s)],
    ['permute', (x) => x.permute(2, 0, 1).sigmoid(), (s) => az([2, 3, 4], s)],
    ['expand', (x) => x.expand(4, 2, 3).tanh(), (s) => az([2, 1], s)],
    ['indexSelect rows (repeated)', (x) => x.indexSelect(0, [2, 0, 2]).exp(), (s) => az([3, 4], s)],
    ['indexSelect dim 1', (x) => x.indexSelect(1, [3, 1]).exp(), (s) => az([2, 4], s)],
    ['narrow', (x) => tg.narrow(x, 1, 1, 2).exp(), (s) => az([2, 4], s)],
    ['gather dim 1 (repeated)', (x) => x.gather(1, [[2, 0, 2], [1, 1, 3], [0, 3, 0]]).exp(), (s) => az([3, 4], s)],
    ['gather dim 0', (x) => x.gather(0, [[1, 0, 2, 2]]).exp(), (s) => az([3, 4], s)],
    ['scalar ops', (x) => x.add(2).mul(3).sub(1).div(4), (s) => az([2, 2], s)],
    ['reversed scalar ops', (x) => tg.sub(1, x).mul(tg.add(2, x)).div(tg.mul(3, x)), (s) => az([2, 2], s)],
    ['number / tensor', (x) => tg.div(2, x), (s) => az([2, 2], s)],
  ];
  for (const [name, f, make] of unary) {
    it(name, () => expectGradcheck(f, [make(1)]));
  }

  const binary: [string, (a: Tensor, b: Tensor) => Tensor, number[], number[]][] = [
    ['add same shape', (a, b) => a.add(b), [2, 3], [2, 3]],
    ['add row broadcast', (a, b) => a.add(b), [2, 3], [3]],
    ['add both broadcast', (a, b) => a.add(b), [2, 1], [1, 3]],
    ['add 3-d broadcast', (a, b) => a.add(b), [4, 1, 3], [2, 1]],
    ['sub column broadcast', (a, b) => a.sub(b), [3, 4], [3, 1]],
    ['mul scalar tensor', (a, b) => a.mul(b), [2, 3], []],
    ['mul broadcast', (a, b) => a.mul(b), [2, 3], [3]],
    ['div', (a, b) => a.div(b), [2, 3], [2, 3]],
    ['div broadcast', (a, b) => a.div(b), [3], [2, 3]],
    ['maximum', (a, b) => tg.maximum(a, b), [2, 3], [3]],
    ['matmul square', (a, b) => a.matmul(b), [3, 3], [3, 3]],
    ['matmul non-square', (a, b) => a.matmul(b), [2, 5], [5, 3]],
    ['matmul k=1', (a, b) => a.matmul(b), [4, 1], [1, 3]],
    ['matmul vector', (a, b) => a.matmul(b), [2, 3], [3]],
    ['matmul vector-matrix', (a, b) => a.matmul(b), [3], [3, 2]],
    ['matmul batched × 2-d', (a, b) => a.matmul(b), [2, 3, 4], [4, 2]],
    ['matmul batched × batched', (a, b) => a.matmul(b), [2, 3, 4], [2, 4, 5]],
    ['matmul broadcast batch', (a, b) => a.matmul(b), [2, 3, 4], [1, 4, 2]],
    ['matmul of transposes', (a, b) => a.T.matmul(b.T), [3, 2], [4, 3]],
    ['linear without bias', (a, b) => tg.linear(a, b), [3, 4], [2, 4]],
    ['concat dim 0', (a, b) => tg.concat([a, b], 0).exp(), [2, 3], [1, 3]],
    ['concat dim 1', (a, b) => tg.concat([a, b], 1).exp(), [2, 3], [2, 2]],
    ['stack', (a, b) => tg.stack([a, b], 1).exp(), [2, 3], [2, 3]],
    ['mse', (a, b) => tg.mseLoss(a, b), [3, 2], [3, 2]],
  ];
  for (const [name, f, sa, sb] of binary) {
    it(name, () => expectGradcheck(f, [az(sa, 11), az(sb, 12)]));
  }

  it('linear with bias (3 inputs, leading batch dims)', () => {
    expectGradcheck((x, w, b) => tg.linear(x, w, b), [az([2, 3, 4], 1), az([5, 4], 2), az([5], 3)]);
  });
  for (const act of ['relu', 'sigmoid', 'tanh'] as const) {
    it(`fused linear + ${act}`, () => {
      expectGradcheck((x, w, b) => tg.linear(x, w, b, act), [az([3, 4], 1), az([5, 4], 2), az([5], 3)]);
    });
  }
  it('crossEntropy', () => {
    expectGradcheck((x) => tg.crossEntropy(x, [2, 0, 1, 2]), [az([4, 3], 5)]);
  });
  it('nllLoss of logSoftmax', () => {
    expectGradcheck((x) => tg.nllLoss(x.logSoftmax(1), [1, 0, 1]), [az([3, 2], 6)]);
  });
  it('bceLoss', () => {
    expectGradcheck((p, t) => tg.bceLoss(p.sigmoid(), t), [az([3, 2], 7), tensor([[0, 1], [1, 1], [0, 0]])]);
  });
  it('bceWithLogitsLoss', () => {
    expectGradcheck((x) => tg.bceWithLogitsLoss(x, tensor([[0, 1], [1, 0]])), [az([2, 2], 8)]);
  });
  it('a composite: 2-layer MLP with softmax cross-entropy', () => {
    expectGradcheck(
      (x, w1, b1, w2) => tg.crossEntropy(tg.linear(x, w1, b1).tanh().matmul(w2), [0, 2, 1]),
      [az([3, 4], 21), az([5, 4], 22), az([5], 23), az([5, 3], 24)],
    );
  });

  it('second derivatives through every fused backward (sigmoid, tanh, relu, softmax, crossEntropy)', () => {
    for (const f of [
      (x: Tensor) => x.sigmoid().sum(),
      (x: Tensor) => x.tanh().mul(x).sum(),
      (x: Tensor) => x.relu().pow(2).sum(),
      (x: Tensor) => x.softmax(1).mul(x).sum(),
      (x: Tensor) => x.logSoftmax(1).pow(2).sum(),
      (x: Tensor) => tg.crossEntropy(x, [1, 0]),
      (x: Tensor) => tg.mseLoss(x.pow(2), tensor([[1, 0, 2], [0, 1, 0]])),
      (x: Tensor) => x.matmul(x.T).exp().mean(),
    ]) {
      // the gradient of ⟨∇f(x), c⟩ checks the VJPs of the VJPs
      expectGradcheck((x) => tg.grad(f, [x])[0].mul(tensor([[1, -2, 0.5], [0.3, 1, -1]])).sum(), [az([2, 3], 31)]);
    }
  });
});

describe('gradcheck catches wrong VJPs', () => {
  const scaledExp = (factor: number) => tg.defineOp({
    name: 'ScaledExp',
    forward: (x: Tensor) => tg.noGrad(() => x.exp()),
    vjp: (g, { out }) => [g.mul(out).mul(factor)],
  });
  it('passes the correct VJP', () => {
    expect(tg.gradcheck((x) => scaledExp(1)(x), [az([3, 3], 41)]).ok).toBe(true);
  });
  it('fails a VJP that is 1% wrong, and says where', () => {
    const r = tg.gradcheck((x) => scaledExp(1.01)(x), [az([3, 3], 41)]);
    expect(r.ok).toBe(false);
    expect(Math.abs(r.worst!.analytical / r.worst!.numerical - 1.01)).toBeLessThan(1e-6);
    expect(() => tg.gradcheck((x) => scaledExp(1.01)(x), [az([3, 3], 41)], { throwOnFail: true })).toThrow(/gradcheck failed: input 0, element \d/);
  });
  it('fails a VJP that is 1% wrong in a single element', () => {
    const oneOff = tg.defineOp({
      name: 'OneOff',
      forward: (x: Tensor) => tg.noGrad(() => x.mul(x)),
      vjp: (g, _ctx, x) => {
        const d = tg.noGrad(() => g.mul(x).mul(2));
        d.data[4] *= 1.01;
        return [d];
      },
    });
    const r = tg.gradcheck((x) => oneOff(x), [az([3, 3], 42)]);
    expect(r.ok).toBe(false);
    expect(r.worst!.index).toBe(4);
  });
  it('fails a VJP that forgets broadcasting-free terms (d(a·b)/db = 0)', () => {
    const wrong = tg.defineOp({
      name: 'WrongMul',
      forward: (a: Tensor, b: Tensor) => tg.noGrad(() => a.mul(b)),
      vjp: (g, _ctx, _a, b) => [g.mul(b), null],
    });
    expect(tg.gradcheck((a, b) => wrong(a, b), [az([2, 2], 1), az([2, 2], 2)]).ok).toBe(false);
  });
});

describe('reference values', () => {
  it("the lecture's example: z = x.sum()", () => {
    const x = tensor([[1, 2], [3, 4]], { requiresGrad: true });
    const z = x.sum();
    expect(z.item()).toBe(10);
    expect(z.gradFn!.name).toBe('SumBackward');
    expect(fixtures.sumExample.gradFn).toBe('SumBackward0');
    z.backward();
    expect(x.grad!.toArray()).toEqual(fixtures.sumExample.grad);
    expect(z.toString()).toBe('tensor(10, gradFn=<SumBackward>)');
  });
  it("sigmoid's derivative is σ(1−σ)", () => {
    const x = tensor([-3, -0.5, 0, 0.5, 2], { requiresGrad: true });
    const s = x.sigmoid();
    s.backward(tg.onesLike(s));
    const expected = Array.from(x.data, (v) => { const sg = 1 / (1 + Math.exp(-v)); return sg * (1 - sg); });
    expectClose(x.grad!, expected, 1e-6);
    expectClose(x.grad!.data[2], 0.25, 0);
  });
  it('broadcast expressions match PyTorch (fixture)', () => {
    const f = fixtures.broadcast;
    for (const [expr, val, ga, gb] of [
      [(a: Tensor, b: Tensor) => a.mul(b).add(b).sum(), f.c, f.gradA_c, f.gradB_c],
      [(a: Tensor, b: Tensor) => a.div(b.abs().add(1)).exp().mean(), f.d, f.gradA_d, f.gradB_d],
    ] as const) {
      const a = tensor(f.a, { requiresGrad: true }), b = tensor(f.b, { requiresGrad: true });
      const y = expr(a, b);
      y.backward();
      expectClose(y.item(), val, 1e-5);
      expectClose(a.grad!, ga, 1e-5);
      expectClose(b.grad!, gb, 1e-5);
    }
  });
  it('softmax, logSoftmax and the losses match PyTorch (fixture)', () => {
    const L = fixtures.losses;
    expectClose(tensor(L.logits).softmax(1), L.softmax, 1e-5);
    expectClose(tensor(L.logits).logSoftmax(1), L.logSoftmax, 1e-5);
    const cases: [(x: Tensor) => Tensor, number[][], { loss: number; grad: number[][] }][] = [
      [(x) => tg.crossEntropy(x, L.labels), L.logits, L.crossEntropy],
      [(x) => tg.nllLoss(x.logSoftmax(1), L.labels), L.logits, L.nll],
      [(x) => tg.bceLoss(x, tensor(L.target)), L.pred, L.bce],
      [(x) => tg.bceWithLogitsLoss(x, tensor(L.target)), L.logits2, L.bceWithLogits],
      [(x) => tg.mseLoss(x, tensor(L.b)), L.a, L.mse],
    ];
    for (const [f, input, ref] of cases) {
      const x = tensor(input, { requiresGrad: true });
      const loss = f(x);
      loss.backward();
      expectClose(loss.item(), ref.loss, 1e-5);
      expectClose(x.grad!, ref.grad, 1e-4, 1e-7);
    }
  });
});

describe('forward values', () => {
  it('elementwise, reductions and shapes', () => {
    const x = tensor([[1, -2, 3], [-4, 5, -6]]);
    expect(x.sum(0).toArray()).toEqual([-3, 3, -3]);
    expect(x.sum(1, true).shape).toEqual([2, 1]);
    expect(x.mean().item()).toBeCloseTo(-0.5, 6);
    expect(x.max(1).toArray()).toEqual([3, 5]);
    expect(x.max().item()).toBe(5);
    expect(x.argmax(1).toArray()).toEqual([2, 1]);
    expect(x.relu().toArray()).toEqual([[1, 0, 3], [0, 5, 0]]);
    expect(x.abs().clamp(2, 4).toArray()).toEqual([[2, 2, 3], [4, 4, 4]]);
    expect(x.T.toArray()).toEqual([[1, -4], [-2, 5], [3, -6]]);
    expect(x.reshape(3, 2).toArray()).toEqual([[1, -2], [3, -4], [5, -6]]);
    expect(x.indexSelect(0, [1, 1, 0]).toArray()).toEqual([[-4, 5, -6], [-4, 5, -6], [1, -2, 3]]);
    expect(x.gather(1, [[2], [0]]).toArray()).toEqual([[3], [-4]]); // the picked entry of each row
    expect(x.gather(0, [[1, 0, 1]]).toArray()).toEqual([[-4, -2, -6]]);
    expect(tg.concat([x, x], 1).shape).toEqual([2, 6]);
    expect(tg.stack([x, x]).shape).toEqual([2, 2, 3]);
    expect(x.matmul(tensor([1, 1, 1])).toArray()).toEqual([2, -5]);
    expect(tensor([[1, 2], [3, 4]]).matmul(tensor([[5, 6], [7, 8]])).toArray()).toEqual([[19, 22], [43, 50]]);
    expect(tg.arange(5).toArray()).toEqual([0, 1, 2, 3, 4]);
    expect(tg.arange(1, 2, 0.25).toArray()).toEqual([1, 1.25, 1.5, 1.75]);
    expect(tg.eye(2, 3).toArray()).toEqual([[1, 0, 0], [0, 1, 0]]);
    expect(tg.full([2], 7).toArray()).toEqual([7, 7]);
    expect(x.gt(0).toArray()).toEqual([[1, 0, 1], [0, 1, 0]]);
  });
  it('creation: typed arrays with shape, ragged arrays rejected, seeded random', () => {
    const t = tensor(new Float32Array([1, 2, 3, 4, 5, 6]), { shape: [2, 3] });
    expect(t.shape).toEqual([2, 3]);
    expect(t.size).toBe(6);
    expect(t.ndim).toBe(2);
    expect(() => tensor([[1, 2], [3]])).toThrow(/ragged/);
    tg.manualSeed(3);
    const a = tg.randn([4]).toArray();
    tg.manualSeed(3);
    expect(tg.randn([4]).toArray()).toEqual(a);
    const u = tg.rand([1000]);
    expect(Math.min(...u.data)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u.data)).toBeLessThan(1);
    const n = tg.randn([20000]);
    expect(Math.abs(n.mean().item())).toBeLessThan(0.03);
    expect(Math.abs(n.pow(2).mean().item() - 1)).toBeLessThan(0.04);
  });
  it('softmax is stable for large logits', () => {
    const p = tensor([[1000, 1001, 1002]]).softmax(1);
    expectClose(p, [[0.09003057, 0.24472847, 0.66524096]], 1e-5);
    expect(tg.crossEntropy(tensor([[1000, 0]]), [1]).item()).toBeCloseTo(1000, 3);
  });
  it('linear with 0 input features and leading batch dims gives the bias (found by the differential guard)', () => {
    const x = tg.zeros([4, 3, 0]).requiresGrad_(), w = tg.zeros([2, 0]).requiresGrad_(), b = tg.tensor([1.5, -2], { requiresGrad: true });
    const y = tg.linear(x, w, b);
    expect(y.shape).toEqual([4, 3, 2]);
    expect(Array.from(y.data.slice(0, 4))).toEqual([1.5, -2, 1.5, -2]);
    y.sum().backward();
    expect(Array.from(b.grad!.data)).toEqual([12, 12]);
    expect(x.grad!.shape).toEqual([4, 3, 0]);
  });
  it('toString', () => {
    expect(tensor([[1, 2], [3, 4]]).toString()).toBe('tensor([[1, 2],\n        [3, 4]])');
    expect(tensor([0.5], { requiresGrad: true }).toString()).toBe('tensor([0.5], requiresGrad=true)');
  });
});

describe('errors name the op and the shapes', () => {
  it('matmul shape mismatch', () => {
    expect(() => tg.randn([2, 3]).matmul(tg.randn([4, 5]))).toThrow('matmul: shapes [2, 3] and [4, 5] are not aligned (3 != 4)');
  });
  it('add broadcast mismatch', () => {
    expect(() => tg.randn([2, 3]).add(tg.randn([4]))).toThrow('add: shapes [2, 3] and [4] cannot be broadcast together');
  });
  it('backward on a non-scalar without a seed', () => {
    const y = tg.randn([2, 3], { requiresGrad: true }).mul(2);
    expect(() => y.backward()).toThrow(/backward: grad can be implicitly created only for scalar outputs; got shape \[2, 3\]/);
    expect(() => y.backward(tg.ones([3]))).toThrow(/backward: gradient of shape \[3\] does not match the output of shape \[2, 3\]/);
  });
  it('bad dims', () => {
    expect(() => tg.randn([2, 3]).sum(2)).toThrow('sum: dim 2 is out of range for a tensor with 2 dims (expected -2..1)');
    expect(() => tg.randn([2, 3]).softmax(-3)).toThrow(/softmax: dim -3 is out of range/);
    expect(() => tg.randn([2, 3]).reshape(4, 2)).toThrow('reshape: cannot reshape [2, 3] (6 elements) into [4, 2]');
    expect(() => tg.randn([2, 3]).transpose(0, 5)).toThrow(/transpose: dim 5/);
  });
  it('bad labels and indices', () => {
    expect(() => tg.crossEntropy(tg.randn([2, 3]), [0, 3])).toThrow('crossEntropy: index 3 at position 1 is out of range [0, 3)');
    expect(() => tg.crossEntropy(tg.randn([2, 3]), [0])).toThrow('crossEntropy: input [2, 3] has 2 rows but 1 labels were given');
    expect(() => tg.randn([2, 3]).indexSelect(0, [2])).toThrow(/indexSelect: index 2/);
    expect(() => tg.randn([2, 3]).gather(1, [[3], [0]])).toThrow('gather: index 3 at position 0 is out of range [0, 3)');
    expect(() => tg.randn([2, 3]).gather(1, [0, 1])).toThrow('gather: index of shape [2] does not fit input [2, 3] along dim 1');
  });
  it('linear shape mismatch', () => {
    expect(() => tg.linear(tg.randn([2, 3]), tg.randn([4, 5]))).toThrow(/linear: input \[2, 3\], weight \[4, 5\]/);
  });
});

describe('matmulAsync and threads', () => {
  it('matmulAsync equals matmul, and the event loop runs while it computes', async () => {
    const a = tg.randn([600, 500]), b = tg.randn([500, 600]);
    let ticked = false;
    setImmediate(() => { ticked = true; });
    const c = await tg.matmulAsync(a, b);
    expectClose(c, a.matmul(b), 1e-5, 1e-4);
    // native: the gemm (a few ms) runs on the thread pool while the loop turns; js computes in place
    if (tg.getBackend() === 'native') expect(ticked).toBe(true);
    await expect(tg.matmulAsync(a, a)).rejects.toThrow('matmulAsync: expected 2-D tensors [m, k] and [k, n], got [600, 500] and [600, 500]');
  });
  it('setNumThreads / getNumThreads', () => {
    const n = tg.getNumThreads();
    expect(n).toBeGreaterThanOrEqual(1);
    tg.setNumThreads(1);
    expect(tg.getNumThreads()).toBe(1);
    tg.setNumThreads(n);
    expect(() => tg.setNumThreads(0)).toThrow('setNumThreads: expected a positive integer, got 0');
  });
});
