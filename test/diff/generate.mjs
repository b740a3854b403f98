// Random op graphs for the differential test against PyTorch (test/differential.test.ts).
// Deterministic: case i of seed s depends only on (s, i). `node test/diff/generate.mjs SEED COUNT`
// prints {seed, cases} as JSON; test/fixtures/gen_diff.py replays them in PyTorch.
//
// A case is a list of values in the order they were made: ['input', {shape, q, grad}] (a leaf with
// elements q / 256, so float32 and float64 hold the same numbers exactly) or [op, args, attrs?],
// where an arg is the id (position) of an earlier value, a list of ids, or {n: number}, a literal
// scalar; `out` is the id of the output. Domains are kept smooth by construction (log and
// sqrt see positive values, BCE sees probabilities); PyTorch's replay rejects near-kinks it finds.

import { mulberry32 } from '../../bench/cases/common.mjs';

export const SCALE = 256;
const MAX_SIZE = 48;

export function generateCases(seed, count) {
  return Array.from({ length: count }, (_, i) => generateCase(seed, i));
}

const prod = (s) => s.reduce((p, d) => p * d, 1);

class Builder {
  constructor(seed, id) {
    this.r = mulberry32(Math.imul(seed, 0x9e3779b1) ^ Math.imul(id + 1, 0x85ebca6b));
    this.values = []; // ['input', {shape, q, grad}] or [op, args, attrs?], in the order they are made
    this.shapes = [];
    this.tags = new Set();
    this.allowEmpty = this.chance(0.1);
  }
  chance(p) { return this.r() < p; }
  int(lo, hi) { return lo + Math.floor(this.r() * (hi - lo + 1)); }
  pick(a) { return a[Math.floor(this.r() * a.length)]; }
  /** A dim index in [-n, n), negative a third of the time. */
  dim(n) { const d = this.int(0, n - 1); return this.chance(0.33) ? d - n : d; }
  isInput(id) { return this.values[id][0] === 'input'; }
  shapeOf(id) { return this.shapes[id]; }

  size() {
    return this.allowEmpty && this.chance(0.15) ? 0 : this.pick([1, 1, 2, 2, 3, 3, 4, 5]);
  }
  shape() {
    for (;;) {
      const rank = this.pick([0, 1, 1, 2, 2, 2, 3, 3, 4]);
      const s = Array.from({ length: rank }, () => this.size());
      if (prod(s) <= MAX_SIZE) return s;
    }
  }

  /**
   * A leaf tensor. Domains: any (±[1/64, 2], distinct values: no accidental ties), pos ([1/4, 2]),
   * unit ((0, 1)), target ([0, 1] including 0 and 1), zeroish (any, with a few exact zeros), tie
   * (any, the maximum twice).
   */
  input(shape, domain = 'any', grad = true) {
    const n = prod(shape);
    const used = new Set();
    const q = [];
    for (let i = 0; i < n; i++) {
      let v;
      do {
        if (domain === 'pos') v = this.int(64, 512);
        else if (domain === 'unit') v = this.int(8, 248);
        else if (domain === 'target') v = this.pick([0, 256, this.int(0, 256)]);
        else if (domain === 'zeroish' && this.chance(0.3)) v = 0;
        else v = this.int(4, 512) * (this.chance(0.5) ? -1 : 1);
      } while (used.has(v) && domain !== 'target' && !(domain === 'zeroish' && v === 0) && used.size < 400);
      used.add(v);
      q.push(v);
    }
    if (n > 1 && (domain === 'tie' || (domain === 'any' && this.chance(0.05)))) {
      // a deliberate tie: the largest element copied onto another
      q[this.int(0, n - 1)] = Math.max(...q);
    }
    return this.push(['input', { shape, q, grad }], shape);
  }
  node(op, args, attrs, shape) {
    return this.push(attrs === undefined ? [op, args] : [op, args, attrs], shape);
  }
  push(v, shape) {
    this.values.push(v);
    this.shapes.push(shape);
    return this.shapes.length - 1;
  }

