// The int32 dtype: creation, conversions, the promotion of int32 inputs to float ops, int32 indices
// from argmax/argmin/sort/topk/maxWithIndices/randint, index consumers, labels in datasets and fit,
// safetensors I32/I64 and BatchNorm's num_batches_tracked. Expected values are derived by hand.
import { describe, it, expect } from 'vitest';
import * as tg from '../lib/index.js';
import { nn, optim, tensor, Tensor } from '../lib/index.js';
import { decodeSafetensors, encodeSafetensors } from '../lib/io/safetensors.js';
import { DataLoader, TensorDataset } from '../lib/data/index.js';
import { spirals, xor } from '../lib/data/synthetic.js';
import { evaluate } from '../lib/train/evaluate.js';
import { fit } from '../lib/train/fit.js';
import { reduceKernel } from '../lib/ops/reduce.js';
import { expectClose, expectGradcheck } from './helpers.js';

const int = (v: tg.NestedArray): Tensor => tensor(v, { dtype: 'int32' });

describe('creation', () => {
  it('tensor, zeros, ones, full, arange, eye, linspace with dtype int32', () => {
    const t = int([[1, -2], [3, 4]]);
    expect(t.dtype).toBe('int32');
    expect(t.data).toBeInstanceOf(Int32Array);
    expect(t.toArray()).toEqual([[1, -2], [3, 4]]);
    expect(int(7).item()).toBe(7);
    expect(String(int([1, 2]))).toBe('tensor([1, 2], dtype=int32)');
    // values truncate toward zero, as torch.tensor([1.7, -1.7], dtype=torch.int32)
    expect(Array.from(int([1.7, -1.7, -0.5]).data)).toEqual([1, -1, 0]);
    const shared = new Int32Array([5, 6]);
    expect(tensor(shared).data).toBe(shared); // an Int32Array is taken as int32 without a copy
    expect(tg.zeros([2], { dtype: 'int32' }).data).toEqual(new Int32Array([0, 0]));
    expect(tg.ones(2, { dtype: 'int32' }).data).toEqual(new Int32Array([1, 1]));
    expect(tg.full([2], 2.9, { dtype: 'int32' }).data).toEqual(new Int32Array([2, 2]));
    expect(tg.arange(0, 5, 2, { dtype: 'int32' }).data).toEqual(new Int32Array([0, 2, 4]));
    expect(tg.eye(2, 2, { dtype: 'int32' }).data).toEqual(new Int32Array([1, 0, 0, 1]));
    expect(tg.linspace(0, 10, 4, { dtype: 'int32' }).data).toEqual(new Int32Array([0, 3, 6, 10]));
    expect(tg.zerosLike(t).dtype).toBe('int32');
  });

  it('refuses what has no int32 meaning, naming the op and the value', () => {
    expect(() => int([1, NaN])).toThrow(/tensor: cannot convert NaN at index 1 to int32 \(not a finite number\)/);
    expect(() => tg.full([1], 2 ** 31, { dtype: 'int32' })).toThrow(/full: cannot convert 2147483648 at index 0 to int32 \(outside \[-2147483648, 2147483647\]\)/);
    expect(() => tg.rand([2], { dtype: 'int32' })).toThrow(/rand: dtype int32 is not supported/);
    expect(() => tg.randn([2], { dtype: 'int32' })).toThrow(/randn: dtype int32 is not supported/);
    expect(() => tg.setDefaultDtype('int32')).toThrow(/setDefaultDtype: only floating point dtypes/);
    expect(() => tensor([1], { dtype: 'int64' as tg.DType })).toThrow(/tensor: unknown dtype the string 'int64' \(expected 'float32', 'float64', 'int32'\)/);
    expect(() => tg.randint(0, 2 ** 31 + 1, [1])).toThrow(/randint: \[0, 2147483649\) does not fit int32/);
  });
});

