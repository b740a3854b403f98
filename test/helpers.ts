import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { Tensor, gradcheck, type GradcheckOptions } from '../lib/index.js';

export type Nested = number | Nested[];

/** The PyTorch reference values (test/fixtures/gen_torch.py). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const fx: any = JSON.parse(readFileSync(new URL('./fixtures/torch.json', import.meta.url), 'utf8'));

let maxAbsDiff = 0;
/** Largest |actual - expected| seen by expectClose in this file (reported against the fixtures). */
export function maxDiffSeen(): number {
  return maxAbsDiff;
}

/** Element-wise |a - b| <= atol + rtol·|b| with a message naming the worst element. */
export function expectClose(actual: Tensor | ArrayLike<number> | number | Nested, expected: Nested | ArrayLike<number> | Tensor, rtol = 1e-5, atol = 1e-6, what = ''): void {
  const a = flat(actual), e = flat(expected);
  expect(a.length, `${what} element count`).toBe(e.length);
  let worst = -1, worstErr = 0;
  for (let i = 0; i < a.length; i++) {
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a[i] - e[i]));
    const err = Math.abs(a[i] - e[i]) - (atol + rtol * Math.abs(e[i]));
    if (!(err <= 0) && (worst < 0 || !(err <= worstErr))) { worst = i; worstErr = err; }
  }
  if (worst >= 0) expect.fail(`${what} element ${worst}: got ${a[worst]}, expected ${e[worst]} (rtol ${rtol}, atol ${atol})`);
}

export function flat(v: unknown): number[] {
  if (typeof v === 'number') return [v];
  if (v instanceof Tensor) return Array.from(v.data);
  if (Array.isArray(v)) return (v as unknown[]).flatMap((x) => flat(x));
  return Array.from(v as ArrayLike<number>);
}

/** gradcheck that fails the test with the worst element's numbers. */
export function expectGradcheck(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradcheckOptions = {}): void {
  const r = gradcheck(f, inputs, opts);
  if (!r.ok) expect.fail(`gradcheck failed: ${JSON.stringify(r.worst)}`);
  expect(r.checked).toBeGreaterThan(0);
}

/** Values in ±[lo, hi] with random signs: keeps inputs away from kinks at 0. */
export function awayFromZero(shape: number[], seed: number, lo = 0.2, hi = 1.5): Tensor {
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  const n = shape.reduce((p, d) => p * d, 1);
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = (lo + (hi - lo) * next()) * (next() < 0.5 ? -1 : 1);
  return new Tensor(d, shape).requiresGrad_();
}
