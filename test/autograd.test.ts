import { describe, it, expect } from 'vitest';
import * as tg from '../lib/index.js';
import { tensor } from '../lib/index.js';
import { nodeInternals, tensorInternals } from '../lib/tensor.js';
import { expectClose } from './helpers.js';

describe('backward', () => {
  it('a tensor used twice gets the sum of both paths', () => {
    const x = tensor([2, 3], { requiresGrad: true });
    x.mul(x).add(x).sum().backward(); // d/dx (x² + x) = 2x + 1
    expect(x.grad!.toArray()).toEqual([5, 7]);
  });
  it('gradients accumulate across backward calls until cleared', () => {
    const x = tensor([1, -1], { requiresGrad: true });
    x.mul(3).sum().backward();
    x.mul(3).sum().backward();
    expect(x.grad!.toArray()).toEqual([6, 6]);
    x.grad = null;
    x.pow(2).sum().backward();
    expect(x.grad!.toArray()).toEqual([2, -2]);
  });
  it('x + x and x·y give leaves independent .grad tensors', () => {
    const x = tensor([1, 2], { requiresGrad: true }), y = tensor([3, 4], { requiresGrad: true });
    x.add(y).sum().backward();
    expect(x.grad).not.toBe(y.grad);
    x.grad!.data[0] = 100;
    expect(y.grad!.data[0]).toBe(1);
  });
  it('a second backward through a freed graph throws; retainGraph allows it', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = x.exp().sum();
    y.backward();
    expect(() => y.backward()).toThrow(/backward: the graph through SumBackward was already freed.*retainGraph: true/);
    const z = x.exp().sum();
    x.grad = null;
    z.backward(null, { retainGraph: true });
    z.backward();
    expectClose(x.grad!, [2 * Math.E, 2 * Math.exp(2)], 1e-6);
  });
  it('y.backward(v) computes the VJP vᵀJ for a non-scalar output', () => {
    const x = tensor([[1, 2], [3, 4]], { requiresGrad: true });
    const y = x.pow(2);
    y.backward(tensor([[1, 0], [2, -1]]));
    expect(x.grad!.toArray()).toEqual([[2, 0], [12, -8]]);
  });
  it('inputs that need no gradient are skipped', () => {
    const x = tensor([1, 2], { requiresGrad: true }), c = tensor([5, 6]);
    x.mul(c).sum().backward();
    expect(c.grad).toBeNull();
    expect(x.grad!.toArray()).toEqual([5, 6]);
  });
  it('broadcast inputs get gradients reduced to their shape', () => {
    const w = tensor([[1], [2]], { requiresGrad: true }), b = tensor([1, 1, 1], { requiresGrad: true });
    w.mul(b).sum().backward();
    expect(w.grad!.toArray()).toEqual([[3], [3]]);
    expect(b.grad!.toArray()).toEqual([3, 3, 3]);
  });
  it('leaves, detach, retainGrad', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const h = x.mul(2).retainGrad();
    const d = h.detach();
    expect(x.isLeaf).toBe(true);
    expect(h.isLeaf).toBe(false);
    expect(d.requiresGrad).toBe(false);
    expect(d.data).toBe(h.data);
    h.pow(2).sum().backward();
    expect(h.grad!.toArray()).toEqual([4, 8]);
    expect(x.grad!.toArray()).toEqual([8, 16]);
  });
  it('noGrad records nothing', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = tg.noGrad(() => x.mul(2));
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
    expect(tg.isGradEnabled()).toBe(true);
  });
  it('backward with createGraph gives differentiable gradients (d²/dx² x³ = 6x)', () => {
    const x = tensor([2, -1], { requiresGrad: true });
    x.pow(3).sum().backward(null, { createGraph: true });
    const g = x.grad!;
    expect(g.toArray()).toEqual([12, 3]);
    x.grad = null;
    g.sum().backward();
    expect(x.grad!.toArray()).toEqual([12, -6]);
  });
  it('a deep chain does not overflow the stack', () => {
    const x = tensor([1], { requiresGrad: true });
    let y = x;
    for (let i = 0; i < 20000; i++) y = y.mul(1);
    y.sum().backward();
    expect(x.grad!.item()).toBe(1);
  });
  it('a graph node names its op', () => {
    const a = tensor([[1, 2]], { requiresGrad: true });
    expect(a.matmul(tensor([[1], [1]])).gradFn!.name).toBe('MatMulBackward');
    expect(a.relu().gradFn!.name).toBe('ReluBackward');
    expect(a.add(1).gradFn!.name).toBe('AddBackward');
    expect(tg.crossEntropy(a, [0]).gradFn!.name).toBe('CrossEntropyBackward');
    expect(a.mean().toString()).toBe('tensor(1.5, gradFn=<MeanBackward>)');
  });
});