  // ---- shapes ---------------------------------------------------------------------------------
  /** A shape that broadcasts with s (either side may be the larger one). */
  broadcastPartner(s) {
    for (;;) {
      const mode = this.pick(['same', 'ones', 'suffix', 'prefix', 'scalar', 'grow']);
      let p;
      if (mode === 'same') p = s.slice();
      else if (mode === 'ones') p = s.map((d) => (this.chance(0.5) ? 1 : d));
      else if (mode === 'suffix') p = s.slice(this.int(0, s.length));
      else if (mode === 'prefix') p = [...Array.from({ length: this.int(1, 4 - Math.min(s.length, 3)) }, () => this.int(1, 3)), ...s];
      else if (mode === 'scalar') p = [];
      else p = s.map((d) => (d === 1 ? this.int(1, 3) : d));
      if (p.length <= 4 && prod(broadcast(s, p)) <= MAX_SIZE) return p;
    }
  }

  // ---- domain adapters ------------------------------------------------------------------------
  /** A positive value made from x (or a fresh positive input). */
  positive(x) {
    if (this.chance(0.3)) return this.input(this.shapeOf(x), 'pos');
    const s = this.shapeOf(x);
    switch (this.int(0, 2)) {
      case 0: { const e = this.node('exp', [x], undefined, s); return this.node('add', [e, { n: 0.25 }], undefined, s); }
      case 1: { const sq = this.node('mul', [x, x], undefined, s); return this.node('add', [sq, { n: 0.5 }], undefined, s); }
      default: { const sg = this.node('sigmoid', [x], undefined, s); return this.node('add', [sg, { n: 0.1 }], undefined, s); }
    }
  }
  /** A probability in (0, 1) made from x, or a leaf (sometimes holding exact 0s and 1s). */
  probability(x) {
    if (this.chance(0.6)) return this.node('sigmoid', [x], undefined, this.shapeOf(x));
    return this.input(this.shapeOf(x), this.chance(0.15) ? 'target' : 'unit');
  }
  /** x as a 2-D [rows, classes] tensor (reshaped, or a fresh input when x does not fit). */
  matrix(x) {
    const s = this.shapeOf(x);
    if (s.length === 2 && s[1] > 0) return x;
    const n = prod(s);
    if (n > 0 && s.length > 0 && this.chance(0.7)) {
      const c = s[s.length - 1];
      return this.node('reshape', [x], { shape: [-1, c] }, [n / c, c]);
    }
    return this.input([this.size(), this.int(1, 5)], 'any');
  }
  /** Something with at least one dim. */
  atLeast1d(x) {
    const s = this.shapeOf(x);
    return s.length ? x : this.node('unsqueeze', [x], { dim: 0 }, [1]);
  }
  /** Keeps sizes small before ops that grow them. */
  shrink(x) {
    let s = this.shapeOf(x);
    while (prod(s) > 16) {
      const d = s.findIndex((v) => v > 1);
      x = this.node('sum', [x], { dim: d, keepDim: false }, s.filter((_, i) => i !== d));
      s = this.shapeOf(x);
    }
    return x;
  }
  /** A fresh input (usually) or x again (an input used twice). */
  partner(x, shape, domain = 'any') {
    if (this.chance(0.15) && sameShape(this.shapeOf(x), shape)) { this.tags.add('reuse'); return x; }
    return this.input(shape, domain, this.chance(0.85));
  }
  /** An earlier value (not x) that broadcasts with x: a diamond in the graph, or null. */
  earlier(x) {
    const s = this.shapeOf(x);
    const ok = this.shapes.map((_, i) => i).filter((i) => i !== x && broadcastable(s, this.shapes[i]) && prod(broadcast(s, this.shapes[i])) <= MAX_SIZE);
    return ok.length ? this.pick(ok) : null;
  }
  /** A leaf like the input x, with about half of its elements equal to x's: ties for maximum. */
  tiedWith(x) {
    const src = this.values[x][1];
    const y = this.input(src.shape, 'any', this.chance(0.85));
    const q = this.values[y][1].q;
    for (let i = 0; i < q.length; i++) if (this.chance(0.5)) q[i] = src.q[i];
    return y;
  }
  /** Sometimes a fresh input with an empty dim instead of x (empty batches for the losses). */
  maybeEmpty(x) {
    if (!this.allowEmpty || !this.chance(0.5)) return x;
    const s = this.shapeOf(x).length ? this.shapeOf(x).slice() : [this.int(1, 3)];
    s[this.int(0, s.length - 1)] = 0;
    return this.input(s, 'any');
  }
  indexKind() { return this.pick(['array', 'int32', 'tensor']); }
}

function sameShape(a, b) { return a.length === b.length && a.every((d, i) => d === b[i]); }

