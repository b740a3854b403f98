// How each module class becomes ONNX nodes: one entry per class in MODULES. An entry gets the module,
// the incoming value (name and static shape) and the graph, emits nodes, and returns the outgoing value.
// Modules are exported in eval form. Lookup is by exact class: a subclass may override forward.
import type { Tensor } from '../tensor.js';
import type { Module } from '../nn/module.js';
import { Sequential } from '../nn/container.js';
import { Linear } from '../nn/linear.js';
import { ReLU, Sigmoid, Tanh, Identity, Softmax, LogSoftmax, Flatten, LeakyReLU, GELU, ELU, SiLU, Softplus, Mish } from '../nn/activation.js';
import { Dropout } from '../nn/dropout.js';
import { BatchNorm1d, LayerNorm } from '../nn/normalization.js';
import { Embedding } from '../nn/embedding.js';
import { Perceptron } from '../nn/perceptron.js';
import { normDim } from '../shape.js';
import { float, showShape, type OnnxGraph, type Value } from './onnx-graph.js';

/** The path of the exported module itself; children are "model.0", "model.2.1", ... */
export const ROOT = 'model';

/** Where a module sits in the model ("model.2.0") and what emitting it needs. */
export interface EmitContext { graph: OnnxGraph; path: string; opset: number }

type Emit<M> = (m: M, x: Value, ctx: EmitContext) => Value;

/** Initializers are named as the module's stateDict keys ("0.weight"), as torch.onnx.export does. */
const param = (path: string, name: string): string => (path === ROOT ? name : `${path.slice(ROOT.length + 1)}.${name}`);


/** Softmax/LogSoftmax over one axis (opset >= 13 semantics: a single axis, not the coerced 2-D of older opsets). */
const softmaxLike = (op: string): Emit<Softmax | LogSoftmax> => (m, x, { graph, path }) => {
  const axis = normDim(`exportOnnx: ${op} at ${path}`, m.dim, x.shape.length);
  return { name: graph.node(op, [x.name], path, { axis }), shape: x.shape };
};

/** y = x·Wᵀ + b: Gemm (transB=1) on 2-D inputs, MatMul with Wᵀ then Add for higher ranks. */
const linear: Emit<Linear> = (m, x, { graph, path }) => {
  const inF = x.shape[x.shape.length - 1];
  if (x.shape.length < 2 || inF !== m.inFeatures) {
    throw new Error(`exportOnnx: Linear at ${path} expects ${m.inFeatures} input features, but its input has shape ${showShape(x.shape)}`);
  }
  const shape = [...x.shape.slice(0, -1), m.outFeatures];
  const bias = m.bias ? [graph.tensor(param(path, 'bias'), m.bias)] : [];
  if (x.shape.length === 2) {
    const w = graph.tensor(param(path, 'weight'), m.weight);
    return { name: graph.node('Gemm', [x.name, w, ...bias], path, { transB: 1 }), shape };
  }
  const [o, i] = m.weight.shape, wt = new Float64Array(i * o), w = m.weight.data;
  for (let r = 0; r < o; r++) for (let c = 0; c < i; c++) wt[c * o + r] = w[r * i + c];
  const y = graph.node('MatMul', [x.name, graph.weight(param(path, 'weight_t'), wt, [i, o])], path);
  return { name: bias.length ? graph.node('Add', [y, bias[0]], path) : y, shape };
};

/** Reshape: dims before startDim copied (0), the flattened range -1, the dims after it as they are. */
const flatten: Emit<Flatten> = (m, x, { graph, path }) => {
  const op = `exportOnnx: Flatten at ${path}`, n = x.shape.length;
  const s = normDim(op, m.startDim, n), e = normDim(op, m.endDim, n);
  if (s > e) throw new RangeError(`${op}: startDim ${m.startDim} comes after endDim ${m.endDim} for input ${showShape(x.shape)}`);
  const group = x.shape.slice(s, e + 1);
  const size = group.some((d) => d < 0) ? -1 : group.reduce((a, b) => a * b, 1);
  const shape = [...x.shape.slice(0, s), size, ...x.shape.slice(e + 1)];
  const target = graph.int64s(param(path, 'shape'), [...x.shape.slice(0, s).map(() => 0), -1, ...x.shape.slice(e + 1)]);
  return { name: graph.node('Reshape', [x.name, target], path), shape };
};