describe('memory reuse', () => {
  it('zeroGrad releases .grad and the next backward writes into the same memory if no one read it', () => {
    const lin = new tg.nn.Linear(3, 2);
    const x = tg.randn([4, 3]);
    lin.forward(x).sum().backward();
    const first = tensorInternals.grad(lin.weight)!; // internal read: leaves ownership with the engine
    const expected = Array.from(first.data);
    lin.zeroGrad();
    expect(lin.weight.grad).toBeNull();
    lin.forward(x).sum().backward();
    expect(tensorInternals.grad(lin.weight)).toBe(first);
    expectClose(tensorInternals.grad(lin.weight)!, expected, 0);
    lin.forward(x).sum().backward(); // accumulates in place
    expect(tensorInternals.grad(lin.weight)).toBe(first);
    expectClose(first, expected.map((v) => 2 * v), 1e-6);
  });
  it('a .grad the user read is never written again by backward or recycled by zeroGrad', () => {
    const lin = new tg.nn.Linear(3, 2);
    const x = tg.randn([4, 3]);
    lin.forward(x).sum().backward();
    const seen = lin.weight.grad!;
    const expected = Array.from(seen.data);
    lin.forward(x).sum().backward(); // accumulation goes into a new buffer
    expectClose(seen, expected, 0);
    expectClose(lin.weight.grad!, expected.map((v) => 2 * v), 1e-6);
    const seen2 = lin.weight.grad!;
    lin.zeroGrad();
    lin.forward(x).sum().backward();
    expect(lin.weight.grad).not.toBe(seen2);
    expectClose(seen2, expected.map((v) => 2 * v), 1e-6);
  });
  it('x.grad does not alias the backward seed v (createGraph)', () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    const v = tensor([10, 20, 30]);
    x.add(1).backward(v, { createGraph: true });
    expect(x.grad).not.toBe(v);
    expect(x.grad!.data).not.toBe(v.data);
    x.add(1).backward(tensor([1, 1, 1]));
    expect(Array.from(v.data)).toEqual([10, 20, 30]);
    expect(x.grad!.toArray()).toEqual([11, 21, 31]);
  });
  it('x + y with createGraph gives two leaves gradients that do not share memory', () => {
    const x = tensor([1, 2], { requiresGrad: true }), y = tensor([3, 4], { requiresGrad: true });
    x.add(y).sum().backward(null, { createGraph: true });
    x.mul(2).sum().backward();
    expect(x.grad!.toArray()).toEqual([3, 3]);
    expect(y.grad!.toArray()).toEqual([1, 1]);
  });
  it('the seed of a plain backward through a leaf-only sum is never written', () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    const v = tensor([5, 6, 7]);
    x.mul(1).backward(v);
    x.mul(1).backward(v);
    expect(Array.from(v.data)).toEqual([5, 6, 7]);
    expect(x.grad!.toArray()).toEqual([10, 12, 14]);
  });
  it('a tensor the user assigned to p.grad is not recycled by zeroGrad() and overwritten', () => {
    const lin = new tg.nn.Linear(3, 2);
    const opt = new tg.optim.SGD(lin.parameters(), { lr: 0.1 });
    const mine = tg.ones([2, 3]);
    lin.weight.grad = mine;
    opt.zeroGrad();
    lin.forward(tg.randn([4, 3])).sum().backward();
    expect(lin.weight.grad).not.toBe(mine);
    expect(Array.from(mine.data)).toEqual([1, 1, 1, 1, 1, 1]);
    // and backward adds to an assigned .grad without writing into it
    const mine2 = tg.ones([2, 3]);
    lin.weight.grad = mine2;
    const x = tg.randn([4, 3]);
    lin.forward(x).sum().backward();
    expect(Array.from(mine2.data)).toEqual([1, 1, 1, 1, 1, 1]);
    const colSums = [0, 1, 2].map((j) => [0, 1, 2, 3].reduce((s, r) => s + x.data[r * 3 + j], 0));
    expectClose(lin.weight.grad!, [...colSums, ...colSums].map((c) => 1 + c), 1e-5);
  });
  it('an optimizer subclass that keeps the gradients it is given does not see them rewritten', () => {
    class Keeper extends tg.optim.SGD {
      kept: tg.Tensor[] = [];
      protected override update(p: tg.Tensor, grad: tg.Tensor, st: tg.optim.ParamState, g: tg.optim.ParamGroup): void {
        this.kept.push(grad);
        super.update(p, grad, st, g);
      }
    }
    const lin = new tg.nn.Linear(3, 2);
    const opt = new Keeper(lin.parameters(), { lr: 0 });
    const x = tg.randn([4, 3]);
    lin.forward(x).sum().backward();
    opt.step();
    const first = Array.from(opt.kept[0].data);
    opt.zeroGrad();
    lin.forward(x.mul(5)).sum().backward();
    expectClose(opt.kept[0], first, 0);
  });
  it('a VJP written with the public defineOp that keeps a pooled gradient does not see it rewritten', () => {
    const kept: tg.Tensor[] = [];
    const spy = tg.defineOp({
      name: 'Spy',
      forward: (x: tg.Tensor) => x.clone(),
      vjp: (g) => { kept.push(g); const h = g.mul(1); kept.push(h); return [h]; },
    });
    const w = tg.randn([64, 48], { requiresGrad: true });
    const x = tg.randn([32, 64]);
    const snapshots: number[][] = [];
    for (let i = 0; i < 3; i++) {
      w.grad = null;
      spy(x.matmul(w).tanh()).sum().backward();
      snapshots.push(Array.from(kept[kept.length - 2].data), Array.from(kept[kept.length - 1].data));
      // a different graph with the same sizes would reuse recycled arrays
      x.matmul(w).mul(3).relu().sum().backward();
    }
    for (let i = 0; i < kept.length; i++) expectClose(kept[i], snapshots[i], 0);
  });
  it('pooled scratch gradients never leak stale values into later passes', () => {
    const w = tg.randn([64, 48], { requiresGrad: true });
    const x = tg.randn([32, 64]);
    const grads: number[][] = [];
    for (let i = 0; i < 3; i++) {
      w.grad = null;
      x.matmul(w).relu().matmul(w.T).tanh().sum().backward();
      grads.push(Array.from(w.grad!.data));
    }
    expectClose(grads[1], grads[0], 0);
    expectClose(grads[2], grads[0], 0);
    // the same value from a functional pass, which never uses the pool
    expectClose(tg.grad((w) => x.matmul(w).relu().matmul(w.T).tanh().sum(), [w])[0], grads[0], 1e-6);
  });
  it('Sequential runs a Linear subclass\'s own forward when ReLU/Sigmoid/Tanh follows', () => {
    class Doubled extends tg.nn.Linear {
      override forward(x: tg.Tensor): tg.Tensor { return super.forward(x).mul(2); }
    }
    for (const Act of [tg.nn.ReLU, tg.nn.Sigmoid, tg.nn.Tanh]) {
      const lin = new Doubled(3, 2);
      const x = tg.randn([4, 3]);
      const y = new tg.nn.Sequential(lin, new Act()).forward(x);
      expectClose(y, new Act().forward(lin.forward(x)), 1e-6);
      expect(y.gradFn!.inputs[0].gradFn!.name).toBe('MulBackward');
    }
  });
  it('Sequential fuses Linear+activation with the same values and gradients as separate ops', () => {
    for (const Act of [tg.nn.ReLU, tg.nn.Sigmoid, tg.nn.Tanh]) {
      tg.manualSeed(5);
      const fused = new tg.nn.Sequential(new tg.nn.Linear(5, 4), new Act(), new tg.nn.Linear(4, 3));
      const x = tg.randn([6, 5]);
      const y = fused.forward(x);
      expect(y.gradFn!.inputs[0].gradFn!.name).toMatch(/^Linear(Relu|Sigmoid|Tanh)Backward$/);
      const [l1, act, l2] = [...fused];
      const ref = l2.forward(act.forward(l1.forward(x)));
      expectClose(y, ref, 1e-6);
      y.pow(2).sum().backward();
      const g = Array.from((l1 as tg.nn.Linear).weight.grad!.data);
      fused.zeroGrad();
      ref.pow(2).sum().backward();
      expectClose((l1 as tg.nn.Linear).weight.grad!, g, 1e-5);
    }
  });
});

