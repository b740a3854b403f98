// Predictor: inference of a frozen model with no graph and, after warm-up, no allocation per call.
// The layers run as raw kernel calls (see inference-plan.ts) on copies of the weights, into
// activation buffers the Predictor owns and never hands out: the result goes into the caller's
// `out` tensor or a fresh one.
import { Tensor, floatData, isTensor } from '../tensor.js';
import type { FloatArray } from '../backend/backend.js';
import { kernels } from '../backend/index.js';
import { noGrad } from '../autograd/mode.js';
import { fmt, sizeOf } from '../shape.js';
import type { Module } from '../nn/module.js';
import { inEvalMode } from './evaluate.js';
import { planInference, type Step } from './inference-plan.js';

/** Most batch sizes whose buffers are kept per step (the oldest is dropped beyond it). */
const SIZES_KEPT = 8;

// Arrays are made with the global constructors (a test counts allocations by replacing them).
const isF64 = (a: FloatArray): boolean => a instanceof Float64Array;
const like = (a: FloatArray, n: number): FloatArray => (isF64(a) ? new Float64Array(n) : new Float32Array(n));
function copy(t: Tensor | null): FloatArray | null {
  if (t === null) return null;
  const c = like(floatData(t), floatData(t).length);
  c.set(t.data);
  return c;
}

/** A Linear's weight transposed to [in, out] (the product x·Wᵀ then needs no transpose), and its bias. */
interface FrozenLinear { wt: FloatArray; bias: FloatArray | null; inF: number; outF: number }
interface FrozenNorm { mean: FloatArray; variance: FloatArray; weight: FloatArray | null; bias: FloatArray | null; eps: number }

function freezeLinear(w: Tensor, b: Tensor | null): FrozenLinear {
  const [outF, inF] = w.shape, src = floatData(w), wt = like(src, src.length);
  for (let o = 0; o < outF; o++) for (let i = 0; i < inF; i++) wt[i * outF + o] = src[o * inF + i];
  return { wt, bias: copy(b), inF, outF };
}

function overlaps(a: FloatArray, b: FloatArray): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

function runModules(modules: Module[], x: Tensor): Tensor {
  for (const m of modules) x = inEvalMode(m, () => noGrad(() => (m as Module<[Tensor], Tensor>).forward(x)));
  return x;
}

/**
 * Serves `model` for inference, like a frozen TorchScript module: in eval mode (dropout off, batch
 * norm with its running statistics), without a graph, with every Linear, activation, Dropout and
 * BatchNorm1d of a (nested) Sequential computed by raw kernels on copies of their weights (a Linear's
 * stored transposed, so that its product needs no transpose) into buffers the Predictor keeps, so
 * that a call with an `out` tensor allocates nothing once each batch size has been seen. Other layers
 * run their own forward (with their live parameters, on a copy of the activations: a layer may keep
 * its input).
 *
 * The copies are taken when the Predictor is made and by refresh(): training or loadStateDict
 * afterwards is not seen until refresh() (and a request is never served half-updated). The layer
 * list is captured once: make a new Predictor after changing it. Results equal
 * `noGrad(() => model.eval().forward(x))` up to float32 rounding: the products sum in another order
 * (measured within 2e-6 of the output scale), and LeakyReLU, ELU, SiLU and Mish are
 * computed per element in float64 where the ops chain float32 steps (a few units in the last place).
 */
export class Predictor {
  readonly steps: readonly Step[];
  // Per step: buffers by length. Never returned, never given to a module's forward.
  readonly #buffers: Map<number, FloatArray>[];
  #frozen: (FrozenLinear | FrozenNorm | null)[] = [];

  constructor(readonly model: Module) {
    this.steps = planInference(model);
    // steps.length + i: step i's per-feature scratch
    this.#buffers = [...this.steps, ...this.steps].map(() => new Map());
    this.refresh();
  }

