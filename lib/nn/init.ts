// nn.init: PyTorch 1.13's initializers, in place on a tensor's data (no gradient is recorded),
// drawing from the seeded global generator (manualSeed).
import { Tensor, isTensor } from '../tensor.js';
import { random, randomNormal } from '../random.js';
import { checkNumber, withDefaults } from '../options.js';
import { fmt } from '../shape.js';

export type Nonlinearity =
  | 'linear' | 'identity' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'leakyRelu' | 'selu'
  | 'conv1d' | 'conv2d' | 'conv3d' | 'conv_transpose1d' | 'conv_transpose2d' | 'conv_transpose3d'
  | 'convTranspose1d' | 'convTranspose2d' | 'convTranspose3d';

const LINEAR = new Set(['linear', 'identity', 'sigmoid', 'conv1d', 'conv2d', 'conv3d', 'conv_transpose1d', 'conv_transpose2d', 'conv_transpose3d', 'convTranspose1d', 'convTranspose2d', 'convTranspose3d']);

/** PyTorch's calculate_gain: the recommended gain for a nonlinearity (leaky_relu: param is the slope, default 0.01). */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  if (LINEAR.has(nonlinearity)) return 1;
  switch (nonlinearity) {
    case 'tanh': return 5 / 3;
    case 'relu': return Math.SQRT2;
    case 'selu': return 3 / 4;
    case 'leaky_relu': case 'leakyRelu': {
      const slope = param ?? 0.01;
      checkNumber('calculateGain', 'param', slope, () => true, 'a finite number (the negative slope)');
      return Math.sqrt(2 / (1 + slope * slope));
    }
  }
  throw new Error(`calculateGain: unsupported nonlinearity ${JSON.stringify(nonlinearity)} (one of ${[...LINEAR, 'tanh', 'relu', 'leaky_relu', 'selu'].join(', ')})`);
}

function checkTensor(op: string, t: unknown): asserts t is Tensor {
  if (!isTensor(t)) throw new TypeError(`${op}: expected a Tensor, got ${t === null ? 'null' : typeof t}`);
}

/** PyTorch's _calculate_fan_in_and_fan_out: [size(1)·receptive, size(0)·receptive], receptive = prod(shape[2:]). */
export function calculateFanInAndFanOut(t: Tensor, op = 'calculateFanInAndFanOut'): [number, number] {
  checkTensor(op, t);
  if (t.shape.length < 2) throw new Error(`${op}: fan in and fan out can not be computed for a tensor with fewer than 2 dimensions (shape ${fmt(t.shape)})`);
  const receptive = t.shape.slice(2).reduce((a, b) => a * b, 1);
  return [t.shape[1] * receptive, t.shape[0] * receptive];
}

function fill(op: string, t: Tensor, draw: () => number): Tensor {
  checkTensor(op, t);
  const d = t.data;
  for (let i = 0; i < d.length; i++) d[i] = draw();
  return t;
}

/** Fill with U(a, b): uniform(t, a, b) or uniform(t, {a, b}); defaults a = 0, b = 1. */
export function uniform(t: Tensor, a: number | { a?: number; b?: number } = 0, b = 1): Tensor {
  const o = typeof a === 'object' ? withDefaults('uniform', a, { a: 0, b: 1 }) : { a, b };
  checkNumber('uniform', 'a', o.a, () => true, 'a finite number');
  checkNumber('uniform', 'b', o.b, (x) => x >= o.a, `a finite number >= a (${o.a})`);
  return fill('uniform', t, () => o.a + (o.b - o.a) * random());
}

/** Fill with N(mean, std²): normal(t, mean, std) or normal(t, {mean, std}); defaults 0 and 1. */
export function normal(t: Tensor, mean: number | { mean?: number; std?: number } = 0, std = 1): Tensor {
  const o = typeof mean === 'object' ? withDefaults('normal', mean, { mean: 0, std: 1 }) : { mean, std };
  checkNumber('normal', 'mean', o.mean, () => true, 'a finite number');
  checkNumber('normal', 'std', o.std, (x) => x >= 0, 'a finite number >= 0');
  return fill('normal', t, () => o.mean + o.std * randomNormal());
}

