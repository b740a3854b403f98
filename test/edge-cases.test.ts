import { describe, it, expect } from 'vitest';
import * as tg from '../lib/index.js';
import { Tensor, tensor, zeros } from '../lib/index.js';
import { awayFromZero as az, expectClose, expectGradcheck } from './helpers.js';

// Regression tests for issue 10 (ops and autograd); expected values checked with PyTorch 1.13.

describe('ties and 0-d reductions', () => {
  it('x.max() over all elements splits the gradient evenly among ties', () => {
    const x = tensor([1, 3, 3, 2], { requiresGrad: true });
    x.max().backward();
    expect(x.grad!.toArray()).toEqual([0, 0.5, 0.5, 0]);
    const y = tensor([[5, 1], [5, 5]], { requiresGrad: true });
    y.max().mul(3).backward();
    expectClose(y.grad!, [[1, 0], [1, 1]], 1e-6);
    const n = tensor([NaN, 1, NaN], { requiresGrad: true });
    n.max().backward();
    expect(n.grad!.toArray()).toEqual([0.5, 0, 0.5]);
  });
  it('max(dim) sends the gradient to one index per slice (the first maximum)', () => {
    const x = tensor([[1, 3, 3], [2, 2, 1]], { requiresGrad: true });
    x.max(1).sum().backward();
    expect(x.grad!.toArray()).toEqual([[0, 1, 0], [1, 0, 0]]);
  });
  it('maximum(a, b) at a == b gives each input g/2', () => {
    const a = tensor([1, 2, 3], { requiresGrad: true }), b = tensor([1, 3, 2], { requiresGrad: true });
    tg.maximum(a, b).sum().backward();
    expect(a.grad!.toArray()).toEqual([0.5, 0, 1]);
    expect(b.grad!.toArray()).toEqual([0.5, 1, 0]);
    // broadcast: b's gradient sums over the rows it was spread to
    const c = tensor([[1, 5], [2, 0]], { requiresGrad: true }), d = tensor([2, 0], { requiresGrad: true });
    tg.maximum(c, d).sum().backward();
    expect(c.grad!.toArray()).toEqual([[0, 1], [0.5, 0.5]]);
    expect(d.grad!.toArray()).toEqual([1.5, 0.5]);
    // NaN compares false both ways: both inputs get the whole gradient (PyTorch's formula)
    const e = tensor([NaN], { requiresGrad: true }), f = tensor([1], { requiresGrad: true });
    tg.maximum(e, f).sum().backward();
    expect([e.grad!.item(), f.grad!.item()]).toEqual([1, 1]);
  });
  it('maximum away from ties passes gradcheck, also broadcast', () => {
    expectGradcheck((a, b) => tg.maximum(a, b), [az([2, 3], 7), az([3], 8)]);
  });
  it('tensor(2.5).mean(0) is 2.5: a 0-d tensor accepts dim 0 and -1', () => {
    expect(tensor(2.5).mean(0).item()).toBe(2.5);
    expect(tensor(2.5).mean(-1).item()).toBe(2.5);
    const s = tensor(2.5).sum(0, true);
    expect(s.shape).toEqual([]);
    expect(s.item()).toBe(2.5);
    expect(tensor(2.5).max(0).item()).toBe(2.5);
    const x = tensor(3, { requiresGrad: true });
    x.mean(0).mul(2).backward();
    expect(x.grad!.item()).toBe(2);
    expect(() => tensor(2.5).mean(1)).toThrow(/mean: dim 1 is out of range for a tensor with 0 dims/);
  });
  it('mean over an empty dim is NaN and a sum over it is 0, like PyTorch', () => {
    expect(Array.from(zeros([3, 0]).mean(1).data)).toEqual([NaN, NaN, NaN]);
    expect(Array.from(zeros([3, 0]).sum(1).data)).toEqual([0, 0, 0]);
    expect(zeros([0, 3]).sum([0, 1]).item()).toBe(0);
  });
});