function broadcastable(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 1; i <= n; i++) {
    const x = a[a.length - i], y = b[b.length - i];
    if (x !== y && x !== 1 && y !== 1) return false;
  }
  return Math.max(a.length, b.length) <= 4;
}

function broadcast(a, b) {
  const n = Math.max(a.length, b.length);
  return Array.from({ length: n }, (_, i) => {
    const x = a[i - n + a.length] ?? 1, y = b[i - n + b.length] ?? 1;
    return x === 1 ? y : x;
  });
}

function reduced(s, dims, keepDim) {
  const set = new Set(dims.map((d) => (d < 0 ? d + s.length : d)));
  return keepDim ? s.map((d, i) => (set.has(i) ? 1 : d)) : s.filter((_, i) => !set.has(i));
}

// ---- ops: each takes the builder and the current value id, returns the new value id ------------
const BINARY = ['add', 'sub', 'mul', 'div'];

const OPS = {
  ...Object.fromEntries(BINARY.map((op) => [op, (b, x) => {
    const s = b.shapeOf(x);
    if (b.chance(0.2)) {
      // a literal number on either side
      const n = b.pick([2.5, -1.5, 0.5, 3]);
      const left = b.chance(op === 'div' ? 0.25 : 0.5);
      if (op === 'div' && left) x = b.positive(x);
      return b.node(op, left ? [{ n }, x] : [x, { n }], undefined, b.shapeOf(x));
    }
    let y = op !== 'div' && b.chance(0.15) ? b.earlier(x) : null;
    if (y === null) y = b.partner(x, b.broadcastPartner(s), op === 'div' ? 'pos' : 'any');
    else b.tags.add('diamond');
    if (op === 'div' && !b.isInput(y)) y = b.positive(y);
    return binary(b, op, x, y);
  }])),
  maximum: (b, x) => binary(b, 'maximum', x, b.isInput(x) && b.chance(0.25) ? b.tiedWith(x) : b.partner(x, b.broadcastPartner(b.shapeOf(x)))),
  neg: (b, x) => b.node('neg', [x], undefined, b.shapeOf(x)),
  exp: (b, x) => b.node('exp', [b.chance(0.5) ? b.node('tanh', [x], undefined, b.shapeOf(x)) : x], undefined, b.shapeOf(x)),
  log: (b, x) => { const p = b.positive(x); return b.node('log', [p], undefined, b.shapeOf(p)); },
  sqrt: (b, x) => { const p = b.positive(x); return b.node('sqrt', [p], undefined, b.shapeOf(p)); },
  pow: (b, x) => {
    const p = b.pick([2, 3, 0, 1, -1, 0.5, 1.5, -0.5]);
    if (!Number.isInteger(p) || p < 0) x = b.positive(x);
    return b.node('pow', [x], { p }, b.shapeOf(x));
  },
  abs: (b, x) => b.node('abs', [b.chance(0.2) && b.isInput(x) ? b.input(b.shapeOf(x), 'zeroish') : x], undefined, b.shapeOf(x)),
  clamp: (b, x) => {
    const src = b.isInput(x) ? b.values[x][1] : null;
    // a bound equal to an input element sometimes: the gradient passes at the bound, as in PyTorch
    const at = src && src.q.length && b.chance(0.3) ? src.q[b.int(0, src.q.length - 1)] / SCALE : null;
    let lo = b.chance(0.7) ? (at ?? b.int(-256, 128) / SCALE) : null;
    let hi = lo === null || b.chance(0.5) ? b.int(0, 384) / SCALE : null;
    if (lo !== null && hi !== null && hi < lo) [lo, hi] = [hi, lo];
    return b.node('clamp', [x], { min: lo, max: hi }, b.shapeOf(x));
  },
  sigmoid: (b, x) => b.node('sigmoid', [x], undefined, b.shapeOf(x)),
  tanh: (b, x) => b.node('tanh', [x], undefined, b.shapeOf(x)),
  relu: (b, x) => b.node('relu', [b.chance(0.15) && b.isInput(x) ? b.input(b.shapeOf(x), 'zeroish') : x], undefined, b.shapeOf(x)),
  softmax: (b, x) => softmaxLike(b, x, 'softmax'),
  logSoftmax: (b, x) => softmaxLike(b, x, 'logSoftmax'),

  matmul: (b, x) => {
    x = b.shrink(x);
    if (b.chance(0.1)) x = b.node('flatten', [x], {}, [prod(b.shapeOf(x))]);
    let s = b.shapeOf(x);
    if (!s.length) { x = b.atLeast1d(x); s = [1]; }
    const k = s[s.length - 1];
    const n = b.allowEmpty && b.chance(0.1) ? 0 : b.int(1, 4);
    if (b.chance(0.75)) {
      // x on the left
      let other;
      const kind = s.length === 1 && b.chance(0.5) ? 'vec' : b.pick(['vec', 'mat', 'mat', 'batch', 'self']);
      if (kind === 'self' && s.length >= 2) {
        // x·xᵀ: an input used twice
        b.tags.add('reuse');
        const t = b.node('transpose', [x], { dim0: -1, dim1: -2 }, [...s.slice(0, -2), s[s.length - 1], s[s.length - 2]]);
        return b.node('matmul', [x, t], undefined, [...s.slice(0, -1), s[s.length - 2]]);
      }
      if (kind === 'vec') other = [k];
      else if (kind === 'batch') other = [...(s.length >= 3 ? s.slice(0, -2).map((d) => (b.chance(0.3) ? 1 : d)) : [b.int(1, 3)]), k, n];
      else other = [k, n];
      const y = b.input(other, 'any', b.chance(0.85));
      return b.node('matmul', [x, y], undefined, matmulShape(s, other));
    }
    // x on the right
    const m = b.int(1, 4);
    const other = s.length === 1 ? b.pick([[m, s[0]], [b.int(1, 3), m, s[0]]]) : [m, s[s.length - 2]];
    const y = b.input(other, 'any', b.chance(0.85));
    return b.node('matmul', [y, x], undefined, matmulShape(other, s));
  },
  linear: (b, x) => {
    x = b.atLeast1d(b.shrink(x));
    const s = b.shapeOf(x);
    const out = b.int(1, 4);
    const w = b.input([out, s[s.length - 1]]);
    const args = [x, w];
    if (b.chance(0.7)) args.push(b.input([out], 'any', b.chance(0.9)));
    return b.node('linear', args, { act: b.pick([null, null, 'relu', 'sigmoid', 'tanh']) }, [...s.slice(0, -1), out]);
  },

  transpose: (b, x) => {
    const s = b.shapeOf(x);
    if (s.length < 2) return OPS.unsqueeze(b, x);
    const d0 = b.dim(s.length), d1 = b.dim(s.length);
    const t = s.slice();
    const a = (d0 + s.length) % s.length, c = (d1 + s.length) % s.length;
    [t[a], t[c]] = [t[c], t[a]];
    return b.node('transpose', [x], { dim0: d0, dim1: d1 }, t);
  },
  T: (b, x) => b.node('T', [x], undefined, b.shapeOf(x).slice().reverse()),
  permute: (b, x) => {
    const s = b.shapeOf(x);
    const perm = s.map((_, i) => i);
    for (let i = perm.length - 1; i > 0; i--) { const j = b.int(0, i); [perm[i], perm[j]] = [perm[j], perm[i]]; }
    return b.node('permute', [x], { dims: perm.map((p) => (b.chance(0.2) ? p - s.length : p)) }, perm.map((p) => s[p]));
  },
  reshape: (b, x) => reshapeLike(b, x, 'reshape'),
  view: (b, x) => reshapeLike(b, x, 'view'),
  flatten: (b, x) => {
    const s = b.shapeOf(x);
    if (!s.length) return b.node('flatten', [x], {}, [1]);
    let st = b.int(0, s.length - 1), en = b.int(st, s.length - 1);
    const t = [...s.slice(0, st), prod(s.slice(st, en + 1)), ...s.slice(en + 1)];
    if (b.chance(0.3)) en -= s.length;
    return b.node('flatten', [x], { startDim: st, endDim: en }, t);
  },
  squeeze: (b, x) => {
    const s = b.shapeOf(x);
    if (!s.length || b.chance(0.3)) return b.node('squeeze', [x], {}, s.filter((d) => d !== 1));
    const d = b.dim(s.length), a = (d + s.length) % s.length;
    return b.node('squeeze', [x], { dim: d }, s[a] === 1 ? s.filter((_, i) => i !== a) : s);
  },
  unsqueeze: (b, x) => {
    const s = b.shapeOf(x);
    const d = b.dim(s.length + 1), a = (d + s.length + 1) % (s.length + 1);
    const t = s.slice();
    t.splice(a, 0, 1);
    return b.node('unsqueeze', [x], { dim: d }, t);
  },
  expand: (b, x) => {
    x = b.shrink(x);
    const s = b.shapeOf(x);
    const lead = s.length < 4 && b.chance(0.5) ? [b.int(1, 3)] : [];
    const t = [...lead, ...s.map((d) => (d === 1 ? b.int(1, 3) : d))];
    const spec = [...lead, ...s.map((d, i) => (d !== 1 && b.chance(0.5) ? -1 : t[lead.length + i]))];
    return b.node('expand', [x], { shape: spec }, t);
  },

  sum: (b, x) => reduceLike(b, x, 'sum'),
  mean: (b, x) => reduceLike(b, x, 'mean'),
  max: (b, x) => reduceLike(b, x, 'max'),
  min: (b, x) => reduceLike(b, x, 'min'),
  var: (b, x) => spread(b, x, 'var'),
  std: (b, x) => spread(b, x, 'std'),
  norm: (b, x) => {
    const s = b.shapeOf(x);
    const p = b.pick([1, 2, 'inf']);
    if (!s.length || b.chance(0.3)) return b.node('norm', [x], { p, dim: null, keepDim: false }, []);
    const d = b.dim(s.length), keepDim = b.chance(0.4);
    return b.node('norm', [x], { p, dim: d, keepDim }, reduced(s, [d], keepDim));
  },
  logsumexp: (b, x) => {
    x = b.atLeast1d(x);
    const s = b.shapeOf(x), d = b.dim(s.length), keepDim = b.chance(0.4);
    return b.node('logsumexp', [x], { dim: d, keepDim }, reduced(s, [d], keepDim));
  },
  cumsum: (b, x) => { x = b.atLeast1d(x); return b.node('cumsum', [x], { dim: b.dim(b.shapeOf(x).length) }, b.shapeOf(x)); },
  where: (b, x) => {
    const s = b.shapeOf(x);
    const mask = Array.from({ length: prod(s) }, () => (b.chance(0.5) ? 1 : 0));
    return b.node('where', [x, b.partner(x, s)], { mask }, s);
  },
  maskedFill: (b, x) => {
    const s = b.shapeOf(x);
    const mask = Array.from({ length: prod(s) }, () => (b.chance(0.5) ? 1 : 0));
    return b.node('maskedFill', [x], { mask, value: b.pick([0, -1.5, 2.25]) }, s);
  },
  sin: (b, x) => b.node('sin', [x], undefined, b.shapeOf(x)),
  cos: (b, x) => b.node('cos', [x], undefined, b.shapeOf(x)),
  log1p: (b, x) => { const p = b.positive(x); return b.node('log1p', [p], undefined, b.shapeOf(p)); },
  expm1: (b, x) => b.node('expm1', [b.chance(0.5) ? b.node('tanh', [x], undefined, b.shapeOf(x)) : x], undefined, b.shapeOf(x)),
  sort: (b, x) => {
    x = b.atLeast1d(x);
    const s = b.shapeOf(x);
    return b.node('sort', [x], { dim: b.dim(s.length), descending: b.chance(0.5) }, s);
  },
  topk: (b, x) => {
    x = b.atLeast1d(x);
    const s = b.shapeOf(x), d = b.dim(s.length), a = (d + s.length) % s.length;
    const k = b.int(Math.min(1, s[a]), s[a]);
    const t = s.slice();
    t[a] = k;
    return b.node('topk', [x], { k, dim: d, largest: b.chance(0.7) }, t);
  },
  split: (b, x) => pieceOf(b, x, 'split'),
  chunk: (b, x) => pieceOf(b, x, 'chunk'),
  repeat: (b, x) => {
    x = b.shrink(x);
    const s = b.shapeOf(x);
    const sizes = [...(s.length < 4 && b.chance(0.4) ? [b.int(1, 2)] : []), ...s.map(() => b.pick([1, 1, 2]))];
    const lead = sizes.length - s.length;
    return b.node('repeat', [x], { sizes }, sizes.map((r, i) => r * (i < lead ? 1 : s[i - lead])));
  },
  erf: (b, x) => b.node('erf', [x], undefined, b.shapeOf(x)),
  leakyRelu: (b, x) => b.node('leakyRelu', [x], { negativeSlope: b.pick([0.01, 0.2]) }, b.shapeOf(x)),
  elu: (b, x) => b.node('elu', [x], { alpha: b.pick([1, 0.5]) }, b.shapeOf(x)),
  gelu: (b, x) => b.node('gelu', [x], { approximate: b.pick(['none', 'tanh']) }, b.shapeOf(x)),
  silu: (b, x) => b.node('silu', [x], undefined, b.shapeOf(x)),
  softplus: (b, x) => b.node('softplus', [x], { beta: b.pick([1, 2, 0.5]), threshold: b.pick([20, 1]) }, b.shapeOf(x)),
  mish: (b, x) => b.node('mish', [x], undefined, b.shapeOf(x)),
  layerNorm: (b, x) => {
    x = b.atLeast1d(x);
    const s = b.shapeOf(x);
    const shape = s.slice(s.length >= 2 && b.chance(0.3) ? -2 : -1);
    const args = [x];
    if (b.chance(0.6)) args.push(b.input(shape, 'any', b.chance(0.9)), b.input(shape, 'any', b.chance(0.9)));
    return b.node('layerNorm', args, { shape }, s);
  },
  l1Loss: (b, x) => { x = b.maybeEmpty(x); return b.node('l1Loss', [x, b.input(b.shapeOf(x), 'any', b.chance(0.5))], undefined, []); },
  smoothL1Loss: (b, x) => { x = b.maybeEmpty(x); return b.node('smoothL1Loss', [x, b.input(b.shapeOf(x), 'any', b.chance(0.5))], { beta: b.pick([1, 0.5]) }, []); },
  huberLoss: (b, x) => { x = b.maybeEmpty(x); return b.node('huberLoss', [x, b.input(b.shapeOf(x), 'any', b.chance(0.5))], { delta: b.pick([1, 0.5]) }, []); },
  klDiv: (b, x) => {
    x = b.maybeEmpty(x);
    const logTarget = b.chance(0.3);
    const t = b.input(b.shapeOf(x), logTarget ? 'any' : 'unit', b.chance(0.3));
    return b.node('klDiv', [x, t], { reduction: b.pick(['mean', 'sum', 'batchmean']), logTarget }, []);
  },

  concat: (b, x) => {
    x = b.atLeast1d(b.shrink(x));
    const s = b.shapeOf(x);
    const d = b.dim(s.length), a = (d + s.length) % s.length;
    const parts = [x];
    for (let i = b.int(1, 2); i > 0; i--) {
      const p = s.slice();
      p[a] = b.allowEmpty && b.chance(0.2) ? 0 : b.int(1, 3);
      parts.push(b.partner(x, p));
    }
    const t = s.slice();
    t[a] = parts.reduce((acc, id) => acc + b.shapeOf(id)[a], 0);
    return b.node('concat', [parts], { dim: d }, t);
  },
  stack: (b, x) => {
    x = b.shrink(x);
    const s = b.shapeOf(x);
    const parts = [x];
    for (let i = b.int(1, 2); i > 0; i--) parts.push(b.partner(x, s));
    const d = b.dim(s.length + 1), a = (d + s.length + 1) % (s.length + 1);
    const t = s.slice();
    t.splice(a, 0, parts.length);
    return b.node('stack', [parts], { dim: d }, t);
  },
  indexSelect: (b, x) => {
    x = b.atLeast1d(x);
    const s = b.shapeOf(x);
    const d = b.dim(s.length), a = (d + s.length) % s.length;
    const idx = s[a] === 0 ? [] : Array.from({ length: b.int(b.allowEmpty ? 0 : 1, 5) }, () => b.int(0, s[a] - 1));
    const t = s.slice();
    t[a] = idx.length;
    return b.node('indexSelect', [x], { dim: d, index: idx, kind: b.indexKind() }, t);
  },
  narrow: (b, x) => {
    x = b.atLeast1d(x);
    const s = b.shapeOf(x);
    const d = b.dim(s.length), a = (d + s.length) % s.length;
    const start = b.int(0, s[a]), length = b.int(start === s[a] || !b.allowEmpty ? Math.min(1, s[a] - start) : 0, s[a] - start);
    const t = s.slice();
    t[a] = length;
    return b.node('narrow', [x], { dim: d, start, length }, t);
  },
  gather: (b, x) => {
    x = b.atLeast1d(x);
    const s = b.shapeOf(x);
    const d = b.dim(s.length), a = (d + s.length) % s.length;
    const shape = s.map((v, i) => (i === a ? (v === 0 ? 0 : b.int(1, 4)) : b.int(Math.min(1, v), v)));
    const index = Array.from({ length: prod(shape) }, () => b.int(0, Math.max(0, s[a] - 1)));
    return b.node('gather', [x], { dim: d, index, shape, kind: b.pick(['nested', 'tensor']) }, shape);
  },

  crossEntropy: (b, x) => classLoss(b, x, 'crossEntropy'),
  nllLoss: (b, x) => classLoss(b, x, 'nllLoss'),
  mseLoss: (b, x) => { x = b.maybeEmpty(x); return b.node('mseLoss', [x, b.partner(x, b.shapeOf(x))], undefined, []); },
  bceLoss: (b, x) => {
    const p = b.probability(b.maybeEmpty(x));
    return b.node('bceLoss', [p, b.input(b.shapeOf(p), 'target', false)], undefined, []);
  },
  bceWithLogitsLoss: (b, x) => {
    x = b.maybeEmpty(x);
    if (b.isInput(x) && b.chance(0.2)) x = b.input(b.shapeOf(x), 'zeroish');
    return b.node('bceWithLogitsLoss', [x, b.input(b.shapeOf(x), 'target', b.chance(0.3))], undefined, []);
  },
};