describe('recycled hidden activations (pool.ts, rule 6)', () => {
  // hidden activations of 32·48 and 32·32 floats: large enough for the pool
  const build = () => {
    tg.manualSeed(11);
    return new tg.nn.Sequential(new tg.nn.Linear(40, 48), new tg.nn.ReLU(), new tg.nn.Linear(48, 32), new tg.nn.Tanh(), new tg.nn.Linear(32, 5));
  };
  const hiddenOf = (y: tg.Tensor): tg.Tensor[] => {
    // internal reads: they do not mark the nodes as exposed
    const h2 = nodeInternals.inputs(y.gradFn!)[0];
    return [nodeInternals.inputs(h2.gradFn!)[0], h2];
  };
  const step = (model: tg.nn.Sequential, x: tg.Tensor): number[] => {
    model.zeroGrad();
    model.forward(x).pow(2).mean().backward();
    return [...model.parameters()].flatMap((p) => Array.from(tensorInternals.grad(p)!.data));
  };

  it('a plain step reuses the previous step\'s hidden arrays, with the values of fresh memory', () => {
    const model = build();
    const x = tg.randn([32, 40]);
    const y1 = model.forward(x);
    const [h1, h2] = hiddenOf(y1).map((h) => h.data);
    y1.pow(2).mean().backward();
    const y2 = model.forward(x);
    const again = hiddenOf(y2).map((h) => h.data);
    expect(new Set([h1, h2])).toEqual(new Set(again)); // recycled
    expectClose(y2, Array.from(y1.data), 0);
    model.zeroGrad();
    y2.pow(2).mean().backward();
    const g = [...model.parameters()].flatMap((p) => Array.from(tensorInternals.grad(p)!.data));
    const ref = tg.grad(() => model.forward(x).pow(2).mean(), [...model.parameters()]); // no pool
    expectClose(g, ref.flatMap((t) => Array.from(t!.data)), 1e-6);
  });
  it('a hidden activation reached through gradFn.inputs is never overwritten', () => {
    const model = build();
    const x = tg.randn([32, 40]);
    const y = model.forward(x);
    const h2 = y.gradFn!.inputs[0]; // public read: marks the node as exposed
    const h1 = h2.gradFn!.inputs[0];
    const saved = [Array.from(h1.data), Array.from(h2.data)];
    y.pow(2).mean().backward();
    for (let i = 0; i < 3; i++) step(model, tg.randn([32, 40]));
    expectClose(h1, saved[0], 0);
    expectClose(h2, saved[1], 0);
  });
  it('the model output the caller holds is never overwritten', () => {
    const model = build();
    const y = model.forward(tg.randn([32, 40]));
    const saved = Array.from(y.data);
    y.pow(2).mean().backward();
    for (let i = 0; i < 3; i++) step(model, tg.randn([32, 40]));
    expectClose(y, saved, 0);
  });
  it('a graph kept with retainGraph keeps its activations: a second backward after other steps gives the same gradients', () => {
    const model = build();
    const x = tg.randn([32, 40]);
    const loss = model.forward(x).pow(2).mean();
    model.zeroGrad();
    loss.backward(undefined, { retainGraph: true });
    const first = [...model.parameters()].map((p) => Array.from(p.grad!.data));
    for (let i = 0; i < 3; i++) step(model, tg.randn([32, 40]));
    model.zeroGrad();
    loss.backward();
    [...model.parameters()].forEach((p, i) => expectClose(p.grad!, first[i], 0));
  });
  it('a Linear subclass or a module between the Linears keeps its input: nothing is recycled', () => {
    class Keeping extends tg.nn.Linear {
      kept: tg.Tensor[] = [];
      override forward(x: tg.Tensor): tg.Tensor { this.kept.push(x); return super.forward(x); }
    }
    tg.manualSeed(3);
    const keep = new Keeping(48, 32);
    const model = new tg.nn.Sequential(new tg.nn.Linear(40, 48), new tg.nn.ReLU(), keep, new tg.nn.Linear(32, 5));
    for (let i = 0; i < 3; i++) step(model, tg.randn([32, 40]));
    const saved = keep.kept.map((t) => Array.from(t.data));
    for (let i = 0; i < 3; i++) step(model, tg.randn([32, 40]));
    keep.kept.slice(0, 3).forEach((t, i) => expectClose(t, saved[i], 0));
  });
});