describe('x.sum([0, 2]): several dims at once', () => {
  const x = () => tg.arange(24).reshape(2, 3, 4);
  it('sums and averages over a list of dims, with keepDim and negative dims', () => {
    // element (i, j, k) = 12i + 4j + k: the sum over i and k is 8·(4j) + 4·12 + 2·6
    expect(x().sum([0, 2]).toArray()).toEqual([60, 92, 124]);
    expect(x().sum([2, 0]).toArray()).toEqual([60, 92, 124]);
    const m = x().mean([0, -1], true);
    expect(m.shape).toEqual([1, 3, 1]);
    expect(m.toArray()).toEqual([[[7.5], [11.5], [15.5]]]);
    expect(x().sum([1, 2]).toArray()).toEqual([66, 210]);
    expect(x().sum([0, 1, 2]).item()).toBe(276);
    expect(x().sum([]).item()).toBe(276); // PyTorch 1.13: an empty list reduces every dim
    const w = tg.arange(120).reshape(2, 3, 4, 5);
    const ref = w.sum(3).sum(1);
    expect(w.sum([1, 3]).toArray()).toEqual(ref.toArray());
  });
  it('rejects a dim given twice, naming the op and the list', () => {
    expect(() => x().sum([0, -3])).toThrow(/sum: dim 0 appears more than once in \[0, -3\]/);
    expect(() => x().mean([1, 1])).toThrow(/mean: dim 1 appears more than once in \[1, 1\]/);
    expect(() => x().sum([0, 3])).toThrow(/sum: dim 3 is out of range for a tensor with 3 dims/);
    expect(() => x().max([0, 1] as never)).toThrow(/max: dim must be a number, got an array/);
  });
  it('gradcheck: sum and mean over several dims', () => {
    expectGradcheck((t) => t.sum([0, 2]), [az([2, 3, 4], 21)]);
    expectGradcheck((t) => t.mean([-1, 0], true), [az([2, 3, 4], 22)]);
    expectGradcheck((t) => t.sum([1, 3]).mul(t.mean([1, 3])), [az([2, 3, 2, 2], 23)]);
  });
});

describe('indices are copied when the op runs', () => {
  it('an index tensor changed after the forward pass does not move the gradient (indexSelect/gather)', () => {
    const x = tensor([10, 20, 30], { requiresGrad: true });
    const idx = new Int32Array([0, 0]);
    const y = x.indexSelect(0, idx);
    idx[0] = 2; idx[1] = 2;
    expect(y.toArray()).toEqual([10, 10]);
    y.sum().backward();
    expect(x.grad!.toArray()).toEqual([2, 0, 0]);

    const m = tensor([[1, 2], [3, 4]], { requiresGrad: true });
    const gi = tensor([[1], [0]]);
    const z = m.gather(1, gi);
    gi.data.fill(0);
    z.sum().backward();
    expect(m.grad!.toArray()).toEqual([[0, 1], [1, 0]]);
  });
  it('oneHot(labels, 2.5) is rejected', () => {
    expect(() => tg.oneHot([0, 1], 2.5)).toThrow(/oneHot: .*must be a non-negative integer, got 2\.5/);
  });
  it('a ragged gather index whose element count happens to fit is rejected', () => {
    const x = tensor([[1, 2], [3, 4], [5, 6]]);
    // 3 rows of 1 would need 3 elements: [[0], [1, 0], []] has 3, but is ragged
    expect(() => tg.gather(x, 1, [[0], [1, 0], []])).toThrow(/gather: ragged nested array at \[1\]: expected 1 elements, got 2/);
    expect(() => tg.gather(x, 1, [[0, 1], [[0], [1]]] as never)).toThrow(/gather: element at \[1, 0\] is an array of 1, expected a number/);
    expect(tg.gather(x, 1, [[1], [0], [1]]).toArray()).toEqual([[2], [3], [6]]);
  });
});

