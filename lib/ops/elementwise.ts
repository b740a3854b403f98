import type { BinaryOp, UnaryOp } from '../backend/backend.js';
import { kernels } from '../backend/index.js';
import { asFloat, defineLibraryOp, type Grads } from '../autograd/define.js';
import { Tensor, floatData, isTensor } from '../tensor.js';
import { broadcastShapes } from '../shape.js';
import { empty, promote, uninit } from './util.js';

type Scalar = Tensor | number;

export function binaryKernel(op: BinaryOp, opName: string, a: Tensor, b: Tensor): Tensor {
  const shape = broadcastShapes(opName, a.shape, b.shape);
  const out = uninit(a, shape);
  const ad = floatData(a);
  kernels(ad).binary(op, ad, a.shape, floatData(b), b.shape, out.data, shape);
  return out;
}

export function unaryKernel(op: UnaryOp, x: Tensor, p0 = 0, p1 = 0): Tensor {
  const out = uninit(x, x.shape);
  const xd = floatData(x);
  kernels(xd).unary(op, xd, out.data, p0, p1);
  return out;
}

// Tensor ∘ tensor. The engine sums each gradient down to its input's broadcast shape.
const addT = defineLibraryOp({
  name: 'Add',
  forward: (a: Tensor, b: Tensor) => binaryKernel('add', 'add', a, b),
  vjp: (g): Grads => [g, g],
});
const subT = defineLibraryOp({
  name: 'Sub',
  forward: (a: Tensor, b: Tensor) => binaryKernel('sub', 'sub', a, b),
  vjp: (g, { needsInputGrad: n }): Grads => [g, n[1] ? neg(g) : null],
});
const mulT = defineLibraryOp({
  name: 'Mul',
  forward: (a: Tensor, b: Tensor) => binaryKernel('mul', 'mul', a, b),
  vjp: (g, { needsInputGrad: n }, a, b): Grads => [n[0] ? mul(g, b) : null, n[1] ? mul(g, a) : null],
});
const divT = defineLibraryOp({
  name: 'Div',
  // d(a/b)/db = -a/b² = -out/b
  forward: (a: Tensor, b: Tensor) => binaryKernel('div', 'div', a, b),
  vjp: (g, { out, needsInputGrad: n }, _a, b): Grads => [n[0] ? div(g, b) : null, n[1] ? neg(div(mul(g, out), b)) : null],
});

// Tensor ∘ number: one affine pass (scale·x + shift), named after the op the user wrote.
function affineOp(name: string): (x: Tensor, scale: number, shift: number) => Tensor {
  return defineLibraryOp({
    name,
    forward: (x: Tensor, scale: number, shift: number) => unaryKernel('affine', x, scale, shift),
    vjp: (g, _ctx, _x, scale: number): Grads => [scale === 1 ? g : mulS(g, scale, 0)],
  });
}
const addS = affineOp('Add');
const subS = affineOp('Sub');
const mulS = affineOp('Mul');
const divS = affineOp('Div');
const negOp = affineOp('Neg');

function asTensor(v: number, like: Tensor): Tensor {
  const t = empty(like, []);
  t.data[0] = v;
  return t;
}

function pair(a: Scalar, b: Scalar, op: string): [Tensor, Tensor] {
  if (typeof a === 'number' && typeof b === 'number') throw new TypeError(`${op}: at least one argument must be a Tensor`);
  const ta = typeof a === 'number' ? asTensor(a, b as Tensor) : a;
  const tb = typeof b === 'number' ? asTensor(b, ta) : b;
  checkTensor(op, ta); checkTensor(op, tb);
  return promote(ta, tb);
}

function checkTensor(op: string, t: unknown): void {
  if (!isTensor(t)) throw new TypeError(`${op}: expected a Tensor or a number, got ${t === null ? 'null' : typeof t}`);
}

export function add(a: Scalar, b: Scalar): Tensor {
  if (typeof b === 'number' && isTensor(a)) return addS(a, 1, b);
  if (typeof a === 'number' && isTensor(b)) return addS(b, 1, a);
  return addT(...pair(a, b, 'add'));
}
export function sub(a: Scalar, b: Scalar): Tensor {
  if (typeof b === 'number' && isTensor(a)) return subS(a, 1, -b);
  if (typeof a === 'number' && isTensor(b)) return subS(b, -1, a);
  return subT(...pair(a, b, 'sub'));
}
export function mul(a: Scalar, b: Scalar): Tensor {
  if (typeof b === 'number' && isTensor(a)) return mulS(a, b, 0);
  if (typeof a === 'number' && isTensor(b)) return mulS(b, a, 0);
  return mulT(...pair(a, b, 'mul'));
}
export function div(a: Scalar, b: Scalar): Tensor {
  if (typeof b === 'number' && isTensor(a)) return divS(a, 1 / b, 0);
  return divT(...pair(a, b, 'div'));
}
export function neg(x: Tensor): Tensor {
  return negOp(x, -1, 0);
}