const OP_NAMES = Object.keys(OPS);

function binary(b, op, x, y) {
  if (!sameShape(b.shapeOf(x), b.shapeOf(y))) b.tags.add('broadcast');
  return b.node(op, [x, y], undefined, broadcast(b.shapeOf(x), b.shapeOf(y)));
}

function matmulShape(a, c) {
  if (a.length === 1 && c.length === 1) return [];
  if (a.length === 1) return [...c.slice(0, -2), c[c.length - 1]];
  if (c.length === 1) return a.slice(0, -1);
  return [...broadcast(a.slice(0, -2), c.slice(0, -2)), a[a.length - 2], c[c.length - 1]];
}

function softmaxLike(b, x, op) {
  const s = b.shapeOf(x);
  return b.node(op, [x], { dim: s.length ? b.dim(s.length) : b.pick([0, -1]) }, s);
}

function reshapeLike(b, x, op) {
  const s = b.shapeOf(x);
  const n = prod(s);
  // split n into 0..4 factors
  const t = [];
  let rest = n;
  const rank = n === 0 ? b.int(1, 3) : b.int(n === 1 ? 0 : 1, 4);
  for (let i = 0; i < rank - 1; i++) {
    const divs = n === 0 ? [0, 1, 2] : [1, 2, 3, 4, 5].filter((f) => rest % f === 0);
    const f = b.pick(divs);
    t.push(f);
    if (f) rest /= f;
  }
  if (rank > 0) t.push(n === 0 ? (t.includes(0) ? b.int(1, 3) : 0) : rest);
  const spec = t.slice();
  if (n > 0 && t.length && b.chance(0.4)) spec[b.int(0, t.length - 1)] = -1;
  return b.node(op, [x], { shape: spec }, t);
}