/** step(x·w + b): MatMul with the weight vector, Add, Greater than 0, Cast back to the float type. */
const perceptron: Emit<Perceptron> = (m, x, { graph, path }) => {
  if (x.shape.length !== 2 || x.shape[1] !== m.inFeatures) {
    throw new Error(`exportOnnx: Perceptron at ${path} expects input [batch, ${m.inFeatures}], got ${showShape(x.shape)}`);
  }
  const z = graph.node('Add', [graph.node('MatMul', [x.name, graph.tensor(param(path, 'weight'), m.weight)], path), graph.tensor(param(path, 'bias'), m.bias)], path);
  const positive = graph.node('Greater', [z, graph.weight(param(path, 'zero'), [0], [])], path);
  return { name: graph.node('Cast', [positive], path, { to: graph.elemType }), shape: [x.shape[0]] };
};

const identity: Emit<Module> = (_m, x) => x;

const sequential: Emit<Sequential> = (m, x, ctx) => {
  let i = 0;
  for (const child of m) x = emitModule(child, x, { ...ctx, path: `${ctx.path}.${i++}` });
  return x;
};

/** A float scalar initializer named after the module ("2.half"), created on first use. */
function scalar({ graph, path }: EmitContext, name: string, v: number): string {
  const full = param(path, name);
  return graph.initializers.some((t) => t.name === full) ? full : graph.weight(full, [v], []);
}

/** An elementwise composition of nodes: f gets x's name and returns the result's name; the shape stays. */
const elementwise = <M>(f: (m: M, x: string, ctx: EmitContext) => string): Emit<M> => (m, x, ctx) => ({ name: f(m, x.name, ctx), shape: x.shape });

const unary = (op: string): Emit<Module> => elementwise((_m, x, { graph, path }) => graph.node(op, [x], path));

/** An op whose one float attribute, alpha, comes from the module. */
const withAlpha = <M>(op: string, alpha: (m: M) => number): Emit<M> => elementwise<M>((m, x, { graph, path }) => graph.node(op, [x], path, { alpha: float(alpha(m)) }));

/**
 * log(1 + eᶻ) as max(z, 0) + log(1 + e^-|z|): ONNX Runtime's CPU Softplus kernel is float32-only, while
 * these ops also run in double. Absolute error ≤ the dtype's eps: 1 + e^-|z| rounds to 1 only where e^-|z| < eps.
 */
function softplusOf(z: string, ctx: EmitContext): string {
  const { graph, path } = ctx, node = (op: string, ...inputs: string[]): string => graph.node(op, inputs, path);
  const tail = node('Log', node('Add', node('Exp', node('Neg', node('Abs', z))), scalar(ctx, 'one', 1)));
  return node('Add', node('Relu', z), tail);
}

/** log(1 + e^(βx))/β, x itself where βx > threshold (ONNX's Softplus has no β and no threshold). */
const softplus = elementwise<Softplus>(({ beta, threshold }, x, ctx) => {
  const { graph, path } = ctx;
  const bx = beta === 1 ? x : graph.node('Mul', [x, scalar(ctx, 'beta', beta)], path);
  const soft = softplusOf(bx, ctx);
  const scaled = beta === 1 ? soft : graph.node('Div', [soft, scalar(ctx, 'beta', beta)], path);
  return graph.node('Where', [graph.node('Greater', [bx, scalar(ctx, 'threshold', threshold)], path), x, scaled], path);
});

/** x/2·(1 + erf(x/√2)), or x/2·(1 + tanh(√(2/π)(x + 0.044715x³))) when approximate is 'tanh'. */
const gelu = elementwise<GELU>((m, x, ctx) => {
  const { graph, path } = ctx, mul = (a: string, b: string): string => graph.node('Mul', [a, b], path);
  const inner = m.approximate === 'none'
    ? graph.node('Erf', [mul(x, scalar(ctx, 'rsqrt2', Math.SQRT1_2))], path)
    : graph.node('Tanh', [mul(graph.node('Add', [x, mul(mul(mul(x, x), x), scalar(ctx, 'cubic', 0.044715))], path), scalar(ctx, 'sqrt2pi', Math.sqrt(2 / Math.PI)))], path);
  return mul(mul(x, graph.node('Add', [inner, scalar(ctx, 'one', 1)], path)), scalar(ctx, 'half', 0.5));
});

/** The module's affine parameter `name`, or (when it has none) a constant of `fill`s in its place. */
function affine({ graph, path }: EmitContext, name: string, t: Tensor | null, fill: 0 | 1, shape: number[]): string {
  if (t) return graph.tensor(param(path, name), t);
  return graph.weight(param(path, fill ? 'ones' : 'zeros'), new Array(shape.reduce((a, b) => a * b, 1)).fill(fill), shape);
}

