// where, maskedFill, sin, cos, log1p, expm1, sort, topk, split, chunk, repeat, randint, linspace:
// gradcheck and PyTorch 1.13 float64 fixtures (test/fixtures/gen_torch_select.py).
import { describe, it, expect } from 'vitest';
import * as tg from '../lib/index.js';
import { Tensor, tensor } from '../lib/index.js';
import { awayFromZero as az, expectClose, expectGradcheck } from './helpers.js';
import fixtures from './fixtures/torch_select.json' with { type: 'json' };

const mask = (...v: number[]): Tensor => tensor(v);

describe('gradcheck', () => {
  const cases: [string, (...xs: Tensor[]) => Tensor, Tensor[]][] = [
    ['sin', (x) => x.sin(), [az([2, 3], 1)]],
    ['cos', (x) => x.cos(), [az([2, 3], 2)]],
    ['log1p', (x) => x.log1p(), [az([2, 3], 3, 0.1, 0.9)]],
    ['expm1', (x) => x.expm1(), [az([2, 3], 4)]],
    ['where broadcast', (a, b) => tg.where(tensor([[1], [0], [1]]), a, b), [az([3, 4], 5), az([4], 6)]],
    ['where scalar', (a) => tg.where(mask(1, 0, 0, 1), a, 0.5), [az([2, 4], 7)]],
    ['maskedFill', (x) => x.maskedFill(mask(0, 1, 1), -1.5), [az([2, 3], 8)]],
    ['sort', (x) => x.sort(1, true).values, [az([3, 5], 9)]],
    ['sort dim 0', (x) => x.sort(0).values, [az([4, 3], 10)]],
    ['topk', (x) => x.topk(2).values, [az([3, 5], 11)]],
    ['topk smallest dim 0', (x) => x.topk(3, 0, false).values, [az([4, 3], 12)]],
    ['split', (x) => tg.concat(x.split([1, 3, 1], 1).map((p, i) => p.mul(i + 1)), 1), [az([2, 5, 3], 13)]],
    ['chunk', (x) => tg.concat(x.chunk(3, 0).map((p, i) => p.mul(i + 1)), 0), [az([7, 2], 14)]],
    ['repeat', (x) => x.repeat(2, 1, 2), [az([2, 3], 15)]],
  ];
  for (const [name, f, inputs] of cases) it(name, () => expectGradcheck(f, inputs));

  it('second derivatives (the VJPs are differentiable)', () => {
    for (const f of [
      (x: Tensor) => x.sin().mul(x).sum(),
      (x: Tensor) => x.cos().pow(2).sum(),
      (x: Tensor) => x.abs().log1p().mul(x).sum(),
      (x: Tensor) => x.expm1().mul(x).sum(),
      (x: Tensor) => tg.where(tensor([1, 0, 1]), x.pow(2), x.pow(3)).sum(),
      (x: Tensor) => x.sort(1).values.pow(3).mul(tensor([1, 2, 3])).sum(),
      (x: Tensor) => x.repeat(2, 1).pow(3).sum(),
    ]) {
      expectGradcheck((x) => tg.grad(f, [x])[0].mul(tensor([[1, -2, 0.5], [0.3, 1, -1]])).sum(), [az([2, 3], 31)]);
    }
  });
});

type Enc = { shape: number[]; data: number[] };
type Case = { name: string; inputs: Enc[]; outputs: Enc[]; grads?: (Enc | null)[] };

const run: Record<string, (...xs: Tensor[]) => Tensor | Tensor[] | tg.SortResult> = {
  'where broadcast': (c, a, b) => tg.where(c, a, b),
  'where scalar b': (c, a) => tg.where(c, a, 0.5),
  maskedFill: (x, m) => x.maskedFill(m, -1.5),
  sin: (x) => tg.sin(x),
  cos: (x) => tg.cos(x),
  log1p: (x) => tg.log1p(x),
  expm1: (x) => tg.expm1(x),
  'sort ascending': (x) => tg.sort(x, -1, false),
  'sort descending': (x) => x.sort(-1, true),
  'sort dim 0': (x) => x.sort(0),
  'topk largest': (x) => tg.topk(x, 3, -1),
  'topk smallest': (x) => x.topk(2, -1, false),
  'topk dim 0': (x) => x.topk(2, 0),
  'split size': (x) => tg.split(x, 2, 1),
  'split sections': (x) => x.split([1, 3, 1], 1),
  'chunk 7 in 3': (x) => tg.chunk(x, 3, 0),
  'chunk 6 in 4': (x) => x.chunk(4, -1),
  'repeat extra dims': (x) => x.repeat(2, 1, 2),
  'repeat 1-d': (x) => tg.repeat(x, [2, 3]),
};

