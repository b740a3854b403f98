// The differential guard against PyTorch. test/diff/generate.mjs builds random op graphs from a
// seed (broadcasting, size-1 and empty dims, 0-d tensors, inputs used twice, 1-D/2-D/batched
// matmul, every differentiable op); PyTorch 1.13 replayed each in float64 and stored the output,
// the gradients of L = sum(out * w) and the second-order gradients of S = sum_i sum(grad_i * w_i)
// in test/fixtures/diff.json. Here every case runs in float32 on this backend, and on the native
// one a second time with the small-work shortcut off (every kernel call goes to the addon).
//
// Regenerate the fixture (after changing the generator): /usr/bin/python3 test/fixtures/gen_diff.py
//
// Tolerance, per element of each compared tensor E: |a - e| <= 1e-4·|e| + 1e-5·max|E| + 1e-6.
// The inputs are exactly representable in both precisions (multiples of 1/256), so the gap is
// float32 rounding (eps 6e-8) through a few ops: ~1e-6 relative for elementwise chains, more for
// sums whose terms cancel, which the max|E| term bounds (reductions here have under 50 terms of
// O(1)). The generator dropped every case where PyTorch's own float32 replay exceeds a quarter of
// this tolerance (ill-conditioned), and every value within 1e-3 of a kink (relu/abs at 0, clamp
// bounds, near-ties of max/min, sort/topk ties, leakyRelu/elu at 0, the softplus threshold, the
// l1/smoothL1/huber switch points), so one branch is taken in both precisions. Measured (printed by
// the test): the worst float32 element uses 47% of the tolerance, a second-order gradient of klDiv
// after tanh (PyTorch's own float32 replay: under 25% by the filter). gelu(approximate 'tanh') was
// at 89% when its second derivative went through 1 - tanh²; from a product of sigmoids
// (lib/ops/nonlinear.ts) its cases use 2.3%. Float64 (JS kernels) is checked against 1e-6·|e| + 1e-7·max|E| + 1e-9, limited by the
// fixture's 7 significant digits (worst: 45%, the rounding of the stored value).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as tg from '../lib/index.js';
import { Tensor, type DType } from '../lib/index.js';
import { nativeBackend, withBackend } from '../lib/backend/index.js';
import { NO_SMALL_WORK, makeNativeBackend, nativeAddon } from '../lib/backend/native.js';
// @ts-expect-error: a plain .mjs module (also run by node from gen_diff.py), no type declarations
import { generateCases, SCALE } from './diff/generate.mjs';


interface Tolerance { rtol: number; ntol: number; atol: number }
const TOLERANCE: Record<DType, Tolerance> = {
  float32: { rtol: 1e-4, ntol: 1e-5, atol: 1e-6 },
  // the fixture keeps 7 significant digits
  float64: { rtol: 1e-6, ntol: 1e-7, atol: 1e-9 },
};

type Arg = number | number[] | { n: number };
type Input = { shape: number[]; q: number[]; grad: boolean };
type Value = ['input', Input] | [string, Arg[], Record<string, unknown>?];
type Expected = number | string; // 'NaN', 'Infinity', '-Infinity' for non-finite values
interface Case {
  id: number;
  tags: string[];
  route: 'grad' | 'backward';
  mutateIndex: boolean;
  values: Value[];
  out: number;
  expect: { shape: number[]; out: Expected[]; grads: (Expected[] | null)[]; grads2: (Expected[] | null)[] };
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/diff.json', import.meta.url), 'utf8')) as {
  seed: number; candidates: number; cases: Case[];
};

/** The fixed weights of the scalar reductions (gen_diff.py has the same formula). */
function weightedSum(t: Tensor, salt: number): Tensor {
  const w = t.dtype === 'float64' ? new Float64Array(t.size) : new Float32Array(t.size);
  for (let k = 0; k < w.length; k++) w[k] = (((k * 7 + salt * 3) % 12) - 5.5) / 4;
  return tg.sum(tg.mul(t, new Tensor(w, t.shape)));
}

