import { Tensor } from '../tensor.js';
import { setDefaultDtype } from '../creation.js';
import { backward } from './engine.js';
import { noGrad } from './mode.js';

export interface GradcheckOptions {
  /** Central-difference step (default 1e-6, in float64). */
  eps?: number;
  /** Allowed |analytical - numerical| is atol + rtol·|numerical| (defaults 1e-5 and 1e-3, PyTorch's). */
  atol?: number;
  rtol?: number;
  /** Seed of the random cotangent v that makes a non-scalar output scalar (vᵀf). */
  seed?: number;
  /** Throw an Error describing the worst element instead of returning ok = false. */
  throwOnFail?: boolean;
}

export interface GradcheckResult {
  ok: boolean;
  /** Largest |analytical - numerical| over all checked elements. */
  maxError: number;
  /** The element closest to (or furthest past) its tolerance. */
  worst: { input: number; index: number; analytical: number; numerical: number; error: number; allowed: number } | null;
  checked: number;
}

/**
 * Compares every VJP on the path from inputs to f's output with central finite differences,
 * computing in float64 on the JS backend. Inputs that require grad are checked (all, if none does).
 * A random cotangent v turns the output into the scalar vᵀf, so one backward gives the analytical
 * gradient and 2 evaluations per input element give the numerical one. Truncation error is
 * O(eps²) and rounding error O(1e-16/eps), both far below the tolerances for smooth ops; avoid
 * inputs within eps of a kink (relu/abs at 0, ties in max).
 */
export function gradcheck(f: (...xs: Tensor[]) => Tensor, inputs: readonly Tensor[], opts: GradcheckOptions = {}): GradcheckResult {
  const eps = opts.eps ?? 1e-6, atol = opts.atol ?? 1e-5, rtol = opts.rtol ?? 1e-3;
  const anyRequires = inputs.some((x) => x.requiresGrad);
  const xs = inputs.map((x) => {
    const t = new Tensor(Float64Array.from(x.data), x.shape.slice());
    return anyRequires ? t.requiresGrad_(x.requiresGrad) : t.requiresGrad_();
  });
  const checkedInputs = xs.filter((x) => x.requiresGrad);
  const prevDtype = setDefaultDtype('float64');
  try {
    const y = f(...xs);
    if (y.dtype !== 'float64') throw new Error('gradcheck: f produced a float32 output from float64 inputs (create constants with the default dtype)');
    let state = (opts.seed ?? 1234) >>> 0;
    const v = new Tensor(new Float64Array(y.size), y.shape.slice());
    for (let i = 0; i < v.size; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      v.data[i] = state / 4294967296 + 0.5; // in [0.5, 1.5): no output is ignored
    }
    const analytical = y.requiresGrad ? backward([y], [v], {}, checkedInputs) : checkedInputs.map(() => null);
    const project = (): number => {
      const out = noGrad(() => f(...xs));
      let s = 0;
      for (let i = 0; i < out.size; i++) s += v.data[i] * out.data[i];
      return s;
    };
    let maxError = 0, checked = 0, worstRatio = -1;
    let worst: GradcheckResult['worst'] = null;
    checkedInputs.forEach((x, ci) => {
      const a = analytical[ci];
      for (let j = 0; j < x.size; j++) {
        const orig = x.data[j];
        x.data[j] = orig + eps;
        const plus = project();
        x.data[j] = orig - eps;
        const minus = project();
        x.data[j] = orig;
        const numerical = (plus - minus) / (2 * eps);
        const an = a ? a.data[j] : 0;
        const error = Math.abs(an - numerical);
        const allowed = atol + rtol * Math.abs(numerical);
        const ratio = Number.isNaN(error) ? Infinity : error / allowed;
        checked++;
        if (error > maxError || Number.isNaN(error)) maxError = Number.isNaN(error) ? NaN : error;
        if (ratio > worstRatio) {
          worstRatio = ratio;
          worst = { input: xs.indexOf(x), index: j, analytical: an, numerical, error, allowed };
        }
      }
    });
    const ok = worstRatio <= 1;
    if (!ok && opts.throwOnFail && worst) {
      const w = worst as NonNullable<GradcheckResult['worst']>;
      throw new Error(`gradcheck failed: input ${w.input}, element ${w.index}: analytical ${w.analytical} vs numerical ${w.numerical} (error ${w.error.toExponential(3)} > allowed ${w.allowed.toExponential(3)})`);
    }
    return { ok, maxError, worst, checked };
  } finally {
    setDefaultDtype(prevDtype);
  }
}
