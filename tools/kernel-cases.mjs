// Valid calls for every kernel of the catalogue (lib/backend/catalogue.ts), from a seeded generator:
// random sizes, exact buffer lengths, finite inputs. The fuzzer (tools/fuzz.mjs) breaks them; the
// conformance test (test/native.test.ts) runs them on both backends and compares.
//
// kernelCases(r, catalogue)[name]() returns { args, kinds, min, max, need, outs, alias, ... }: kinds[i]
// says how argument i is validated and min/max are the accepted argument counts (both from the
// catalogue; 'unaryOp' etc. become 'op'), need[i] is the exact number of elements a typed-array
// argument must have (0: not checked), outs the indices of written arrays, alias what aliasing is refused.

export function mulberry32(a) {
  return () => {
    a |= 0; a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
/** Random helpers over r (a function returning uniform numbers in [0, 1)). */
export function randomTools(r) {
  const int = (lo, hi) => lo + Math.floor(r() * (hi - lo + 1)); // inclusive
  const pick = (xs) => xs[Math.floor(r() * xs.length)];
  const chance = (p) => r() < p;
  const dimv = (max = 6) => (chance(0.1) ? 0 : int(1, max));
  const f32 = (n, lo = 0.1, hi = 2) => { const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r(); return a; };
  const i32 = (n, max) => { const a = new Int32Array(n); for (let i = 0; i < n; i++) a[i] = int(0, Math.max(0, max - 1)); return a; };
  const randShape = (rank = int(0, 4), max = 4) => Array.from({ length: rank }, () => dimv(max));
  const broadcastFrom = (out) => out.slice(out.length - int(0, out.length)).map((d) => (chance(0.3) ? 1 : d));
  return { int, pick, chance, dimv, f32, i32, randShape, broadcastFrom };
}

const prod = (s) => s.reduce((p, d) => p * d, 1);

/** One generator of valid calls per kernel of `catalogue` (the module lib/backend/catalogue.ts). */
export function kernelCases(r, catalogue) {
  const { KERNELS, UNARY_OPS, REDUCE_OPS, BINARY_OPS, ACT_OPS } = catalogue;
  const { int, pick, chance, dimv, f32, i32, randShape, broadcastFrom } = randomTools(r);

  const rowsOf = (L) => pick([1, L, ...[2, 3, 5].filter((d) => L % d === 0)]); // an optimizer step's rows: divides L
  const gens = {
    gemm() {
      const tA = chance(0.5), tB = chance(0.5), m = dimv(9), n = dimv(9), k = dimv(9);
      const batched = chance(0.3), batch = batched ? int(1, 3) : 1;
      const a = f32(batch * m * k, -1, 1), b = f32(batch * k * n, -1, 1), c = f32(batch * m * n, -1, 1);
      const args = [tA, tB, m, n, k, r() * 2 - 1, a, b, r() * 2 - 1, c];
      if (batched) args.push(batch, m * k, k * n, m * n);
      const mn = m * n, touched = mn > 0 && batch > 0;
      const need = [0, 0, 0, 0, 0, 0, touched && m * k ? a.length : 0, touched && k * n ? b.length : 0, 0, touched ? c.length : 0];
      return { args, need, outs: [9], alias: touched ? [[9, 6, m * k > 0], [9, 7, k * n > 0]] : [], dims: [m, n, k] };
    },
    unary() {
      const op = pick(UNARY_OPS), L = int(0, 40), x = f32(L), out = f32(L);
      const args = [op, x, out];
      if (op === 'pow') args.push(int(-2, 3));
      if (op === 'clamp') { const lo = r(); args.push(lo, lo + r()); }
      if (op === 'affine') args.push(r() * 4 - 2, r() * 4 - 2);
      if (op === 'softplus') args.push(pick([1, 2, 0.5, -1]), pick([20, 1, 0.5]));
      return { args, need: [0, 0, L], outs: [2], alias: [], inplace: [[2, 1]], dims: [L] };
    },
    binary() {
      const op = pick(BINARY_OPS), os = randShape(), as = broadcastFrom(os), bs = broadcastFrom(os);
      const a = f32(prod(as)), b = f32(prod(bs)), out = f32(prod(os));
      return {
        args: [op, a, as, b, bs, out, os], need: [0, a.length, 0, b.length, 0, out.length, 0], outs: [5], alias: [], dims: os,
      };
    },
    reduce() {
      const op = pick(REDUCE_OPS), outer = dimv(), n = int(1, 6), inner = dimv();
      const x = f32(outer * n * inner), out = f32(outer * inner);
      return { args: [op, x, outer, n, inner, out], need: [0, x.length, 0, 0, 0, out.length], outs: [5], alias: [], dims: [outer, n, inner] };
    },
    argmax() {
      const outer = dimv(), n = int(1, 6), inner = dimv();
      const x = f32(outer * n * inner), out = new Int32Array(outer * inner);
      return { args: [x, outer, n, inner, out], need: [x.length, 0, 0, 0, out.length], outs: [4], alias: [], dims: [outer, n, inner] };
    },
    sumTo() {
      const xs = randShape(), os = broadcastFrom(xs), x = f32(prod(xs)), out = f32(prod(os));
      return { args: [x, xs, out, os], need: [x.length, 0, out.length, 0], outs: [2], alias: [], dims: xs };
    },
    softmax() {
      const outer = dimv(), n = int(1, 6), inner = dimv(), x = f32(outer * n * inner, -3, 3), out = f32(x.length);
      return { args: [x, outer, n, inner, out, chance(0.5)], need: [x.length, 0, 0, 0, out.length, 0], outs: [4], alias: [], inplace: [[4, 0]], dims: [outer, n, inner] };
    },
    crossEntropy() {
      const rows = dimv(), classes = int(1, 7), logits = f32(rows * classes, -3, 3), labels = i32(rows, classes), probs = f32(rows * classes);
      return { args: [logits, labels, rows, classes, probs], need: [logits.length, rows, 0, 0, probs.length], outs: [4], alias: [], labels: [1, classes], dims: [rows, classes], returnsNumber: rows > 0 }; // mean over 0 rows is NaN, as in PyTorch
    },
    crossEntropyBackward() {
      const rows = dimv(), classes = int(1, 7), probs = f32(rows * classes, 0, 1), labels = i32(rows, classes), out = f32(rows * classes);
      return { args: [probs, labels, rows, classes, r(), out], need: [probs.length, rows, 0, 0, 0, out.length], outs: [5], alias: [], labels: [1, classes], dims: [rows, classes] };
    },
    indexSelect() {
      const outer = dimv(), n = int(1, 6), inner = dimv(), idx = i32(int(0, 6), n);
      const x = f32(outer * n * inner), out = f32(outer * idx.length * inner);
      return { args: [x, outer, n, inner, idx, out], need: [x.length, 0, 0, 0, 0, out.length], outs: [5], alias: out.length && x.length ? [[5, 0, true]] : [], labels: out.length ? [4, n] : null, dims: [outer, n, inner] };
    },
    indexAdd() {
      const outer = dimv(), n = int(1, 6), inner = dimv(), idx = i32(int(0, 6), n);
      const g = f32(outer * idx.length * inner), out = f32(outer * n * inner);
      return { args: [g, outer, n, inner, idx, out], need: [g.length, 0, 0, 0, 0, out.length], outs: [5], alias: [], labels: g.length ? [4, n] : null, dims: [outer, n, inner] };
    },
    permute() {
      const shape = randShape(int(0, 4)), perm = shape.map((_, i) => i);
      for (let i = perm.length - 1; i > 0; i--) { const j = int(0, i); [perm[i], perm[j]] = [perm[j], perm[i]]; }
      const x = f32(prod(shape)), out = f32(x.length);
      return { args: [x, shape, perm, out], need: [x.length, 0, 0, out.length], outs: [3], alias: x.length ? [[3, 0, true]] : [], dims: shape };
    },
    dropout() {
      const L = int(0, 40), x = f32(L, -2, 2), state = new Int32Array(4);
      for (let i = 0; i < 4; i++) state[i] = int(-(2 ** 31), 2 ** 31 - 1);
      if (state.every((w) => w === 0)) state[0] = 1;
      const p = pick([0, 1, r(), 0.5]);
      const mask = chance(0.7) ? f32(L) : null;
      return { args: [x, p, state, f32(L), mask], need: [0, 0, 4, L, mask ? L : 0], outs: mask ? [2, 3, 4] : [2, 3], alias: L && mask ? [[4, 0, true], [4, 3, true]] : [], inplace: [[3, 0]], dims: [L] };
    },
    batchNorm() { // n, l >= 1: a channel of no values has no mean
      const n = int(1, 6), c = dimv(), l = pick([1, 1, int(1, 4)]), total = n * c * l;
      const args = [f32(total, -2, 2), n, c, l, chance(0.7) ? f32(c, -1, 1) : null, chance(0.7) ? f32(c, -1, 1) : null, pick([1e-5, 0.1, 0]), f32(total), f32(c), f32(c)];
      if (n * l === 1 && args[6] === 0) args[6] = 1e-5; // var 0 and eps 0 divide by 0
      return { args, need: [total, 0, 0, 0, args[4] ? c : 0, args[5] ? c : 0, 0, total, c, c], outs: [7, 8, 9], alias: [], dims: [n, c, l] };
    },
    batchNormBackward() {
      const n = int(1, 6), c = dimv(), l = pick([1, 1, int(1, 4)]), total = n * c * l;
      const opt = (len) => (chance(0.75) ? f32(len) : null);
      const args = [f32(total, -2, 2), f32(total, -1, 1), n, c, l, f32(c, -1, 1), f32(c, 0.1, 2), pick([1e-5, 0.1]), opt(c), opt(total), opt(c), opt(c)];
      return { args, need: [total, total, 0, 0, 0, c, c, 0, ...args.slice(8).map((a) => (a ? a.length : 0))], outs: [9, 10, 11].filter((i) => args[i]), alias: [], dims: [n, c, l] };
    },
    layerNorm() {
      const rows = dimv(), cols = int(1, 9), total = rows * cols;
      const args = [f32(total, -2, 2), rows, cols, chance(0.7) ? f32(cols, -1, 1) : null, chance(0.7) ? f32(cols, -1, 1) : null, pick([1e-5, 0.1]), f32(total), f32(rows), f32(rows)];
      return { args, need: [total, 0, 0, args[3] ? cols : 0, args[4] ? cols : 0, 0, total, rows, rows], outs: [6, 7, 8], alias: [], dims: [rows, cols] };
    },
    layerNormBackward() {
      const rows = dimv(), cols = int(1, 9), total = rows * cols;
      const opt = (len) => (chance(0.75) ? f32(len) : null);
      const args = [f32(total, -2, 2), f32(total, -1, 1), rows, cols, f32(rows, -1, 1), f32(rows, 0.1, 2), pick([1e-5, 0.1]), opt(cols), opt(total), opt(cols), opt(cols)];
      return { args, need: [total, total, 0, 0, rows, rows, 0, ...args.slice(7).map((a) => (a ? a.length : 0))], outs: [8, 9, 10].filter((i) => args[i]), alias: [], dims: [rows, cols] };
    },
    sgdStep() { // buf may be null when momentum = 0 or nothing is touched (param.length 0)
      const L = int(0, 30), momentum = chance(0.5) ? 0 : r();
      const o = { lr: r(), momentum, dampening: r() * 0.5, nesterov: momentum > 0 && chance(0.5), weightDecay: r() * 0.1 };
      const args = [f32(L), f32(L, -1, 1), momentum || chance(0.5) ? f32(L) : null, chance(0.5), o];
      if (L > 0 && chance(0.5)) args.push(rowsOf(L));
      return { args, need: [0, L, momentum ? L : 0, 0, 0, 0], outs: [0], alias: [], inplace: [[1, 0]], dims: [L] };
    },
    linear() {
      const rows = dimv(9), inF = dimv(9), outF = dimv(9), bias = chance(0.7) ? f32(outF, -1, 1) : null;
      const x = f32(rows * inF, -1, 1), w = f32(outF * inF, -1, 1), out = f32(rows * outF);
      const args = [x, w, bias, pick(ACT_OPS), rows, inF, outF, out];
      const alias = out.length ? [[7, 0, x.length > 0], [7, 1, w.length > 0], ...(bias && outF ? [[7, 2, true]] : [])] : [];
      return { args, need: [x.length, w.length, bias ? outF : 0, 0, 0, 0, 0, out.length], outs: [7], alias, dims: [rows, inF, outF] };
    },
    linearBackward() { // y is the forward's output: in (0, 1) fits every activation's derivative
      const rows = dimv(9), inF = dimv(9), outF = dimv(9), act = pick(ACT_OPS);
      const opt = (len) => (chance(0.75) ? f32(len, -1, 1) : null);
      const y = act !== 'none' || chance(0.5) ? f32(rows * outF, 0.05, 0.95) : null;
      const args = [f32(rows * outF, -1, 1), y, act, f32(rows * inF, -1, 1), f32(outF * inF, -1, 1), rows, inF, outF,
        opt(rows * inF), opt(outF * inF), pick([0, 1, r()]), opt(outF), pick([0, 1, r()])];
      const ins = [0, 1, 3, 4].filter((i) => args[i]?.length), outs = [8, 9, 11].filter((i) => args[i]);
      const alias = outs.filter((o) => args[o].length).flatMap((o) => [...ins, ...outs.filter((p) => p !== o && args[p].length)].map((i) => [o, i, true]));
      return { args, need: [rows * outF, y ? y.length : 0, 0, rows * inF, outF * inF, 0, 0, 0, ...args.slice(8).map((a) => (a && typeof a !== 'number' ? a.length : 0))], outs, alias, dims: [rows, inF, outF] };
    },
    adamStep() {
      const L = int(0, 30);
      const o = { lr: r() * 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: r() * 0.1, decoupled: chance(0.5) };
      const args = [f32(L), f32(L, -1, 1), f32(L, -0.1, 0.1), f32(L, 0, 0.1), int(1, 100), o];
      if (L > 0 && chance(0.5)) args.push(rowsOf(L));
      return { args, need: [0, L, L, L, 0, 0, 0], outs: [0, 2, 3], alias: [], dims: [L] };
    },
  };
  gens.gemmAsync = () => ({ ...gens.gemm(), async: true });
  // Two unbatched gemms; the second sometimes reads the first's A (a layer's dX and dW share g).
  gens.gemmPair = () => {
    const one = () => { let c; do c = gens.gemm(); while (c.args.length > 10); return c; };
    const p = one(), q = one();
    if (chance(0.3) && q.args[6].length <= p.args[6].length) q.args[6] = p.args[6];
    return {
      args: [...p.args, ...q.args],
      need: [...p.need, ...q.need],
      outs: [9, 19],
      alias: [...p.alias, ...q.alias.map(([o, i, ne]) => [o + 10, i + 10, ne]),
        ...(p.need[9] && q.need[9] ? [[9, 19, true], [19, 9, true]] : [])],
      dims: [...p.dims, ...q.dims],
    };
  };
  const out = {};
  for (const [name, spec] of Object.entries(KERNELS)) {
    const kinds = spec.args.map((k) => k.replace(/\?$/, '').replace(/^\w+Op$/, 'op'));
    const min = spec.args.filter((k) => !k.endsWith('?')).length, gen = gens[name];
    if (!gen) throw new Error(`kernel-cases: no generator for the kernel '${name}' (add one here)`);
    out[name] = () => { const c = gen(); return { ...c, kinds: kinds.slice(0, c.args.length), min, max: kinds.length }; };
  }
  return out;
}