describe('NaN bounds: both backends agree with PyTorch', () => {
  // 100 elements run the native kernel on the native backend, 10 run in JS on both
  for (const n of [10, 100]) {
    it(`clamp(NaN, 1) and clamp(0, NaN) are NaN everywhere; NaN in the input propagates (${n} elements)`, () => {
      const x = tg.arange(n).mul(0.1);
      expect(Array.from(x.clamp(NaN, 1).data).every(Number.isNaN)).toBe(true);
      expect(Array.from(x.clamp(0, NaN).data).every(Number.isNaN)).toBe(true);
      const y = x.clone();
      y.data[3] = NaN;
      const c = Array.from(y.clamp(0, 0.5).data);
      expect(Number.isNaN(c[3])).toBe(true);
      expect(c[9]).toBeCloseTo(0.5);
      expect(c[2]).toBeCloseTo(0.2);
    });
    it(`pow(NaN) is 1 at 1 and NaN elsewhere; (-1)^±Infinity is 1 (${n} elements)`, () => {
      const base = [1, -1, 2, 0, NaN];
      const x = new Tensor(Float32Array.from({ length: n }, (_, i) => base[i % 5]), [n]);
      const p = Array.from(x.pow(NaN).data);
      for (let i = 0; i < n; i++) expect(p[i]).toBe(i % 5 === 0 ? 1 : NaN);
      const q = Array.from(x.pow(Infinity).data);
      for (let i = 0; i < n; i++) expect(q[i]).toBe([1, 1, Infinity, 0, NaN][i % 5]);
      const r = Array.from(x.pow(0).data);
      expect(r.every((v) => v === 1)).toBe(true);
    });
  }
});

describe('clear errors name the op and the values at fault', () => {
  it('zeros([1e6, 1e6]) says which shape could not be allocated', () => {
    expect(() => zeros([1e6, 1e6])).toThrow(/zeros: cannot allocate shape \[1000000, 1000000\]: 1000000000000 float32 elements/);
    expect(() => tg.ones([-1])).toThrow(/ones: invalid shape \[-1\]/);
  });
  it("tensor(x, {shape: '4'}) says the shape is not an array", () => {
    expect(() => tensor([1, 2, 3, 4], { shape: '4' as never })).toThrow(/tensor: shape must be an array of non-negative integers, got the string '4'/);
    expect(tensor([1, 2, 3, 4], { shape: [2, 2] }).toArray()).toEqual([[1, 2], [3, 4]]);
  });
  it("concat([t, 'x']) and indexSelect(0, null) name the bad argument", () => {
    expect(() => tg.concat([tensor([1]), 'x' as never])).toThrow(/concat: element 1 is the string 'x', not a Tensor/);
    expect(() => tg.stack([tensor([1]), null as never])).toThrow(/stack: element 1 is null, not a Tensor/);
    expect(() => tensor([1, 2]).indexSelect(0, null as never)).toThrow(/indexSelect: index must be an array, a typed array or a Tensor, got null/);
  });
  it('concat([tensor(1), tensor(2)]) rejects 0-d tensors; stack takes them', () => {
    expect(() => tg.concat([tensor(1), tensor(2)])).toThrow(/concat: the 0-d tensor at position 0 cannot be concatenated/);
    expect(tg.stack([tensor(1), tensor(2)]).toArray()).toEqual([1, 2]);
  });
  it("setNumThreads('2') shows the type of what it got", () => {
    expect(() => tg.setNumThreads('2' as never)).toThrow(/setNumThreads: expected a positive integer, got the string '2'/);
    expect(() => tg.setNumThreads(1.5)).toThrow(/setNumThreads: expected a positive integer, got 1\.5/);
  });
  it('10,000-deep nesting in tensor() is a clear error, not a stack overflow', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 10000; i++) deep = [deep];
    expect(() => tensor(deep as never)).toThrow(/tensor: nested arrays are more than 1000 levels deep/);
    let ok: unknown = 7;
    for (let i = 0; i < 100; i++) ok = [ok]; // PyTorch takes 100 levels
    const t = tensor(ok as never);
    expect(t.ndim).toBe(100);
    expect(t.item()).toBe(7);
    expect(() => tensor([[1, 2], [3]])).toThrow(/tensor: ragged nested array at \[1\]: expected 2 elements, got 1/);
    expect(() => tensor([[1, 'a']] as never)).toThrow(/tensor: element at \[0, 1\] is the string 'a', expected a number/);
  });
});