function reduceLike(b, x, op) {
  const extreme = op === 'max' || op === 'min';
  if (op === 'max' && b.isInput(x) && b.chance(0.5)) x = b.input(b.shapeOf(x), 'tie');
  if (extreme && b.chance(0.1)) {
    // the max over a broadcast copy: every slice is a tie
    x = b.shrink(x);
    const t = [2, ...b.shapeOf(x)];
    x = b.node('expand', [b.node('unsqueeze', [x], { dim: 0 }, [1, ...b.shapeOf(x)])], { shape: t }, t);
  }
  const s = b.shapeOf(x);
  const keepDim = b.chance(0.4);
  const nonEmpty = (d) => s[(d + s.length) % s.length] > 0;
  if (extreme && prod(s) === 0) {
    // max over an empty dim is an error in both libraries; reduce a non-empty one if any
    const ok = s.map((_, i) => i).filter((i) => s[i] > 0);
    if (!ok.length) return OPS.sum(b, x);
    const d = b.pick(ok);
    return b.node(op, [x], { dim: d, keepDim }, reduced(s, [d], keepDim));
  }
  const r = b.r();
  if (r < 0.3 || (!s.length && r < 0.6)) return b.node(op, [x], keepDim ? { dim: null, keepDim } : {}, keepDim ? s.map(() => 1) : []);
  if (!s.length) {
    b.tags.add(`${op}0d`);
    return b.node(op, [x], { dim: b.pick([0, -1]), keepDim }, []);
  }
  if (op === 'sum' && s.length >= 2 && b.chance(0.5)) {
    const dims = s.map((_, i) => i).filter(() => b.chance(0.6));
    if (dims.length >= 2) {
      b.tags.add('sumDims');
      return b.node(op, [x], { dim: dims.map((d) => (b.chance(0.3) ? d - s.length : d)), keepDim }, reduced(s, dims, keepDim));
    }
  }
  const d = b.dim(s.length);
  if (extreme && !nonEmpty(d)) return b.node('sum', [x], { dim: d, keepDim }, reduced(s, [d], keepDim));
  return b.node(op, [x], { dim: d, keepDim }, reduced(s, [d], keepDim));
}