describe('functional grad and vjp', () => {
  it('grad of a scalar function with several inputs', () => {
    const [ga, gb] = tg.grad((a, b) => a.mul(b).sum(), [tensor([1, 2]), tensor([3, 4])]);
    expect(ga.toArray()).toEqual([3, 4]);
    expect(gb.toArray()).toEqual([1, 2]);
  });
  it('grad leaves .grad of its inputs untouched', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    tg.grad((x) => x.pow(2).sum(), [x]);
    expect(x.grad).toBeNull();
  });
  it('grad of grad: third derivative of sin-free polynomial', () => {
    const d1 = (x: tg.Tensor) => tg.grad((y) => y.pow(4).sum(), [x])[0];
    const d2 = (x: tg.Tensor) => tg.grad((y) => d1(y).sum(), [x])[0];
    const d3 = (x: tg.Tensor) => tg.grad((y) => d2(y).sum(), [x])[0];
    const x = tensor([1.5, -2]);
    expectClose(d1(x), [4 * 1.5 ** 3, 4 * -8], 1e-6);
    expectClose(d2(x), [12 * 1.5 ** 2, 48], 1e-6);
    expectClose(d3(x), [24 * 1.5, -48], 1e-6);
  });
  it('vjp(f, x, v) = vᵀ J without building J', () => {
    // f(x) = A x, so vᵀJ = vᵀA
    const A = tensor([[1, 2, 3], [4, 5, 6]]);
    const [y, g] = tg.vjp((x) => A.matmul(x), tensor([1, 0, -1]), tensor([1, -1]));
    expect(y.toArray()).toEqual([-2, -2]);
    expect(g.toArray()).toEqual([-3, -3, -3]);
  });
  it('grad rejects a non-scalar f with a hint', () => {
    expect(() => tg.grad((x) => x.mul(2), [tensor([1, 2])])).toThrow(/grad: f must return a scalar, got shape \[2\]; use vjp/);
  });
});

