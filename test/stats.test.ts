import { describe, it, expect } from 'vitest';
import * as tg from '../lib/index.js';
import { Tensor, tensor } from '../lib/index.js';
import { awayFromZero as az, expectClose, expectGradcheck, flat, type Nested } from './helpers.js';
import fixtures from './fixtures/torch_stats.json' with { type: 'json' };

interface Case { name: string; op: string; args: Record<string, unknown>; x: Nested; shape: number[]; out: Nested; outShape: number[]; w?: Nested; grad?: Nested; indices?: Nested }

function f64(v: Nested, shape: number[]): Tensor {
  const t = tensor(v as number[], { dtype: 'float64' });
  return t.reshape(shape);
}

/** The op of a fixture case; pair ops give [values, indices]. */
function run(c: Case, x: Tensor): Tensor | [Tensor, Tensor] {
  const a = c.args as { dim?: number | number[]; keepDim?: boolean; unbiased?: boolean; p?: number | 'inf' };
  const dim1 = a.dim as number | undefined;
  switch (c.op) {
    case 'min': return x.min(dim1, a.keepDim);
    case 'argmin': return x.argmin(dim1, a.keepDim);
    case 'maxWithIndices': { const r = x.maxWithIndices(dim1!, a.keepDim); return [r.values, r.indices]; }
    case 'minWithIndices': { const r = tg.minWithIndices(x, dim1!, a.keepDim); return [r.values, r.indices]; }
    case 'var': return x.var(a.dim, { unbiased: a.unbiased, keepDim: a.keepDim });
    case 'std': return tg.std(x, a.dim, { unbiased: a.unbiased, keepDim: a.keepDim });
    case 'norm': return x.norm(a.p === 'inf' ? Infinity : a.p, a.dim, a.keepDim);
    case 'logsumexp': return x.logsumexp(a.dim!, a.keepDim);
    case 'cumsum': return x.cumsum(dim1!);
    default: throw new Error(c.op);
  }
}

describe('stats ops against PyTorch 1.13 (float64)', () => {
  for (const c of (fixtures as { cases: Case[] }).cases) {
    it(c.name, () => {
      const x = f64(c.x, c.shape).requiresGrad_();
      const r = run(c, x);
      const [out, idx] = Array.isArray(r) ? r : [r, null];
      expect(out.shape).toEqual(c.outShape);
      expectClose(out, c.out, 1e-12, 1e-12, 'value');
      if (idx) {
        expect(idx.shape).toEqual(c.outShape);
        expect(Array.from(idx.data)).toEqual(flat(c.indices));
        expect(idx.requiresGrad).toBe(false);
      }
      if (c.grad === undefined) return;
      out.mul(f64(c.w!, c.outShape)).sum().backward();
      expectClose(x.grad!, c.grad, 1e-12, 1e-12, 'grad');
    });
  }
});

const ops: [string, (x: Tensor) => Tensor, number[]][] = [
  ['min all', (x) => x.min(), [2, 3]],
  ['min dim 1', (x) => x.min(1), [3, 4]],
  ['min dim -1 keepDim', (x) => x.min(-1, true), [2, 3, 4]],
  ['minWithIndices values', (x) => tg.minWithIndices(x, 0).values, [3, 4]],
  ['maxWithIndices values', (x) => x.maxWithIndices(2, true).values, [2, 3, 4]],
  ['var all', (x) => x.var(), [3, 4]],
  ['var dim [0, 2] biased keepDim', (x) => x.var([0, 2], { unbiased: false, keepDim: true }), [2, 3, 4]],
  ['var dim -1', (x) => tg.var(x, -1), [2, 3, 4]],
  ['std all', (x) => x.std(), [3, 4]],
  ['std dim [1, 0]', (x) => x.std([1, 0]), [2, 3, 4]],
  ['norm 2 all', (x) => x.norm(), [3, 4]],
  ['norm 2 dim [0, 2]', (x) => x.norm(2, [0, 2]), [2, 3, 4]],
  ['norm 1 dim 1', (x) => x.norm(1, 1), [3, 4]],
  ['norm inf dim 0 keepDim', (x) => x.norm(Infinity, 0, true), [3, 4]],
  ['norm 3 dim -1', (x) => tg.norm(x, 3, -1), [3, 4]],
  ['norm 0.5 all', (x) => x.norm(0.5), [3, 4]],
  ['logsumexp dim 1', (x) => x.logsumexp(1), [3, 4]],
  ['logsumexp dim [0, 2] keepDim', (x) => x.logsumexp([0, 2], true), [2, 3, 4]],
  ['cumsum dim 0', (x) => x.cumsum(0), [3, 4]],
  ['cumsum dim -1', (x) => tg.cumsum(x, -1), [2, 3, 4]],
];