/** var or std over all elements or one dim with at least 2 of them (else a sum). */
function spread(b, x, op) {
  const s = b.shapeOf(x);
  const unbiased = b.chance(0.5), keepDim = b.chance(0.4);
  const dims = s.map((_, i) => i).filter((i) => s[i] >= 2);
  if (prod(s) >= 2 && (!dims.length || b.chance(0.3))) return b.node(op, [x], { dim: null, unbiased, keepDim: false }, []);
  if (!dims.length) return OPS.sum(b, x);
  const d = b.pick(dims);
  return b.node(op, [x], { dim: b.chance(0.3) ? d - s.length : d, unbiased, keepDim }, reduced(s, [d], keepDim));
}

/** One piece of split (a size or a list of sections) or chunk along a non-empty dim. */
function pieceOf(b, x, op) {
  x = b.atLeast1d(x);
  const s = b.shapeOf(x);
  const dims = s.map((_, i) => i).filter((i) => s[i] > 0);
  if (!dims.length) return OPS.sum(b, x);
  const a = b.pick(dims), n = s[a];
  let sizes;
  let at;
  if (op === 'chunk') {
    const chunks = b.int(1, 3), step = Math.ceil(n / chunks);
    sizes = Array.from({ length: Math.ceil(n / step) }, (_, i) => Math.min(step, n - i * step));
    at = { chunks };
  } else if (b.chance(0.5)) {
    const size = b.int(1, n);
    sizes = Array.from({ length: Math.ceil(n / size) }, (_, i) => Math.min(size, n - i * size));
    at = { size };
  } else {
    const cut = b.int(0, n);
    sizes = [cut, n - cut];
    at = { size: sizes };
  }
  const piece = b.int(0, sizes.length - 1);
  const t = s.slice();
  t[a] = sizes[piece];
  return b.node(op, [x], { ...at, dim: b.chance(0.3) ? a - s.length : a, piece }, t);
}