/** Eval form with the running statistics (per channel, dim 1): BatchNormalization. */
const batchNorm1d: Emit<BatchNorm1d> = (m, x, ctx) => {
  const { graph, path } = ctx, op = `exportOnnx: BatchNorm1d at ${path}`, c = m.numFeatures;
  if ((x.shape.length !== 2 && x.shape.length !== 3) || x.shape[1] !== c) {
    throw new Error(`${op} expects input [batch, ${c}] or [batch, ${c}, length], got ${showShape(x.shape)}`);
  }
  if (!m.running_mean || !m.running_var) {
    throw new Error(`${op} has trackRunningStats off, so even eval() normalizes with the batch's own statistics: a served model's outputs would depend on the rest of its batch; export a BatchNorm1d that tracks running statistics`);
  }
  const w = affine(ctx, 'weight', m.weight, 1, [c]), b = affine(ctx, 'bias', m.bias, 0, [c]);
  const stats = [graph.tensor(param(path, 'running_mean'), m.running_mean), graph.tensor(param(path, 'running_var'), m.running_var)];
  return { name: graph.node('BatchNormalization', [x.name, w, b, ...stats], path, { epsilon: float(m.eps) }), shape: x.shape };
};

/** LayerNormalization over the last normalizedShape.length dims (opset >= 17). */
const layerNorm: Emit<LayerNorm> = (m, x, ctx) => {
  const { graph, path, opset } = ctx, op = `exportOnnx: LayerNorm at ${path}`, k = m.normalizedShape.length;
  if (opset < 17) throw new Error(`${op}: LayerNormalization needs opset 17 or later (opset ${opset} was asked for)`);
  if (x.shape.length < k || x.shape.slice(-k).some((d, i) => d !== m.normalizedShape[i])) {
    throw new Error(`${op} normalizes over the last dims ${showShape(m.normalizedShape)}, but its input has shape ${showShape(x.shape)}`);
  }
  const w = affine(ctx, 'weight', m.weight, 1, m.normalizedShape), b = m.bias ? [graph.tensor(param(path, 'bias'), m.bias)] : [];
  return { name: graph.node('LayerNormalization', [x.name, w, ...b], path, { axis: -k, epsilon: float(m.eps) }), shape: x.shape };
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each entry is typed by its class
const MODULES = new Map<abstract new (...args: any[]) => Module, Emit<any>>([
  [Sequential, sequential],
  [Linear, linear],
  [ReLU, unary('Relu')],
  [Sigmoid, unary('Sigmoid')],
  [Tanh, unary('Tanh')],
  [Identity, identity],
  [Softmax, softmaxLike('Softmax')],
  [LogSoftmax, softmaxLike('LogSoftmax')],
  [Flatten, flatten],
  [Perceptron, perceptron],
  [Dropout, identity],
  [BatchNorm1d, batchNorm1d],
  [LayerNorm, layerNorm],
  [LeakyReLU, withAlpha('LeakyRelu', (m: LeakyReLU) => m.negativeSlope)],
  [ELU, withAlpha('Elu', (m: ELU) => m.alpha)],
  [GELU, gelu],
  [SiLU, elementwise((_m, x, { graph, path }) => graph.node('Mul', [x, graph.node('Sigmoid', [x], path)], path))],
  [Softplus, softplus],
  [Mish, elementwise((_m, x, ctx) => ctx.graph.node('Mul', [x, ctx.graph.node('Tanh', [softplusOf(x, ctx)], ctx.path)], ctx.path))],
]);

/** Modules that cannot be in an exported model, and why. */
const UNSUPPORTED = new Map<abstract new (...args: never[]) => Module, string>([
  [Embedding, 'takes integer indices, but exported models take a float input; export the layers after it and look the embeddings up before calling the ONNX model'],
]);

/** Emit the nodes of module m (found at `path`) applied to x. */
export function emitModule(m: Module, x: Value, ctx: EmitContext): Value {
  const emit = MODULES.get(m.constructor as new () => Module);
  if (!emit) {
    const why = UNSUPPORTED.get(m.constructor as new () => Module);
    if (why) throw new Error(`exportOnnx: ${m.constructor.name} at ${ctx.path} ${why}`);
    const names = [...MODULES.keys()].map((c) => c.name).join(', ');
    throw new Error(`exportOnnx: ${m.constructor.name} at ${ctx.path} cannot be exported to ONNX (supported: ${names})`);
  }
  return emit(m, x, ctx);
}
