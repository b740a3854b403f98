import { expect } from 'vitest';
import { Tensor, gradcheck, type GradcheckOptions } from '../lib/index.js';

type Nested = number | Nested[];

/** Element-wise |a - b| <= atol + rtol·|b| with a message naming the worst element. */
export function expectClose(actual: Tensor | ArrayLike<number> | number, expected: Nested | ArrayLike<number> | Tensor, rtol = 1e-5, atol = 1e-6): void {
  const a = toFlat(actual), e = toFlat(expected);
  expect(a.length, 'element count').toBe(e.length);
  let worst = -1, worstErr = 0;
  for (let i = 0; i < a.length; i++) {
    const err = Math.abs(a[i] - e[i]) - (atol + rtol * Math.abs(e[i]));
    if (!(err <= 0) && (worst < 0 || !(err <= worstErr))) { worst = i; worstErr = err; }
  }
  if (worst >= 0) expect.fail(`element ${worst}: got ${a[worst]}, expected ${e[worst]} (rtol ${rtol}, atol ${atol})`);
}

function toFlat(v: unknown): number[] {
  if (typeof v === 'number') return [v];
  if (v instanceof Tensor) return Array.from(v.data);
  if (Array.isArray(v)) return (v as unknown[]).flatMap((x) => toFlat(x));
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