function classLoss(b, x, op) {
  let m = b.allowEmpty && b.chance(0.5) ? b.input([0, b.int(1, 4)]) : b.matrix(x);
  if (op === 'nllLoss' && b.chance(0.7)) m = b.node('logSoftmax', [m], { dim: 1 }, b.shapeOf(m));
  const [rows, classes] = b.shapeOf(m);
  const labels = Array.from({ length: rows }, () => b.int(0, classes - 1));
  return b.node(op, [m], { labels, kind: b.indexKind() }, []);
}

function generateCase(seed, id) {
  const b = new Builder(seed, id);
  let x = b.input(b.shape(), 'any');
  const steps = b.pick([1, 1, 2, 2, 3, 4]);
  for (let i = 0; i < steps; i++) {
    const op = b.pick(OP_NAMES);
    x = OPS[op](b, x);
    b.tags.add(op);
  }
  const route = b.chance(0.3) ? 'backward' : 'grad';
  // the index arrays are overwritten after the forward pass: the gradient must not move
  const mutateIndex = b.values.some((v) => v[2] && (v[2].index || v[2].labels)) && b.chance(0.25);
  if (mutateIndex) b.tags.add('indexMutated');
  return {
    id,
    tags: [...b.tags].sort(),
    route,
    mutateIndex,
    values: b.values,
    out: x,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const seed = Number(process.argv[2] ?? 1), count = Number(process.argv[3] ?? 100);
  process.stdout.write(JSON.stringify({ seed, cases: generateCases(seed, count) }));
}