describe('anomaly detection', () => {
  it('names the forward op that first produced NaN', () => {
    const x = tensor([1, -1, 2], { requiresGrad: true });
    expect(() => tg.detectAnomaly(() => x.mul(2).log().sum())).toThrow(
      'anomaly: Log produced NaN at flat index 1 of its output [3] from finite inputs [3]');
    expect(x.mul(2).log().sum().item()).toBeNaN(); // off by default
  });
  it('names the VJP that first produced Inf in backward, with where the op was called', () => {
    const x = tensor([0, 4], { requiresGrad: true });
    const err = (() => { try { tg.detectAnomaly(() => x.sqrt().sum().backward()); } catch (e) { return (e as Error).message; } return ''; })();
    expect(err).toMatch(/^anomaly: SqrtBackward produced Infinity at flat index 0 of the gradient for its input 0 \[2\] from a finite incoming gradient/);
    expect(err).toMatch(/the forward op was called at:\n[\s\S]*autograd\.test\.ts/);
  });
  it('says when a non-finite value came from the data', () => {
    expect(() => tg.detectAnomaly(() => tensor([1, NaN]).exp())).toThrow(/input 0 of Exp .* already contains a non-finite value: it came from outside/);
  });
  it('checks gradients the fused gemm writes straight into .grad', () => {
    const lin = new tg.nn.Linear(2, 1);
    const x = tensor([[1e30, 1e30]]);
    expect(() => tg.detectAnomaly(() => lin.forward(x).pow(2).sum().backward())).toThrow(/anomaly: (Pow|Linear)\w* produced/);
  });
});