export const exp = defineLibraryOp({
  name: 'Exp',
  forward: (x: Tensor) => unaryKernel('exp', x),
  vjp: (g, { out }): Grads => [mul(g, out)],
});

export const log = defineLibraryOp({
  name: 'Log',
  forward: (x: Tensor) => unaryKernel('log', x),
  vjp: (g, _ctx, x): Grads => [div(g, x)],
});

export const sqrt = defineLibraryOp({
  name: 'Sqrt',
  forward: (x: Tensor) => unaryKernel('sqrt', x),
  vjp: (g, { out }): Grads => [div(g, mul(out, 2))],
});

export const abs = defineLibraryOp({
  name: 'Abs',
  // sign(0) = 0: the subgradient PyTorch uses at the kink
  forward: (x: Tensor) => unaryKernel('abs', x),
  vjp: (g, _ctx, x): Grads => [mul(g, unaryKernel('sign', x))],
});

export const pow = defineLibraryOp({
  name: 'Pow',
  forward: (x: Tensor, p: number) => {
    if (typeof p !== 'number') throw new TypeError(`pow: exponent must be a number, got ${typeof p}`);
    return unaryKernel('pow', x, p);
  },
  vjp: (g, _ctx, x, p: number): Grads => [p === 0 ? mul(g, 0) : mul(g, mul(pow(x, p - 1), p))],
});

export const clamp = defineLibraryOp({
  name: 'Clamp',
  forward: (x: Tensor, min: number | null, max: number | null = null) => {
    if (min === null && max === null) throw new RangeError('clamp: at least one of min and max must be given');
    return unaryKernel('clamp', x, min ?? -Infinity, max ?? Infinity);
  },
  // gradient passes where min <= x <= max (PyTorch's convention at the bounds)
  vjp: (g, _ctx, x, min: number | null, max: number | null = null): Grads => {
    const lo = min ?? -Infinity, hi = max ?? Infinity;
    const mask = empty(x, x.shape);
    for (let i = 0; i < x.size; i++) mask.data[i] = x.data[i] >= lo && x.data[i] <= hi ? 1 : 0;
    return [mul(g, mask)];
  },
});

/**
 * Comparisons give 1/0 float tensors and no gradient. With an int32 operand both compare exactly in
 * float64; the result is float32 unless an operand is float64.
 */
function compare(op: 'eq' | 'gt' | 'lt') {
  return (a: Scalar, b: Scalar): Tensor => {
    const [ta, tb] = pair(a, b, op);
    if (ta.dtype !== 'int32' && tb.dtype !== 'int32') return binaryKernel(op, op, ta, tb);
    const out = binaryKernel(op, op, asFloat(ta, 'float64'), asFloat(tb, 'float64'));
    return ta.dtype === 'float64' || tb.dtype === 'float64' ? out : new Tensor(Float32Array.from(out.data), out.shape);
  };
}
export const eq = compare('eq');
export const gt = compare('gt');
export const lt = compare('lt');

const maximumOp = defineLibraryOp({
  name: 'Maximum',
  forward: (a: Tensor, b: Tensor) => binaryKernel('maximum', 'maximum', a, b),
  // PyTorch's rule: at a tie each input gets g/2; the smaller one gets 0. A NaN compares false
  // both ways, so with a NaN both inputs get g.
  vjp: (g, { needsInputGrad: n }, a, b): Grads => {
    const half = mul(binaryKernel('eq', 'maximum', a, b), 0.5);
    const share = (smaller: Tensor): Tensor => mul(g, sub(sub(1, smaller), half));
    return [n[0] ? share(binaryKernel('lt', 'maximum', a, b)) : null, n[1] ? share(binaryKernel('gt', 'maximum', a, b)) : null];
  },
});

/** Element-wise max of two tensors (broadcasting); NaN propagates. */
export function maximum(a: Tensor, b: Tensor): Tensor {
  checkTensor('maximum', a); checkTensor('maximum', b);
  return maximumOp(...promote(a, b));
}