/** Index arguments in the form the case asks for; `mutations` overwrite them after the forward pass. */
type Index = number[] | Int32Array | Tensor | number[][];
function makeIndex(flat: number[], kind: string, n: number, mutations: (() => void)[], shape = [flat.length]): Index {
  const shift = (v: number) => (v + 1) % Math.max(n, 1);
  if (kind === 'int32') {
    const a = Int32Array.from(flat);
    mutations.push(() => a.forEach((v, i) => { a[i] = shift(v); }));
    return a;
  }
  if (kind === 'tensor') {
    const t = new Tensor(Float32Array.from(flat), shape);
    mutations.push(() => t.data.forEach((v, i) => { t.data[i] = shift(v); }));
    return t;
  }
  if (kind === 'nested' && shape.length > 1) {
    const nest = (off: number, d: number): Index => (d === shape.length - 1
      ? flat.slice(off, off + shape[d])
      : Array.from({ length: shape[d] }, (_, i) => nest(off + i * shape.slice(d + 1).reduce((p, s) => p * s, 1), d + 1)) as number[][]);
    return nest(0, 0);
  }
  const a = flat.slice();
  mutations.push(() => a.forEach((v, i) => { a[i] = shift(v); }));
  return a;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Op = (a: any[], at: any, mutations: (() => void)[]) => Tensor;
const axis = (x: Tensor, d: number) => x.shape[d < 0 ? d + x.ndim : d];
const OPS: Record<string, Op> = {
  add: ([x, y]) => tg.add(x, y),
  sub: ([x, y]) => tg.sub(x, y),
  mul: ([x, y]) => tg.mul(x, y),
  div: ([x, y]) => tg.div(x, y),
  maximum: ([x, y]) => tg.maximum(x, y),
  neg: ([x]) => x.neg(),
  exp: ([x]) => x.exp(),
  log: ([x]) => x.log(),
  sqrt: ([x]) => x.sqrt(),
  abs: ([x]) => x.abs(),
  pow: ([x], at) => x.pow(at.p),
  clamp: ([x], at) => x.clamp(at.min, at.max),
  sigmoid: ([x]) => x.sigmoid(),
  tanh: ([x]) => x.tanh(),
  relu: ([x]) => x.relu(),
  softmax: ([x], at) => x.softmax(at.dim),
  logSoftmax: ([x], at) => x.logSoftmax(at.dim),
  matmul: ([x, y]) => x.matmul(y),
  linear: ([x, w, b], at) => tg.linear(x, w, b ?? null, at.act),
  transpose: ([x], at) => x.transpose(at.dim0, at.dim1),
  T: ([x]) => x.T,
  permute: ([x], at) => x.permute(at.dims),
  reshape: ([x], at) => x.reshape(at.shape),
  view: ([x], at) => x.view(at.shape),
  flatten: ([x], at) => x.flatten(at.startDim, at.endDim),
  squeeze: ([x], at) => x.squeeze(at.dim),
  unsqueeze: ([x], at) => x.unsqueeze(at.dim),
  expand: ([x], at) => x.expand(at.shape),
  sum: ([x], at) => tg.sum(x, at.dim, at.keepDim),
  mean: ([x], at) => tg.mean(x, at.dim, at.keepDim),
  max: ([x], at) => tg.max(x, at.dim, at.keepDim),
  concat: ([xs], at) => tg.concat(xs, at.dim),
  stack: ([xs], at) => tg.stack(xs, at.dim),
  indexSelect: ([x], at, m) => x.indexSelect(at.dim, makeIndex(at.index, at.kind, axis(x, at.dim), m) as number[]),
  narrow: ([x], at) => tg.narrow(x, at.dim, at.start, at.length),
  gather: ([x], at, m) => x.gather(at.dim, makeIndex(at.index, at.kind, axis(x, at.dim), m, at.shape) as Tensor),
  crossEntropy: ([x], at, m) => tg.crossEntropy(x, makeIndex(at.labels, at.kind, x.shape[1], m) as number[]),
  nllLoss: ([x], at, m) => tg.nllLoss(x, makeIndex(at.labels, at.kind, x.shape[1], m) as number[]),
  mseLoss: ([x, y]) => tg.mseLoss(x, y),
  bceLoss: ([x, y]) => tg.bceLoss(x, y),
  bceWithLogitsLoss: ([x, y]) => tg.bceWithLogitsLoss(x, y),
  min: ([x], at) => tg.min(x, at.dim, at.keepDim),
  var: ([x], at) => tg.var(x, at.dim ?? undefined, { unbiased: at.unbiased, keepDim: at.keepDim }),
  std: ([x], at) => tg.std(x, at.dim ?? undefined, { unbiased: at.unbiased, keepDim: at.keepDim }),
  norm: ([x], at) => tg.norm(x, at.p === 'inf' ? Infinity : at.p, at.dim ?? undefined, at.keepDim),
  logsumexp: ([x], at) => tg.logsumexp(x, at.dim, at.keepDim),
  cumsum: ([x], at) => tg.cumsum(x, at.dim),
  where: ([x, y], at) => tg.where(mask(at.mask, x), x, y),
  maskedFill: ([x], at) => tg.maskedFill(x, mask(at.mask, x), at.value),
  sin: ([x]) => tg.sin(x),
  cos: ([x]) => tg.cos(x),
  log1p: ([x]) => tg.log1p(x),
  expm1: ([x]) => tg.expm1(x),
  sort: ([x], at) => tg.sort(x, at.dim, at.descending).values,
  topk: ([x], at) => tg.topk(x, at.k, at.dim, at.largest).values,
  split: ([x], at) => tg.split(x, at.size, at.dim)[at.piece],
  chunk: ([x], at) => tg.chunk(x, at.chunks, at.dim)[at.piece],
  repeat: ([x], at) => tg.repeat(x, at.sizes),
  erf: ([x]) => tg.erf(x),
  leakyRelu: ([x], at) => tg.leakyRelu(x, at.negativeSlope),
  elu: ([x], at) => tg.elu(x, at.alpha),
  gelu: ([x], at) => tg.gelu(x, { approximate: at.approximate }),
  silu: ([x]) => tg.silu(x),
  softplus: ([x], at) => tg.softplus(x, { beta: at.beta, threshold: at.threshold }),
  mish: ([x]) => tg.mish(x),
  layerNorm: ([x, weight, bias], at) => tg.layerNorm(x, at.shape, { weight, bias }),
  l1Loss: ([x, y]) => tg.l1Loss(x, y),
  smoothL1Loss: ([x, y], at) => tg.smoothL1Loss(x, y, { beta: at.beta }),
  huberLoss: ([x, y], at) => tg.huberLoss(x, y, { delta: at.delta }),
  klDiv: ([x, y], at) => tg.klDiv(x, y, { reduction: at.reduction, logTarget: at.logTarget }),
};

/** A 0/1 mask of x's shape, in x's dtype. */
function mask(flat: number[], x: Tensor): Tensor {
  return new Tensor(x.dtype === 'float64' ? Float64Array.from(flat) : Float32Array.from(flat), x.shape);
}

/** The case's graph on the given leaves; returns the output tensor. */
function evaluate(c: Case, leaves: Tensor[], mutations: (() => void)[]): Tensor {
  const vals: Tensor[] = [];
  let leaf = 0;
  const arg = (a: Arg) => (typeof a === 'number' ? vals[a] : Array.isArray(a) ? a.map((i) => vals[i]) : a.n);
  for (const v of c.values) {
    if (v[0] === 'input') vals.push(leaves[leaf++]);
    else vals.push(OPS[v[0]]((v[1] as Arg[]).map(arg), v[2] ?? {}, mutations));
  }
  return vals[c.out];
}

function makeLeaves(c: Case, dtype: DType): Tensor[] {
  return c.values.filter((v): v is ['input', Input] => v[0] === 'input').map(([, inp]) => {
    const d = inp.q.map((q) => q / SCALE);
    const t = new Tensor(dtype === 'float64' ? Float64Array.from(d) : Float32Array.from(d), inp.shape);
    return inp.grad ? t.requiresGrad_() : t;
  });
}

type Values = Float32Array | Float64Array;
interface Result { shape: number[]; out: Values; grads: Values[]; grads2: Values[] }

/** Forward, first and second order gradients of one case, by the case's route. */
function run(c: Case, dtype: DType): Result {
  const leaves = makeLeaves(c, dtype);
  const withGrad = leaves.filter((t) => t.requiresGrad);
  const copy = (t: Tensor | null, like: Tensor) => (t ? t.data.slice() : new Float64Array(like.size));
  let shape: number[] = [], out: Values = new Float64Array(0), grads: Values[] = [];
  const forward = (ls: Tensor[]): Tensor => {
    const mutations: (() => void)[] = [];
    const y = evaluate(c, ls, mutations);
    shape = y.shape.slice();
    out = y.data.slice();
    if (c.mutateIndex) for (const m of mutations) m();
    return weightedSum(y, c.id);
  };
  const second = (gs: Tensor[]): Tensor => gs.reduce((s, g, i) => tg.add(s, weightedSum(g, c.id + 1 + i)), tg.zeros([]));
  if (c.route === 'grad') {
    const swap = (xs: Tensor[]) => leaves.map((t) => (t.requiresGrad ? xs[withGrad.indexOf(t)] : t));
    const g2 = tg.grad((...xs) => {
      const gs = tg.grad((...ys) => forward(swap(ys)), xs);
      grads = gs.map((g, i) => copy(g, xs[i]));
      return second(gs);
    }, withGrad);
    return { shape, out, grads, grads2: g2.map((g, i) => copy(g, withGrad[i])) };
  }
  // loss.backward({createGraph}), then the backward of a function of the .grad tensors
  const L = forward(leaves);
  if (L.requiresGrad) L.backward(null, { createGraph: true });
  const gs = withGrad.map((t) => t.grad ?? tg.zerosLike(t));
  grads = gs.map((g, i) => copy(g, withGrad[i]));
  for (const t of withGrad) t.grad = null;
  const S = second(gs);
  if (S.requiresGrad) S.backward();
  return { shape, out, grads, grads2: withGrad.map((t) => copy(t.grad, t)) };
}

interface Worst { ratio: number; where: string }

/** The first element outside the tolerance, as a message; also the worst error / tolerance ratio seen. */
function compare(what: string, actual: ArrayLike<number>, expected: Expected[], tol: Tolerance, worst: Worst): string | null {
  if (actual.length !== expected.length) return `${what}: ${actual.length} elements, PyTorch ${expected.length}`;
  const e = expected.map(Number);
  const scale = e.reduce((m, v) => (Number.isFinite(v) ? Math.max(m, Math.abs(v)) : m), 0);
  for (let i = 0; i < e.length; i++) {
    const a = actual[i];
    if (!Number.isFinite(e[i]) || !Number.isFinite(a)) {
      if (Object.is(a, e[i]) || (Number.isNaN(a) && Number.isNaN(e[i]))) continue;
      return `${what}[${i}]: ${a}, PyTorch ${e[i]}`;
    }
    const ratio = Math.abs(a - e[i]) / (tol.rtol * Math.abs(e[i]) + tol.ntol * scale + tol.atol);
    if (ratio > worst.ratio) Object.assign(worst, { ratio, where: `${what}[${i}]` });
    if (!(ratio <= 1)) return `${what}[${i}]: ${a}, PyTorch ${e[i]} (${ratio.toFixed(1)}x the tolerance)`;
  }
  return null;
}

/** The first problem of one case, or null; worst.ratio grows only when the case passes. */
function check(c: Case, dtype: DType, worst: Worst): string | null {
  const tol = TOLERANCE[dtype];
  let r: Result;
  try {
    r = run(c, dtype);
  } catch (e) {
    return `threw ${(e as Error).message}`;
  }
  const x = c.expect;
  if (r.shape.join() !== x.shape.join()) return `output shape [${r.shape}], PyTorch [${x.shape}]`;
  const mine = { ratio: 0, where: '' };
  const problems = [compare('out', r.out, x.out, tol, mine)];
  const ids = c.values.flatMap((v, id) => (v[0] === 'input' ? [id] : []));
  let k = 0; // r holds the gradients of the inputs that require grad, in order
  x.grads.forEach((g, j) => {
    if (g === null) return;
    problems.push(compare(`grad of %${ids[j]}`, r.grads[k], g, tol, mine), compare(`grad² of %${ids[j]}`, r.grads2[k], x.grads2[j]!, tol, mine));
    k++;
  });
  const problem = problems.find((p) => p !== null) ?? null;
  if (!problem && mine.ratio > worst.ratio) Object.assign(worst, mine, { where: `case ${c.id}, ${mine.where}` });
  return problem;
}

function describeCase(c: Case): string {
  return `case ${c.id} [${c.tags.join(' ')}] ${c.route}${c.mutateIndex ? ' mutateIndex' : ''}: ` +
    c.values.map((v, i) => `%${i}=${v[0] === 'input' ? `input[${(v[1] as Input).shape}]` : `${v[0]}(${JSON.stringify(v[1])}${v[2] ? ` ${JSON.stringify(v[2])}` : ''})`}`).join(' ');
}

/** Replays every case; fails with the first mismatches. */
function replayAll(label: string, dtype: DType = 'float32'): void {
  const start = performance.now();
  const worst = { ratio: 0, where: '' };
  const failures: string[] = [];
  let checked = 0;
  for (const c of fixture.cases) {
    const problem = check(c, dtype, worst);
    checked++;
    if (problem) failures.push(`${describeCase(c)}\n    ${problem}`);
  }
  const ms = performance.now() - start;
  console.log(`[diff] ${label}: ${checked} cases match PyTorch, worst error ${(worst.ratio * 100).toFixed(1)}% of the tolerance (${worst.where}), ${ms.toFixed(0)} ms`);
  expect(checked).toBeGreaterThanOrEqual(2000);
  if (failures.length) expect.fail(`${failures.length} cases differ from PyTorch on ${label}:\n${failures.slice(0, 12).join('\n')}`);
}

const backend = tg.getBackend();

describe('differential guard: random op graphs against PyTorch 1.13', () => {
  // backend-independent: once, in the js project (which always runs)
  it.runIf(backend === 'js')('the fixture holds at least 2,000 cases covering every op, generated by test/diff/generate.mjs', () => {
    expect(fixture.cases.length).toBeGreaterThanOrEqual(2000);
    const uses = new Map<string, number>();
    for (const c of fixture.cases) for (const v of c.values) uses.set(v[0], (uses.get(v[0]) ?? 0) + 1);
    for (const op of Object.keys(OPS)) expect(uses.get(op) ?? 0, op).toBeGreaterThanOrEqual(50);
    // the committed graphs are what the generator makes from the seed (no hand edits, no drift)
    const regenerated = generateCases(fixture.seed, fixture.candidates) as Case[];
    for (const c of fixture.cases) expect(JSON.stringify(regenerated[c.id].values), `case ${c.id}`).toBe(JSON.stringify(c.values));
  });

  it(`every case matches PyTorch on the ${backend} backend (float32: values, gradients, second-order gradients)`, () => {
    replayAll(backend);
  });

  // float64 always runs on the JS kernels: once, in the js project
  it.runIf(backend === 'js')('every case matches PyTorch in float64 (tolerance 1e-6: the fixture holds 7 digits)', () => {
    replayAll('js, float64', 'float64');
  });

  const addon = backend === 'native' ? nativeAddon() : null;
  it.runIf(addon !== null && nativeBackend() !== null)('every case matches PyTorch on the native backend without its small-work shortcut', () => {
    withBackend(makeNativeBackend(addon!, NO_SMALL_WORK), () => replayAll('native, every kernel in the addon'));
  });
});