/** Fill with val. */
export function constant(t: Tensor, val: number): Tensor {
  if (typeof val !== 'number') throw new TypeError(`constant: val must be a number, got ${typeof val}`);
  checkTensor('constant', t);
  t.data.fill(val);
  return t;
}

export function zeros(t: Tensor): Tensor {
  return constant(t, 0);
}

export function ones(t: Tensor): Tensor {
  return constant(t, 1);
}

function gainOf(op: string, gain: number | { gain?: number }): number {
  const g = typeof gain === 'object' ? withDefaults(op, gain, { gain: 1 }).gain : gain;
  checkNumber(op, 'gain', g, () => true, 'a finite number');
  return g;
}

/** Glorot uniform: U(-a, a), a = gain·√(6 / (fanIn + fanOut)). xavierUniform(t, gain) or (t, {gain}). */
export function xavierUniform(t: Tensor, gain: number | { gain?: number } = 1): Tensor {
  const [fanIn, fanOut] = calculateFanInAndFanOut(t, 'xavierUniform');
  const a = Math.sqrt(3) * gainOf('xavierUniform', gain) * Math.sqrt(2 / (fanIn + fanOut));
  return fill('xavierUniform', t, () => -a + 2 * a * random());
}

/** Glorot normal: N(0, std²), std = gain·√(2 / (fanIn + fanOut)). */
export function xavierNormal(t: Tensor, gain: number | { gain?: number } = 1): Tensor {
  const [fanIn, fanOut] = calculateFanInAndFanOut(t, 'xavierNormal');
  const std = gainOf('xavierNormal', gain) * Math.sqrt(2 / (fanIn + fanOut));
  return fill('xavierNormal', t, () => std * randomNormal());
}

export interface KaimingOptions {
  /** The negative slope of the leaky ReLU that follows (only with nonlinearity 'leaky_relu'). */
  a?: number;
  mode?: 'fanIn' | 'fanOut' | 'fan_in' | 'fan_out';
  nonlinearity?: Nonlinearity;
}

/** std = calculateGain(nonlinearity, a) / √fan for kaiming's mode. */
function kaimingStd(op: string, t: Tensor, opts: KaimingOptions | undefined): number {
  const o = withDefaults(op, opts, { a: 0, mode: 'fanIn', nonlinearity: 'leaky_relu' } as Required<KaimingOptions>);
  const [fanIn, fanOut] = calculateFanInAndFanOut(t, op);
  let fan: number;
  if (o.mode === 'fanIn' || o.mode === 'fan_in') fan = fanIn;
  else if (o.mode === 'fanOut' || o.mode === 'fan_out') fan = fanOut;
  else throw new Error(`${op}: mode must be 'fanIn' or 'fanOut', got ${JSON.stringify(o.mode)}`);
  if (fan === 0) throw new Error(`${op}: cannot initialize a tensor of shape ${fmt(t.shape)}: its ${o.mode} is 0`);
  return calculateGain(o.nonlinearity, o.a) / Math.sqrt(fan);
}

/** He uniform: U(-b, b), b = gain·√(3 / fan). Options {a, mode, nonlinearity} default to {0, 'fanIn', 'leaky_relu'}. */
export function kaimingUniform(t: Tensor, opts?: KaimingOptions): Tensor {
  checkTensor('kaimingUniform', t);
  if (t.size === 0) return t;
  const bound = Math.sqrt(3) * kaimingStd('kaimingUniform', t, opts);
  return fill('kaimingUniform', t, () => -bound + 2 * bound * random());
}

/** He normal: N(0, std²), std = gain / √fan. */
export function kaimingNormal(t: Tensor, opts?: KaimingOptions): Tensor {
  checkTensor('kaimingNormal', t);
  if (t.size === 0) return t;
  const std = kaimingStd('kaimingNormal', t, opts);
  return fill('kaimingNormal', t, () => std * randomNormal());
}