const weights = (t: Tensor): Tensor => new Tensor(Float64Array.from({ length: t.size }, (_, j) => 1 + j / 8), t.shape.slice());

describe('matches PyTorch 1.13 (float64 fixture)', () => {
  for (const c of (fixtures as { cases: Case[] }).cases) {
    it(c.name, () => {
      const xs = c.inputs.map((e, i) => {
        const t = new Tensor(Float64Array.from(e.data), e.shape);
        return c.grads?.[i] ? t.requiresGrad_() : t;
      });
      const r = run[c.name](...xs);
      const sorted = !Array.isArray(r) && !(r instanceof Tensor);
      const outs = Array.isArray(r) ? r : r instanceof Tensor ? [r] : [r.values, r.indices];
      expect(outs.length).toBe(c.outputs.length);
      outs.forEach((o, i) => expect(o.shape, `${c.name} output ${i} shape`).toEqual(c.outputs[i].shape));
      const diffOuts = sorted ? [outs[0]] : outs;
      diffOuts.forEach((o, i) => expectClose(o, c.outputs[i].data, 1e-14, 1e-15, `${c.name} output ${i}`));
      if (sorted) {
        // values agree exactly; indices wherever the value is not tied (PyTorch's topk does not
        // keep input order among ties, its stable sort does: for sort every index must agree)
        const vals = Array.from(outs[0].data), idx = Array.from(outs[1].data), want = c.outputs[1].data;
        expect(vals).toEqual(c.outputs[0].data);
        const inRow = (v: number): number => vals.filter((u) => u === v).length;
        idx.forEach((k, j) => { if (c.name.startsWith('sort') || inRow(vals[j]) === 1) expect(k, `${c.name} index ${j}`).toBe(want[j]); });
      }
      if (!c.grads) return;
      diffOuts.reduce<Tensor | null>((s, o) => { const t = o.mul(weights(o)).sum(); return s ? s.add(t) : t; }, null)!.backward();
      c.grads.forEach((g, i) => {
        if (!g) return;
        if (sorted && c.name.startsWith('topk')) {
          // the gradient scatters w back through this library's own indices
          const want = new Array<number>(xs[i].size).fill(0);
          expectTopkScatter(xs[i], outs[1], want);
          expectClose(xs[i].grad!, want, 1e-14, 1e-15, `${c.name} grad`);
          if (!c.name.includes('largest') && !c.name.includes('smallest')) expectClose(xs[i].grad!, g.data, 1e-14, 1e-15, `${c.name} grad vs PyTorch`);
        } else {
          expectClose(xs[i].grad!, g.data, 1e-14, 1e-15, `${c.name} grad ${i}`);
        }
      });
    });
  }

  // PyTorch's vectorized CPU kernel switches from start + i·step to end - (n-1-i)·step per SIMD
  // block, so which middle elements come from which end depends on the vector width: those may
  // differ by rounding; both ends are exact.
  it('linspace values', () => {
    for (const l of fixtures.linspace) {
      const t = tg.linspace(l.start, l.end, l.steps, { dtype: l.dtype as 'float32' | 'float64' });
      const what = `linspace(${l.start}, ${l.end}, ${l.steps}) ${l.dtype}`;
      const ulp = (l.dtype === 'float64' ? 2 ** -52 : 2 ** -23) * Math.max(Math.abs(l.start), Math.abs(l.end));
      expectClose(t, l.values, 0, 2 * ulp, what);
      if (l.steps > 0) expect([t.data[0], t.data[l.steps - 1]], what).toEqual([l.values[0], l.values[l.steps - 1]]);
    }
  });
});

