// nn.init (fans, gains exactly; distributions by seeded sample statistics) and nn.utils gradient
// clipping against PyTorch 1.13 (test/fixtures/torch_sched.json, gen_torch_sched.py).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Tensor, tensor, zeros, nn, manualSeed } from '../lib/index.js';
import { expectClose } from './helpers.js';
import { tensorInternals } from '../lib/tensor.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const sx: any = JSON.parse(readFileSync(new URL('./fixtures/torch_sched.json', import.meta.url), 'utf8'));
const { init, clip } = sx;

function stats(t: Tensor): { mean: number; std: number; min: number; max: number } {
  const d = t.data, n = d.length;
  let s = 0, min = Infinity, max = -Infinity;
  for (const x of d) { s += x; min = Math.min(min, x); max = Math.max(max, x); }
  const mean = s / n;
  let v = 0;
  for (const x of d) v += (x - mean) ** 2;
  return { mean, std: Math.sqrt(v / (n - 1)), min, max };
}

const camel = (fn: string): string => fn.replace(/_$/, '').replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());

describe('nn.init', () => {
  it('computes fans as PyTorch and refuses fewer than 2 dimensions', () => {
    for (const { shape, fans } of init.fans) expect(nn.init.calculateFanInAndFanOut(zeros(shape))).toEqual(fans);
    expect(() => nn.init.xavierUniform(zeros([5]))).toThrow(/xavierUniform: fan in and fan out can not be computed for a tensor with fewer than 2 dimensions \(shape \[5\]\)/);
  });

  it('has PyTorch\'s gain table', () => {
    for (const { nonlinearity, param, gain } of init.gains) expect(nn.init.calculateGain(nonlinearity, param ?? undefined)).toBeCloseTo(gain, 15);
    expect(nn.init.calculateGain('leakyRelu', 0.2)).toBeCloseTo(nn.init.calculateGain('leaky_relu', 0.2), 15);
    expect(() => nn.init.calculateGain('softmax' as never)).toThrow(/calculateGain: unsupported nonlinearity "softmax"/);
  });

  for (const c of init.cases) {
    const name = camel(c.fn);
    it(`${name}(${JSON.stringify(c.options)}): in place, seeded, with PyTorch's distribution`, () => {
      const fn = (nn.init as unknown as Record<string, (t: Tensor, o?: unknown) => Tensor>)[name];
      for (const dtype of ['float32', 'float64'] as const) {
        const t = zeros(init.shape, { dtype });
        manualSeed(11);
        expect(fn(t, c.options)).toBe(t);
        const s = stats(t);
        const mean = c.fn === 'uniform_' ? (c.options.a + c.options.b) / 2 : c.fn === 'normal_' ? c.options.mean : 0;
        const n = t.size;
        expect(Math.abs(s.mean - mean), `${name} mean`).toBeLessThan((5 * c.std) / Math.sqrt(n));
        expect(Math.abs(s.std / c.std - 1), `${name} std ${s.std} vs ${c.std}`).toBeLessThan(0.01);
        expect(Math.abs(s.std / c.torchStd - 1), `${name} std vs torch's sample`).toBeLessThan(0.015);
        if (c.bound !== null) {
          expect(Math.max(-s.min, s.max)).toBeLessThanOrEqual(c.bound * (1 + 1e-7));
          expect(Math.min(-s.min, s.max)).toBeGreaterThan(c.bound * 0.999);
        }
        manualSeed(11);
        expect(Array.from(fn(zeros(init.shape, { dtype }), c.options).data)).toEqual(Array.from(t.data));
      }
    });
  }

  it('takes PyTorch\'s positional arguments too, and rejects bad options', () => {
    manualSeed(1);
    const a = nn.init.uniform(zeros([3, 4]), -2, 3);
    manualSeed(1);
    expect(nn.init.uniform(zeros([3, 4]), { a: -2, b: 3 }).data).toEqual(a.data);
    manualSeed(2);
    const b = nn.init.xavierNormal(zeros([3, 4]), 2);
    manualSeed(2);
    expect(nn.init.xavierNormal(zeros([3, 4]), { gain: 2 }).data).toEqual(b.data);
    expect(Array.from(nn.init.constant(zeros([2, 2]), 0.25).data)).toEqual([0.25, 0.25, 0.25, 0.25]);
    expect(Array.from(nn.init.ones(zeros([3])).data)).toEqual([1, 1, 1]);
    expect(Array.from(nn.init.zeros(tensor([1, 2])).data)).toEqual([0, 0]);
    expect(() => nn.init.kaimingUniform(zeros([2, 2]), { mode: 'fanAvg' as never })).toThrow(/kaimingUniform: mode must be 'fanIn' or 'fanOut'/);
    expect(() => nn.init.kaimingNormal(zeros([2, 2]), { gain: 1 } as never)).toThrow(/kaimingNormal: unknown option 'gain'/);
    expect(() => nn.init.normal(zeros([2]), 0, -1)).toThrow(/normal: invalid std -1/);
    expect(() => nn.init.uniform(zeros([2]), 1, 0)).toThrow(/uniform: invalid b 0/);
    expect(() => nn.init.kaimingUniform(zeros([0, 3]))).not.toThrow();
  });
});