describe('matmul: dot products and empty operands', () => {
  it('tensor([1,2,3]).matmul(tensor([4,5,6])) is the 0-d dot product 32, with its VJP', () => {
    const a = tensor([1, 2, 3], { requiresGrad: true }), b = tensor([4, 5, 6], { requiresGrad: true });
    const y = a.matmul(b);
    expect(y.shape).toEqual([]);
    expect(y.item()).toBe(32);
    y.backward();
    expect(a.grad!.toArray()).toEqual([4, 5, 6]);
    expect(b.grad!.toArray()).toEqual([1, 2, 3]);
    expectGradcheck((p, q) => p.matmul(q), [az([5], 31), az([5], 32)]);
    expect(() => tensor([1, 2]).matmul(tensor([1, 2, 3]))).toThrow(/matmul: shapes \[2\] and \[3\] are not aligned/);
  });
  it('empty matmuls give PyTorch shapes and zero (or empty) gradients', () => {
    const a = zeros([2, 3, 0], { requiresGrad: true }), b = tg.ones([0, 4], { requiresGrad: true });
    const y = a.matmul(b);
    expect(y.shape).toEqual([2, 3, 4]);
    expect(Array.from(y.data).every((v) => v === 0)).toBe(true);
    y.sum().backward();
    expect(a.grad!.shape).toEqual([2, 3, 0]);
    expect(b.grad!.shape).toEqual([0, 4]);

    const c = zeros([0, 2, 3], { requiresGrad: true }), d = tg.ones([1, 3, 2], { requiresGrad: true });
    const z = c.matmul(d);
    expect(z.shape).toEqual([0, 2, 2]);
    z.sum().backward();
    expect(c.grad!.shape).toEqual([0, 2, 3]);
    expect(d.grad!.shape).toEqual([1, 3, 2]);
    expect(Array.from(d.grad!.data)).toEqual([0, 0, 0, 0, 0, 0]);

    expect(zeros([0]).matmul(zeros([0])).item()).toBe(0);
    expect(zeros([3, 0]).matmul(zeros([0, 2])).toArray()).toEqual([[0, 0], [0, 0], [0, 0]]);
  });
  it('linear with no input features or no rows gives the bias and zero gradients, also with batch dims', () => {
    const l = new tg.nn.Linear(0, 2);
    l.bias!.data.set([1, -1]);
    const y = l.forward(zeros([2, 2, 0]));
    expect(y.toArray()).toEqual([[[1, -1], [1, -1]], [[1, -1], [1, -1]]]);
    y.sum().backward();
    expect(l.weight.grad!.shape).toEqual([2, 0]);
    expect(l.bias!.grad!.toArray()).toEqual([4, 4]);
    const l2 = new tg.nn.Linear(3, 2);
    l2.forward(zeros([0, 3])).sum().backward();
    expect(Array.from(l2.weight.grad!.data)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(l2.bias!.grad!.toArray()).toEqual([0, 0]);
  });
  it('gradcheck: matrix-vector and batched products with a size-1 batch broadcast', () => {
    expectGradcheck((p, q) => p.matmul(q), [az([3, 4], 33), az([4], 34)]);
    expectGradcheck((p, q) => p.matmul(q), [az([4], 35), az([2, 4, 3], 36)]);
    expectGradcheck((p, q) => p.matmul(q), [az([1, 2, 3], 37), az([2, 3, 2], 38)]);
  });
});