describe('gradcheck of the stats ops', () => {
  for (const [name, f, shape] of ops) {
    it(name, () => expectGradcheck(f, [az(shape, 7)]));
  }
});

describe('second derivatives of the stats ops', () => {
  // min/max/norm 1/norm inf are piecewise linear: their second derivative is 0 and still checked
  for (const [name, f, shape] of ops) {
    it(name, () => {
      const c = az(shape, 9).detach();
      expectGradcheck((x) => tg.grad((y: Tensor) => f(y).mul(f(y)).sum(), [x], { createGraph: true })[0].mul(c).sum(), [az(shape, 8)]);
    });
  }
});

describe('stats ops: float32, edge cases and errors', () => {
  it('float32 gives the float64 values to float32 precision', () => {
    for (const [name, f, shape] of ops) {
      const x = az(shape, 3).detach(), x64 = new Tensor(Float64Array.from(x.data), x.shape);
      expect(f(x).dtype).toBe('float32');
      expectClose(f(x), f(x64), 1e-5, 1e-5, name);
    }
  });

  it('logsumexp is stable for large inputs and handles -inf rows', () => {
    const x = tensor([[1000, 1000], [-Infinity, -Infinity]]);
    const r = x.logsumexp(1);
    expectClose(r.data[0], 1000 + Math.log(2), 1e-6, 0);
    expect(r.data[1]).toBe(-Infinity);
    expectClose(tensor([[-1e4, -1e4 + Math.log(3)]], { dtype: 'float64' }).logsumexp(-1), [-1e4 + Math.log(4)], 1e-14, 0);
  });

  it('norm 2 at the zero vector has gradient 0 (the subgradient PyTorch uses)', () => {
    const x = tg.zeros([2, 3]).requiresGrad_();
    x.norm(2, 1).sum().backward();
    expect(Array.from(x.grad!.data)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('std of a constant slice has gradient 0, not NaN (PyTorch\'s std_backward); other slices are unaffected', () => {
    const x = tensor([[1.5, 1.5, 1.5], [1, 2, 4]]).requiresGrad_();
    x.std(1).sum().backward();
    // row 2: (x - mean) / ((n - 1) std) with mean 7/3, std √(7/3)
    const s = Math.sqrt(7 / 3);
    expectClose(x.grad!, [0, 0, 0, (1 - 7 / 3) / (2 * s), (2 - 7 / 3) / (2 * s), (4 - 7 / 3) / (2 * s)], 1e-6, 1e-7);
  });

  it('var of one element (unbiased) is NaN, as PyTorch; biased is 0', () => {
    expect(Number.isNaN(tensor([2]).var().item())).toBe(true);
    expect(tensor([2]).var(null, { unbiased: false }).item()).toBe(0);
  });

  it('errors name the op and the fault', () => {
    expect(() => tg.zeros([2, 0]).min(1)).toThrow(/min: cannot reduce an empty dimension \(shape \[2, 0\]\)/);
    expect(() => tg.zeros([2, 0]).argmin()).toThrow(/argmin: cannot reduce an empty dimension/);
    expect(() => tg.zeros([0, 2]).maxWithIndices(0)).toThrow(/maxWithIndices: cannot reduce an empty dimension/);
    expect(() => tg.zeros([2, 3]).min(2)).toThrow(/min: dim 2 is out of range/);
    expect(() => tg.zeros([2, 3]).norm(0)).toThrow(/norm: p must be a positive number or Infinity, got 0/);
    expect(() => tg.zeros([2, 3]).norm(-1)).toThrow(/norm: p must be/);
    expect(() => tg.zeros([2, 3]).var([0, 0])).toThrow(/var: dim 0 appears more than once/);
    // @ts-expect-error dim is required
    expect(() => tg.zeros([2, 3]).logsumexp()).toThrow(/logsumexp: dim is required/);
    // @ts-expect-error dim is a number
    expect(() => tg.zeros([2, 3]).cumsum([0])).toThrow(/cumsum: dim must be a number/);
    // @ts-expect-error dim is a number
    expect(() => tg.zeros([2, 3]).maxWithIndices()).toThrow(/maxWithIndices: dim must be a number/);
    expect(() => tg.zeros([2, 3]).std(5)).toThrow(/var: dim 5 is out of range/);
    expect(() => tg.zeros([2, 3]).maxWithIndices(2)).toThrow(/maxWithIndices: dim 2 is out of range/);
  });
});