describe('nn.utils gradient clipping matches PyTorch', () => {
  function withGrads(dtype: 'float32' | 'float64'): Tensor[] {
    return clip.grads.map((g: { shape: number[]; data: number[] }) => {
      const p = zeros(g.shape, { dtype }).requiresGrad_();
      p.grad = tensor(g.data, { dtype }).reshape(g.shape);
      return p;
    });
  }

  for (const c of clip.cases) {
    it(`clipGradNorm(maxNorm ${c.maxNorm}, normType ${c.normType})`, () => {
      for (const dtype of ['float64', 'float32'] as const) {
        const ps = withGrads(dtype);
        const total = nn.utils.clipGradNorm(ps, c.maxNorm, c.normType === 'inf' ? Infinity : c.normType);
        const tol = dtype === 'float64' ? 1e-12 : 1e-6;
        expectClose(total, c.total, tol, tol, `total ${dtype}`);
        ps.forEach((p, i) => expectClose(p.grad!, c.grads[i], tol, tol, `grad ${i} ${dtype}`));
      }
    });
  }

  it('clipGradValue clamps every element', () => {
    const ps = withGrads('float64');
    nn.utils.clipGradValue(ps, clip.value.clipValue);
    ps.forEach((p, i) => expectClose(p.grad!, clip.value.grads[i], 0, 0, `grad ${i}`));
  });

  it('takes one tensor, skips parameters without gradients, and accepts normType \'inf\'', () => {
    const p = tensor([3, -4]).requiresGrad_();
    const q = tensor([1]).requiresGrad_();
    expect(nn.utils.clipGradNorm([p, q], 1)).toBe(0);
    p.grad = tensor([3, -4]);
    expect(nn.utils.clipGradNorm([p, q], 1, 'inf')).toBe(4);
    expectClose(p.grad!, [0.75, -1], 1e-6, 0);
    expect(nn.utils.clipGradNorm(p, 10)).toBeCloseTo(1.25, 6);
    expectClose(p.grad!, [0.75, -1], 1e-6, 0);
  });

  it('reads gradients without taking them from the engine', () => {
    const p = tensor([1, 2]).requiresGrad_();
    p.mul(p).sum().backward();
    expect(tensorInternals.owned(p)).toBe(true);
    expect(nn.utils.clipGradNorm([p], 1)).toBeCloseTo(Math.sqrt(20), 5);
    nn.utils.clipGradValue([p], 0.1);
    expect(tensorInternals.owned(p)).toBe(true);
    expectClose(p.grad!, [0.1, 0.1], 1e-6, 0);
  });

  it('rejects bad arguments with the function name', () => {
    const p = tensor([1]).requiresGrad_();
    expect(() => nn.utils.clipGradNorm(p, -1)).toThrow(/clipGradNorm: invalid maxNorm -1/);
    expect(() => nn.utils.clipGradNorm(p, 1, 0)).toThrow(/clipGradNorm: invalid normType 0/);
    expect(() => nn.utils.clipGradNorm(5 as never, 1)).toThrow(/clipGradNorm: parameters must be a Tensor or an iterable/);
    expect(() => nn.utils.clipGradValue([p, 3 as never], 1)).toThrow(/clipGradValue: parameter 1 is not a Tensor/);
    p.grad = tensor([Infinity]);
    expect(() => nn.utils.clipGradNorm(p, 1, 2, true)).toThrow(/clipGradNorm: the total norm of order 2 of the gradients is Infinity/);
  });
});
