// How each module class becomes ONNX nodes: one entry per class in MODULES. An entry gets the module,
// the incoming value (name and static shape) and the graph, emits nodes, and returns the outgoing value.
// Modules are exported in eval form. Lookup is by exact class: a subclass may override forward.
import type { Module } from '../nn/module.js';
import { Sequential } from '../nn/container.js';
import { Linear } from '../nn/linear.js';
import { ReLU, Sigmoid, Tanh, Identity, Softmax, LogSoftmax, Flatten } from '../nn/activation.js';
import { Perceptron } from '../nn/perceptron.js';
import { normDim } from '../shape.js';
import { showShape, type OnnxGraph, type Value } from './onnx-graph.js';

/** The path of the exported module itself; children are "model.0", "model.2.1", ... */
export const ROOT = 'model';

/** Where a module sits in the model ("model.2.0") and what emitting it needs. */
export interface EmitContext { graph: OnnxGraph; path: string }

type Emit<M> = (m: M, x: Value, ctx: EmitContext) => Value;

/** Initializers are named as the module's stateDict keys ("0.weight"), as torch.onnx.export does. */
const param = (path: string, name: string): string => (path === ROOT ? name : `${path.slice(ROOT.length + 1)}.${name}`);

const unary = (op: string): Emit<Module> => (_m, x, { graph, path }) => ({ name: graph.node(op, [x.name], path), shape: x.shape });

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

const sequential: Emit<Sequential> = (m, x, ctx) => {
  let i = 0;
  for (const child of m) x = emitModule(child, x, { graph: ctx.graph, path: `${ctx.path}.${i++}` });
  return x;
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each entry is typed by its class
const MODULES = new Map<abstract new (...args: any[]) => Module, Emit<any>>([
  [Sequential, sequential],
  [Linear, linear],
  [ReLU, unary('Relu')],
  [Sigmoid, unary('Sigmoid')],
  [Tanh, unary('Tanh')],
  [Identity, (_m, x) => x],
  [Softmax, softmaxLike('Softmax')],
  [LogSoftmax, softmaxLike('LogSoftmax')],
  [Flatten, flatten],
  [Perceptron, perceptron],
]);

/** Emit the nodes of module m (found at `path`) applied to x. */
export function emitModule(m: Module, x: Value, ctx: EmitContext): Value {
  const emit = MODULES.get(m.constructor as new () => Module);
  if (!emit) {
    const names = [...MODULES.keys()].map((c) => c.name).join(', ');
    throw new Error(`exportOnnx: ${m.constructor.name} at ${ctx.path} cannot be exported to ONNX (supported: ${names})`);
  }
  return emit(m, x, ctx);
}