  /** Copy the planned layers' weights and running statistics again (after training, loadStateDict, ...). */
  refresh(): this {
    this.#frozen = this.steps.map((s) => {
      if (s.kind === 'linear') return freezeLinear(s.layer.weight, s.layer.bias);
      if (s.kind !== 'batchnorm') return null;
      const l = s.layer;
      if (l.running_mean === null || l.running_var === null) return null; // eval normalizes with batch statistics
      return { mean: copy(l.running_mean)!, variance: copy(l.running_var)!, weight: copy(l.weight), bias: copy(l.bias), eps: l.eps };
    });
    return this;
  }

  /** One line per step: what runs on kernels and what runs its module's forward. */
  describe(): string[] {
    return this.steps.map((s) => s.name);
  }

  /**
   * The model's outputs for the rows of x ([rows, features]). With `out`, they are written into it
   * (its shape and dtype must be the result's, and it must not share memory with x) and out is
   * returned; without, a new tensor is returned. Either way the result is the caller's: the next
   * call does not change it.
   */
  predictBatch(x: Tensor, out?: Tensor): Tensor {
    if (!isTensor(x)) throw new TypeError('predictBatch: x must be a Tensor');
    if (out !== undefined && !isTensor(out)) throw new TypeError('predictBatch: out must be a Tensor');
    if (x.data.length !== sizeOf(x.shape)) throw new RangeError(`predictBatch: x has ${x.data.length} values for shape ${fmt(x.shape)}`);
    const steps = this.steps, frozen = this.#frozen;
    // the current activations: a Tensor that is not ours (x, a module's output), or our buffer cur
    let curT: Tensor | null = x;
    let cur: FloatArray = floatData(x);
    let rows = x.shape[0], feat = x.shape[1];
    for (let i = 0; i < steps.length; i++) {
      const s = steps[i], f = frozen[i];
      const last = i === steps.length - 1;
      if (s.kind === 'module' || (curT !== null && curT.ndim !== 2) || !plannable(s, f, cur)) {
        const input = curT ?? new Tensor(cur.slice(), [rows, feat]);
        const y = runModules(s.modules, input);
        curT = y;
        cur = floatData(y);
        rows = y.shape[0];
        feat = y.shape[1];
        continue;
      }
      if (s.kind === 'linear') {
        const { wt, bias, inF, outF } = f as FrozenLinear;
        if (feat !== inF) throw new RangeError(`predictBatch: ${s.name} expects ${inF} input features, got input ${fmt([rows, feat])}`);
        const dst = last ? this.#result(x, cur, out, rows, outF, s) : this.#buffer(i, rows * outF, cur);
        if (bias) for (let r = 0; r < rows; r++) dst.set(bias, r * outF);
        const k = kernels(cur);
        k.gemm(false, false, rows, outF, inF, 1, cur, wt, bias ? 1 : 0, dst);
        if (s.act) k.unary(s.act, dst, dst);
        cur = dst;
        feat = outF;
      } else {
        const dst = last ? this.#result(x, cur, out, rows, feat, s) : curT === null ? cur : this.#buffer(i, rows * feat, cur);
        if (s.kind === 'unary') kernels(cur).unary(s.act, cur, dst, s.p0, s.p1);
        else if (s.kind === 'map') {
          const fn = s.f;
          for (let j = 0, n = rows * feat; j < n; j++) dst[j] = fn(cur[j]);
        } else batchNorm(s.name, f as FrozenNorm, cur, dst, rows, feat, this.#buffer(steps.length + i, 2 * feat, cur));
        cur = dst;
      }
      curT = null;
    }
    if (curT === null && steps.length > 0) return out ?? new Tensor(cur, [rows, feat]);
    // nothing ran on kernels last: copy what the last module returned (or x) into the result
    const src = curT ?? x;
    if (out === undefined) return steps.length > 0 ? src : new Tensor(src.data.slice(), src.shape.slice());
    if (fmt(out.shape) !== fmt(src.shape) || out.dtype !== src.dtype) {
      throw new RangeError(`predictBatch: out has shape ${fmt(out.shape)} (${out.dtype}), the result is ${fmt(src.shape)} (${src.dtype})`);
    }
    out.data.set(src.data);
    return out;
  }

  /** Step i's buffer of n elements of cur's type (kept for the next call). */
  #buffer(i: number, n: number, cur: FloatArray): FloatArray {
    const m = this.#buffers[i];
    let b = m.get(n);
    if (b === undefined || isF64(b) !== isF64(cur)) {
      if (m.size >= SIZES_KEPT) m.delete(m.keys().next().value!);
      b = like(cur, n);
      m.set(n, b);
    }
    return b;
  }

  /** Where the last step writes: out (checked) or a new array. */
  #result(x: Tensor, cur: FloatArray, out: Tensor | undefined, rows: number, cols: number, s: Step): FloatArray {
    if (out === undefined) return like(cur, rows * cols);
    if (out.ndim !== 2 || out.shape[0] !== rows || out.shape[1] !== cols || isF64(floatData(out)) !== isF64(cur)) {
      throw new RangeError(`predictBatch: out has shape ${fmt(out.shape)} (${out.dtype}), but ${s.name} gives ${fmt([rows, cols])} (${isF64(cur) ? 'float64' : 'float32'})`);
    }
    if (overlaps(floatData(out), floatData(x)) || overlaps(floatData(out), cur)) throw new RangeError('predictBatch: out shares memory with the input x');
    return floatData(out);
  }
}

/** Whether a kernel step can run on arrays like cur: its copies have cur's dtype (and exist). */
function plannable(s: Step, f: FrozenLinear | FrozenNorm | null, cur: FloatArray): boolean {
  if (s.kind !== 'linear' && s.kind !== 'batchnorm') return true;
  if (f === null) return false;
  return isF64('wt' in f ? f.wt : f.mean) === isF64(cur);
}

/**
 * BatchNorm1d in eval mode, rounding where the op's float32 kernels round (PyTorch's eval transform):
 * y = x·scale + shift, scale = weight/√(var + eps), shift = bias - mean·scale. tmp holds scale, then shift.
 */
function batchNorm(name: string, f: FrozenNorm, x: FloatArray, dst: FloatArray, rows: number, c: number, tmp: FloatArray): void {
  if (c !== f.mean.length) throw new RangeError(`predictBatch: ${name} expects ${f.mean.length} features, got input ${fmt([rows, c])}`);
  const { mean, variance: v, weight: w, bias: b } = f;
  const round = !isF64(x) ? Math.fround : (a: number) => a;
  for (let j = 0; j < c; j++) {
    const rstd = round(1 / round(Math.sqrt(round(v[j] + f.eps))));
    const scale = w ? round(w[j] * rstd) : rstd, shift = round(mean[j] * scale);
    tmp[j] = scale;
    tmp[c + j] = b ? round(b[j] - shift) : -shift;
  }
  for (let r = 0, o = 0; r < rows; r++) {
    for (let j = 0; j < c; j++, o++) dst[o] = round(x[o] * tmp[j]) + tmp[c + j];
  }
}