describe('int32 never requires grad', () => {
  it('requiresGrad_, requiresGrad = true, creation with requiresGrad, and optimizers refuse it', () => {
    expect(() => int([1]).requiresGrad_()).toThrow(/requiresGrad_: only floating point tensors can require gradients, got an int32 tensor/);
    const forced = int([1]);
    forced.requiresGrad = true; // a plain field: the op layer refuses it
    expect(() => forced.exp()).toThrow(/requiresGrad: only floating point tensors can require gradients/);
    expect(() => tg.zeros([2], { dtype: 'int32', requiresGrad: true })).toThrow(/only floating point tensors can require gradients/);
    const p = int([1, 2]);
    expect(() => new optim.SGD([p], { lr: 0.1 })).toThrow(/SGD: parameter 0 \(shape \[2\]\) is an int32 tensor; only floating point tensors can be optimized/);
    expect(int([1]).requiresGrad_(false).requiresGrad).toBe(false);
    const y = tensor([1, 2], { requiresGrad: true }).mul(2);
    expect(() => y.backward(int([1, 1]))).toThrow(/backward: the gradient must be a floating point tensor, got int32/);
  });
});

describe('conversions', () => {
  it('int() truncates toward zero and refuses NaN, ±Infinity and values outside int32', () => {
    const x = tensor([2.9, -2.9, -0.4, 0, 2147483520], { dtype: 'float32' });
    expect(Array.from(x.int().data)).toEqual([2, -2, 0, 0, 2147483520]);
    expect(tensor([2147483647, -2147483648], { dtype: 'float64' }).int().toArray()).toEqual([2147483647, -2147483648]);
    expect(() => tensor([1, Infinity]).int()).toThrow(/int: cannot convert Infinity at index 1 to int32 \(not a finite number\)/);
    expect(() => tensor([-Infinity]).to('int32')).toThrow(/to: cannot convert -Infinity at index 0 to int32/);
    expect(() => tensor([0, 0, NaN]).int()).toThrow(/int: cannot convert NaN at index 2 to int32/);
    expect(() => tensor([2147483648], { dtype: 'float64' }).int()).toThrow(/int: cannot convert 2147483648 at index 0 to int32 \(outside/);
    expect(() => tensor([-2147483649], { dtype: 'float64' }).int()).toThrow(/int: cannot convert -2147483649 at index 0 to int32/);
    expect(() => int([1]).to('int8' as tg.DType)).toThrow(/to: unknown dtype the string 'int8'/);
  });

  it('float() and double() of int32; .to of the same dtype is the tensor itself', () => {
    const i = int([16777217, -3, 2147483647]);
    expect(i.double().dtype).toBe('float64');
    expect(Array.from(i.double().data)).toEqual([16777217, -3, 2147483647]); // exact in float64
    expect(Array.from(i.float().data)).toEqual([16777216, -3, 2147483648]); // float32 rounding, as PyTorch
    expect(i.int()).toBe(i);
    expect(tensor([3.7]).long().toArray()).toEqual([3]);
    expect(tensor([3.7]).long().dtype).toBe('int32');
    const f = tensor([1.5]);
    expect(f.float()).toBe(f);
    expect(f.to('float32')).toBe(f);
  });

  it('float → float stays on the tape; float → int32 leaves it', () => {
    const x = tensor([1.5, -2], { requiresGrad: true });
    const d = x.double();
    expect(d.dtype).toBe('float64');
    d.mul(d).sum().backward();
    expect(x.grad!.dtype).toBe('float32');
    expect(Array.from(x.grad!.data)).toEqual([3, -4]);
    expect(x.int().requiresGrad).toBe(false);
  });
});

describe('ops producing indices return int32 with the same values', () => {
  const x = tensor([[3, 9, 9, 1], [-1, -5, 2, 2]]);
  it('argmax, argmin, maxWithIndices, minWithIndices', () => {
    for (const [t, v] of [
      [x.argmax(1), [1, 2]], [x.argmin(1), [3, 1]], [x.argmax(), 1], [x.argmin(), 5],
      [x.argmax(0, true), [[0, 0, 0, 1]]], [x.maxWithIndices(1).indices, [1, 2]], [x.minWithIndices(0).indices, [1, 1, 1, 0]],
    ] as [Tensor, unknown][]) {
      expect(t.dtype).toBe('int32');
      expect(t.toArray()).toEqual(v);
    }
  });
  it('sort, topk (also on 0-d tensors) and randint', () => {
    expect(x.sort(1).indices.dtype).toBe('int32');
    expect(x.sort(1).indices.toArray()).toEqual([[3, 0, 1, 2], [1, 0, 2, 3]]);
    expect(x.topk(2, 1).indices.toArray()).toEqual([[1, 2], [2, 3]]);
    expect(x.topk(1, 0, false).indices.dtype).toBe('int32');
    expect(tensor(4).sort().indices.dtype).toBe('int32');
    expect(tensor(4).topk(1).indices.dtype).toBe('int32');
    tg.manualSeed(3);
    const r = tg.randint(-2, 3, [1000]);
    expect(r.dtype).toBe('int32');
    expect(Math.min(...r.data)).toBe(-2);
    expect(Math.max(...r.data)).toBe(2);
    expect(tg.randint(0, 4, [3], { dtype: 'float64' }).dtype).toBe('float64');
  });
  it('index ops read int32 inputs exactly (values above 2^24)', () => {
    const big = int([16777217, 16777216, -7]);
    expect(big.argmax().item()).toBe(0);
    expect(big.argmin().item()).toBe(2);
    expect(big.sort().indices.toArray()).toEqual([2, 1, 0]);
    const s = big.sort(0, true);
    expect(s.values.dtype).toBe('int32');
    expect(s.values.toArray()).toEqual([16777217, 16777216, -7]);
  });
});

describe('promotion of int32 inputs', () => {
  it('float ops on int32 compute in float32 (float64 with a float64 operand)', () => {
    const i = int([1, 2, 4]);
    const e = i.exp();
    expect(e.dtype).toBe('float32');
    expectClose(e, [Math.E, Math.E ** 2, Math.E ** 4]);
    expect(i.mean().dtype).toBe('float32');
    expect(i.mean().item()).toBeCloseTo(7 / 3, 6);
    expect(i.log().data[2]).toBeCloseTo(Math.log(4), 6);
    expect(i.sum().item()).toBe(7);
    expect(i.add(0.5).toArray()).toEqual([1.5, 2.5, 4.5]);
    const d = i.mul(tensor([0.1, 0.1, 0.1], { dtype: 'float64' }));
    expect(d.dtype).toBe('float64');
    expect(Array.from(d.data)).toEqual([0.1, 0.2, 0.4]);
    expect(i.div(tensor([2])).toArray()).toEqual([0.5, 1, 2]);
    expect(i.matmul(tensor([[1], [10], [100]])).toArray()).toEqual([421]);
    expect(int([[-1, 2]]).relu().toArray()).toEqual([[0, 2]]);
    expectClose(int([[0, 1]]).softmax(1), [[1 / (1 + Math.E), Math.E / (1 + Math.E)]]);
  });

  it('every float op on an int32 tensor equals the op on its float32 copy (kernels never see int32 memory)', () => {
    const x = int([[1, -2], [3, 4]]);
    const ops: Record<string, (t: Tensor) => Tensor> = {
      matmul: (t) => t.matmul(t), linear: (t) => tg.linear(t, tensor([[1, 0.5]])), softmax: (t) => t.softmax(1), logSoftmax: (t) => t.logSoftmax(0),
      logsumexp: (t) => t.logsumexp(1), var: (t) => t.var(), std: (t) => t.std(1), norm: (t) => t.norm(), cumsum: (t) => t.cumsum(1),
      max: (t) => t.max(1), min: (t) => t.min(), sigmoid: (t) => t.sigmoid(), tanh: (t) => t.tanh(), gelu: (t) => tg.gelu(t), silu: (t) => tg.silu(t),
      elu: (t) => tg.elu(t), mish: (t) => tg.mish(t), softplus: (t) => tg.softplus(t), leakyRelu: (t) => tg.leakyRelu(t), erf: (t) => tg.erf(t),
      layerNorm: (t) => tg.layerNorm(t, [2]), batchNorm: (t) => tg.batchNorm(t, null, null, { training: true }), pow: (t) => t.pow(2),
      clamp: (t) => t.clamp(2, 3), maximum: (t) => tg.maximum(t, tensor([2.5])), sin: (t) => t.sin(), abs: (t) => t.abs(), sqrt: (t) => t.abs().sqrt(),
      neg: (t) => t.neg(), mseLoss: (t) => tg.mseLoss(tensor([[0.5, 0.5], [1, 1]]), t), l1Loss: (t) => tg.l1Loss(tensor([[0.5, 0.5], [1, 1]]), t),
      crossEntropy: (t) => tg.crossEntropy(t, [0, 1]),
    };
    for (const [name, f] of Object.entries(ops)) {
      const a = f(x), b = f(x.float());
      expect(a.dtype, name).toBe('float32');
      expect(Array.from(a.data), name).toEqual(Array.from(b.data));
    }
  });

  it('a kernel handed int32 memory refuses it (the backstop behind the op layer)', () => {
    expect(() => reduceKernel('sum', int([1, 2]), null, false)).toThrow(/kernels: int32 memory reached a float kernel/);
  });

  it('gradients reach the float operand of a mixed op', () => {
    const w = tensor([0.5, -1, 2], { requiresGrad: true });
    w.mul(int([3, 0, -2])).sum().backward();
    expect(Array.from(w.grad!.data)).toEqual([3, 0, -2]);
    expectGradcheck((a) => a.mul(int([3, 1, -2])).add(int([1, 1, 1])).exp(), [tensor([0.1, -0.2, 0.3], { dtype: 'float64' })]);
  });

  it('comparisons are exact and the accuracy idiom gives the right numbers', () => {
    expect(int([16777217, 5]).eq(int([16777216, 5])).toArray()).toEqual([0, 1]);
    expect(int([1, 2, 3]).gt(2).toArray()).toEqual([0, 0, 1]);
    expect(int([1, 2, 3]).lt(tensor([1.5, 1.5, 3.5])).toArray()).toEqual([1, 0, 1]);
    expect(int([1]).eq(int([1])).dtype).toBe('float32');
    expect(int([1]).eq(tensor([1], { dtype: 'float64' })).dtype).toBe('float64');
    const logits = tensor([[0.1, 2, 0], [3, 0, 1], [0, 0, 5], [1, 4, 0]]);
    const y = int([1, 0, 1, 1]);
    const pred = logits.argmax(1);
    expect(pred.eq(y).sum().item()).toBe(3);
    expect(pred.eq(y).float().mean().item()).toBe(0.75);
  });

  it('data-moving ops keep int32; mixed with floats they promote', () => {
    const i = int([[1, 2, 3], [4, 5, 6]]);
    const same = (t: Tensor, v: unknown): void => { expect(t.dtype).toBe('int32'); expect(t.toArray()).toEqual(v); };
    same(i.reshape(3, 2), [[1, 2], [3, 4], [5, 6]]);
    same(i.T, [[1, 4], [2, 5], [3, 6]]);
    same(i.indexSelect(0, int([1, 1])), [[4, 5, 6], [4, 5, 6]]);
    same(i.gather(1, int([[2], [0]])), [[3], [4]]);
    same(tg.narrow(tg.concat([i, i], 0), 0, 1, 2), [[4, 5, 6], [1, 2, 3]]);
    same(tg.stack([int([1]), int([2])]), [[1], [2]]);
    same(int([7]).expand(2), [7, 7]);
    same(i.split(2, 1)[1], [[3], [6]]);
    same(i.repeat(1, 2), [[1, 2, 3, 1, 2, 3], [4, 5, 6, 4, 5, 6]]);
    same(int([2147483647]).reshape([1, 1]), [[2147483647]]);
    expect(tensor([1, 2, 3]).maskedFill(int([0, 1, 0]), -1).toArray()).toEqual([1, -1, 3]);
    expect(tg.where(int([1, 0]), int([5, 6]), tensor([0.5, 0.5])).toArray()).toEqual([5, 0.5]);
    const m = tg.concat([int([1, 2]), tensor([0.5])]);
    expect(m.dtype).toBe('float32');
    expect(m.toArray()).toEqual([1, 2, 0.5]);
  });
});

describe('index consumers take int32, float integers and arrays', () => {
  const logits = tensor([[1, 2, 0.5], [0.1, -1, 3]]);
  it('crossEntropy, nllLoss, gather, indexSelect, Embedding, oneHot', () => {
    const viaInt = tg.crossEntropy(logits, int([1, 2])).item();
    expect(tg.crossEntropy(logits, tensor([1, 2])).item()).toBe(viaInt);
    expect(tg.crossEntropy(logits, [1, 2]).item()).toBe(viaInt);
    const lse = (r: number[]): number => Math.log(r.reduce((s, v) => s + Math.exp(v), 0));
    expect(viaInt).toBeCloseTo((lse([1, 2, 0.5]) - 2 + lse([0.1, -1, 3]) - 3) / 2, 6);
    expect(tg.nllLoss(logits.logSoftmax(1), int([1, 2])).item()).toBeCloseTo(viaInt, 6);
    expect(() => tg.crossEntropy(logits, int([1, 3]))).toThrow(/crossEntropy/);
    expect(() => tg.crossEntropy(logits, tensor([1, 0.5]))).toThrow(/crossEntropy/);
    expectClose(logits.gather(1, int([[2], [0]])), [[0.5], [0.1]]);
    expect(() => logits.indexSelect(1, int([3]))).toThrow(/indexSelect: index 3 at position 0 is out of range \[0, 3\)/);
    const emb = new nn.Embedding(4, 2);
    expect(emb.forward(int([3, 0])).toArray()).toEqual(emb.forward([3, 0]).toArray());
    expect(tg.oneHot(int([2, 0]), 3).toArray()).toEqual([[0, 0, 1], [1, 0, 0]]);
  });
});

describe('labels in datasets, loaders and fit', () => {
  it('synthetic datasets have int32 labels; DataLoader batches keep them int32', () => {
    expect(xor().y.dtype).toBe('int32');
    const d = spirals(20, { seed: 1 });
    expect(d.y.dtype).toBe('int32');
    const batches = [...new DataLoader(new TensorDataset(d.x, d.y), { batchSize: 8 })];
    expect(batches[0][1].dtype).toBe('int32');
    expect(Array.from(batches[0][1].data)).toEqual(Array.from(d.y.data.subarray(0, 8)));
  });

  it('fit and evaluate give the same numbers with int32 labels as with float labels', async () => {
    const d = spirals(64, { seed: 2, classes: 3 });
    const run = async (y: Tensor): Promise<number[]> => {
      tg.manualSeed(5);
      const model = new nn.Sequential(new nn.Linear(2, 8), new nn.ReLU(), new nn.Linear(8, 3));
      const opt = new optim.Adam(model.parameters(), { lr: 0.05 });
      const h = await fit(model, new DataLoader(new TensorDataset(d.x, y), { batchSize: 16 }), { lossFn: new nn.CrossEntropyLoss(), optimizer: opt, epochs: 3 });
      const e = evaluate(model, [d.x, y], new nn.CrossEntropyLoss());
      return [...h.epochs.map((ep) => ep.loss), e.loss, e.accuracy ?? NaN];
    };
    const a = await run(d.y), b = await run(d.y.float());
    expect(a).toEqual(b);
    expect(a[2]).toBeLessThan(a[0]); // it learns
  });
});

describe('safetensors int32', () => {
  it('I32 round trip, I64 narrowed to int32', () => {
    const t = int([[0, -2147483648], [2147483647, 42]]);
    const buf = encodeSafetensors({ idx: t, w: tensor([0.5]) });
    const header = JSON.parse(buf.subarray(8, 8 + Number(buf.readBigUInt64LE(0))).toString());
    expect(header.idx.dtype).toBe('I32');
    const back = decodeSafetensors(buf).tensors;
    expect(back.idx.dtype).toBe('int32');
    expect(back.idx.shape).toEqual([2, 2]);
    expect(back.idx.toArray()).toEqual(t.toArray());
    expect(back.w.dtype).toBe('float32');
    const raw = (dtype: string, shape: number[], bytes: Buffer): Buffer => {
      const h = Buffer.from(JSON.stringify({ n: { dtype, shape, data_offsets: [0, bytes.length] } }).padEnd(56));
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(h.length));
      return Buffer.concat([len, h, bytes]);
    };
    const i64 = Buffer.alloc(16);
    i64.writeBigInt64LE(-5n, 0); i64.writeBigInt64LE(7n, 8);
    const n = decodeSafetensors(raw('I64', [2], i64)).tensors.n;
    expect(n.dtype).toBe('int32');
    expect(n.toArray()).toEqual([-5, 7]);
    i64.writeBigInt64LE(-(2n ** 31n) - 1n, 8);
    expect(() => decodeSafetensors(raw('I64', [2], i64))).toThrow(/tensor "n": I64 element 1 is -2147483649, outside the int32 range/);
    expect(() => decodeSafetensors(raw('I32', [3], Buffer.alloc(8)))).toThrow(/tensor "n": data_offsets \[0, 8\] span 8 bytes but shape \[3\] of I32 needs 12/);
  });

  it('BatchNorm1d keeps num_batches_tracked as an int32 buffer, saved as I32 and loaded back', () => {
    const m = new nn.BatchNorm1d(2);
    expect(m.numBatchesTracked!.dtype).toBe('int32');
    m.forward(tensor([[1, 2], [3, 5]]));
    m.forward(tensor([[0, 2], [3, 1]]));
    const buf = encodeSafetensors(m.stateDict());
    expect(JSON.parse(buf.subarray(8, 8 + Number(buf.readBigUInt64LE(0))).toString()).num_batches_tracked.dtype).toBe('I32');
    const m2 = new nn.BatchNorm1d(2);
    m2.loadStateDict(decodeSafetensors(buf).tensors);
    expect(m2.numBatchesTracked!.item()).toBe(2);
    expect(m2.numBatchesTracked!.dtype).toBe('int32');
  });

  it('loadStateDict checks dtypes: float integers go into int32 buffers, int32 never into float tensors', () => {
    const m = new nn.BatchNorm1d(2);
    const sd = m.stateDict();
    m.loadStateDict({ ...sd, num_batches_tracked: tensor(3) }); // as older tapegrad files stored it (F32)
    expect(m.numBatchesTracked!.item()).toBe(3);
    expect(m.numBatchesTracked!.dtype).toBe('int32');
    expect(() => m.loadStateDict({ ...sd, num_batches_tracked: tensor(2.5) }))
      .toThrow(/value for int32 buffer 'num_batches_tracked' is not an int32 integer: element 0 of the float32 tensor is 2.5/);
    expect(() => m.loadStateDict({ ...sd, weight: int([1, 1]) }))
      .toThrow(/dtype mismatch for 'weight': copying an int32 tensor from the state dict into float32/);
    expect(m.numBatchesTracked!.item()).toBe(3); // nothing copied on failure
  });
});