/** want[flat input position of out index j] += w[j], along the dim whose size differs. */
function expectTopkScatter(x: Tensor, indices: Tensor, want: number[]): void {
  const dim = x.shape.findIndex((s, d) => s !== indices.shape[d]);
  const inner = x.shape.slice(dim + 1).reduce((a, b) => a * b, 1);
  const k = indices.shape[dim], n = x.shape[dim];
  for (let j = 0; j < indices.size; j++) {
    const o = Math.floor(j / (k * inner)), i = j % inner;
    want[o * n * inner + indices.data[j] * inner + i] += 1 + j / 8;
  }
}

describe('sort and topk details', () => {
  it('sort is stable and puts NaN last (first when descending)', () => {
    const x = tensor([2, NaN, 1, 2, -Infinity, 1, Infinity]);
    expect(Array.from(x.sort().indices.data)).toEqual([4, 2, 5, 0, 3, 6, 1]);
    expect(Array.from(x.sort(0, true).indices.data)).toEqual([1, 6, 0, 3, 2, 5, 4]);
  });
  it('topk rejects a bad k', () => {
    expect(() => tensor([1, 2, 3]).topk(4)).toThrow(/topk: k must be an integer in \[0, 3\]/);
    expect(() => tensor([1, 2, 3]).topk(1.5)).toThrow(/topk/);
  });
});

describe('where, maskedFill, split, chunk, repeat errors and edges', () => {
  it('where with an infinite value in the unchosen branch gives a finite gradient', () => {
    const a = tensor([1, 2], { requiresGrad: true }), b = tensor([Infinity, 3], { requiresGrad: true });
    tg.where(tensor([1, 0]), a, b).sum().backward();
    expect(Array.from(a.grad!.data)).toEqual([1, 0]);
    expect(Array.from(b.grad!.data)).toEqual([0, 1]);
  });
  it('names the op and shapes on bad input', () => {
    expect(() => tg.where(tensor([1, 0, 1]), tensor([1, 2]), 0)).toThrow(/where/);
    expect(() => tensor([1, 2]).maskedFill(tensor([[1, 0], [0, 1]]), 0)).toThrow(/maskedFill: mask of shape \[2, 2\] does not broadcast to x's shape \[2\]/);
    expect(() => tensor([1, 2, 3]).split([1, 1])).toThrow(/split: sizes \[1,1\] must be non-negative integers adding up to 3/);
    expect(() => tensor([1, 2, 3]).split(0)).toThrow(/split: split size must be a positive integer/);
    expect(() => tensor([1, 2, 3]).chunk(0)).toThrow(/chunk: chunks must be a positive integer/);
    expect(() => tensor([[1, 2]]).repeat(2)).toThrow(/repeat: got 1 sizes/);
  });
  it('chunk follows PyTorch: 6 in 4 gives 3 pieces of 2; split 5 by 2 gives 2, 2, 1', () => {
    expect(tg.arange(6).chunk(4).map((p) => p.shape[0])).toEqual([2, 2, 2]);
    expect(tg.arange(5).split(2).map((p) => p.shape[0])).toEqual([2, 2, 1]);
  });
  it('repeat with a zero size gives an empty tensor', () => {
    expect(tensor([1, 2]).repeat(0, 2).shape).toEqual([0, 4]);
  });
});

describe('randint and linspace', () => {
  it('randint: integers in [low, high), all reached, reproducible under manualSeed', () => {
    tg.manualSeed(7);
    const a = tg.randint(-3, 4, [2000]);
    tg.manualSeed(7);
    const b = tg.randint(-3, 4, [2000]);
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(a.shape).toEqual([2000]);
    for (const v of a.data) {
      expect(Number.isInteger(v)).toBe(true);
      expect(v >= -3 && v < 4).toBe(true);
    }
    expect(new Set(a.data).size).toBe(7);
    tg.manualSeed(8);
    expect(Array.from(tg.randint(-3, 4, [2000]).data)).not.toEqual(Array.from(a.data));
  });
  it('randint and linspace reject bad arguments', () => {
    expect(() => tg.randint(3, 3, [2])).toThrow(/randint: low and high must be integers with low < high/);
    expect(() => tg.randint(0, 2.5, [2])).toThrow(/randint/);
    expect(() => tg.linspace(0, 1, -1)).toThrow(/linspace: steps must be a non-negative integer/);
    expect(() => tg.linspace(0, NaN, 3)).toThrow(/linspace: start and end must be finite/);
  });
});