describe('VJP context', () => {
  it("passes the forward's saved state, the needs-grad mask and createGraph to the VJP", () => {
    const seen: { saved: number; needs: boolean[]; createGraph: boolean; dest: unknown }[] = [];
    const prod = tg.defineOp({
      name: 'Prod',
      forward: (a: tg.Tensor, b: tg.Tensor) => ({ out: tg.noGrad(() => a.mul(b)), saved: 7 }),
      vjp: (g, ctx, a, b) => {
        seen.push({ saved: ctx.saved, needs: [...ctx.needsInputGrad], createGraph: ctx.createGraph, dest: ctx.gradInto(1) });
        return [ctx.needsInputGrad[0] ? g.mul(b) : null, ctx.needsInputGrad[1] ? g.mul(a) : null];
      },
    });
    const a = tensor([1, 2]), b = tensor([3, 4], { requiresGrad: true });
    prod(a, b).sum().backward();
    expect(b.grad!.toArray()).toEqual([1, 2]);
    const a2 = tensor([5, 6], { requiresGrad: true });
    const [ga] = tg.grad((x) => prod(x, b).mul(x).sum(), [a2], { createGraph: true });
    expect(ga.toArray()).toEqual([2 * 5 * 3, 2 * 6 * 4]); // d(b·x²)/dx
    expect(seen).toEqual([
      // a user VJP never gets an engine-owned .grad buffer (it may keep what it sees)
      { saved: 7, needs: [false, true], createGraph: false, dest: null },
      { saved: 7, needs: [true, true], createGraph: true, dest: null },
    ]);
  });
  it('a fused loss VJP takes createGraph from the context: the raw kernel without it, differentiable ops with it', () => {
    const logits = tensor([[1, 2, 0.5], [0.1, -1, 2]], { requiresGrad: true });
    const [g1] = tg.grad((x) => tg.crossEntropy(x, [1, 2]), [logits], { createGraph: false });
    const [g2] = tg.grad((x) => tg.crossEntropy(x, [1, 2]), [logits], { createGraph: true });
    expect(g1.gradFn).toBeNull();
    expect(g2.gradFn).not.toBeNull(); // built from differentiable ops
    expectClose(g2, Array.from(g1.data), 1e-6);
  });
});

describe('public surface', () => {
  it('Tensor and Node show no underscored internals', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = x.mul(2);
    y.sum().backward();
    for (const o of [x, y, y.gradFn!, Object.getPrototypeOf(x), Object.getPrototypeOf(y.gradFn!)]) {
      expect(Object.getOwnPropertyNames(o).filter((n) => n.startsWith('_'))).toEqual([]);
    }
    expect(Object.keys(x).sort()).toEqual(['data', 'gradFn', 'requiresGrad', 'shape']);
  });
});
