// Export a model to ONNX (for ONNX Runtime and other serving stacks). The protobuf is encoded by
// protobufjs, an optional peer dependency loaded on first use, from ONNX's own onnx.proto (onnx-schema.ts).
import { createRequire } from 'node:module';
import type * as Protobuf from 'protobufjs/light.js';
import type { Module } from '../nn/module.js';
import { Sequential } from '../nn/container.js';
import { atomicWriteFile } from './save.js';
import { ONNX_SCHEMA } from './onnx-schema.js';
import { OnnxGraph, showShape } from './onnx-graph.js';
import { emitModule, ROOT } from './onnx-modules.js';

export interface OnnxExportOptions {
  /**
   * Shape of an input batch, batch dimension first, e.g. [1, 784] (as torch.onnx.export's example
   * input). Default: [1, inFeatures] when the model starts with a Linear (or is a Perceptron).
   */
  inputShape?: number[];
  /** ONNX opset version, 13 to 21 (default 17). */
  opset?: number;
  /** Name dim 0 'batch' so that any batch size runs (default true); false fixes it to inputShape[0]. */
  dynamicBatch?: boolean;
  /** Standardize the input first, (x - mean) / std over its last dimension (the CLI's CSV models record these). */
  normalize?: { mean: number[]; std: number[] };
}

export const DEFAULT_OPSET = 17;
// The IR version each opset came with (onnx.helper.VERSION_TABLE): older runtimes reject newer IRs.
const IR_VERSION: Record<number, number> = { 13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10 };

let modelProto: Protobuf.Type | null = null;

function onnxModelProto(): Protobuf.Type {
  if (modelProto) return modelProto;
  let pb: typeof Protobuf;
  try {
    pb = createRequire(import.meta.url)('protobufjs/light.js') as typeof Protobuf;
  } catch (e) {
    const missing = (e as { code?: string }).code === 'MODULE_NOT_FOUND';
    throw new Error(missing
      ? 'exportOnnx: ONNX files are encoded with the optional "protobufjs" package, which is not installed: run `npm install protobufjs`'
      : `exportOnnx: cannot load the "protobufjs" package (${(e as Error).message}); reinstall it with \`npm install protobufjs\``, { cause: e });
  }
  return (modelProto = pb.Root.fromJSON(ONNX_SCHEMA as Protobuf.INamespace).lookupType('onnx.ModelProto'));
}

/** The dtype of the model's parameters and buffers (all must agree; BatchNorm1d's batch counter is not exported). */
function dtypeOf(model: Module): 'float32' | 'float64' {
  const state = Object.entries(model.stateDict()).filter(([k]) => !k.endsWith('num_batches_tracked'));
  const dtypes = new Set(state.map(([, t]) => t.dtype));
  if (dtypes.size > 1) throw new Error(`exportOnnx: the model mixes dtypes (${[...dtypes].join(', ')})`);
  return dtypes.has('float64') ? 'float64' : 'float32';
}

/** inFeatures of the model's first layer (a Linear or a Perceptron), if it has one. */
function firstInFeatures(m: Module): number | null {
  if (m instanceof Sequential) return m.length > 0 ? firstInFeatures(m.at(0)) : null;
  const f = (m as { inFeatures?: unknown }).inFeatures;
  return typeof f === 'number' ? f : null;
}

function resolveInputShape(model: Module, given: number[] | undefined): number[] {
  if (given === undefined) {
    const f = firstInFeatures(model);
    if (f === null) throw new Error('exportOnnx: pass inputShape (batch dimension first, e.g. [1, 784]): the model does not start with a Linear');
    return [1, f];
  }
  if (!Array.isArray(given) || given.length < 1 || !given.every((d) => Number.isSafeInteger(d) && d >= 1)) {
    throw new Error(`exportOnnx: inputShape must be a non-empty array of positive integers, batch dimension first, got ${JSON.stringify(given)}`);
  }
  return given.slice();
}

/** The ONNX ModelProto bytes of `model` (a Sequential of supported layers, or one such layer), in eval form. */
export function toOnnx(model: Module, opts: OnnxExportOptions = {}): Uint8Array {
  const { opset = DEFAULT_OPSET, dynamicBatch = true, normalize } = opts;
  if (!Number.isInteger(opset) || !(opset in IR_VERSION)) {
    throw new RangeError(`exportOnnx: opset ${opset} is not supported (expected an integer from 13 to 21; default ${DEFAULT_OPSET})`);
  }
  const shape = resolveInputShape(model, opts.inputShape);
  if (dynamicBatch) shape[0] = -1;
  const graph = new OnnxGraph(dtypeOf(model));
  const input = { name: 'input', shape };
  let x = input;
  if (normalize) {
    const f = shape[shape.length - 1], { mean, std } = normalize;
    const ok = mean?.length === f && std?.length === f && mean.every(Number.isFinite) && std.every((s) => Number.isFinite(s) && s > 0);
    if (!ok) throw new Error(`exportOnnx: normalize needs ${f} finite means and positive stds for input ${showShape(shape)}`);
    const centered = graph.node('Sub', ['input', graph.weight('normalize.mean', mean, [f])], 'normalize');
    x = { name: graph.node('Div', [centered, graph.weight('normalize.std', std, [f])], 'normalize'), shape };
  }
  const out = emitModule(model, x, { graph, path: ROOT, opset });
  const proto = onnxModelProto();
  return proto.encode(proto.fromObject(graph.model(input, out, opset, IR_VERSION[opset]))).finish();
}

/**
 * Write `model` as an ONNX file that ONNX Runtime runs: input "input" (dim 0 named "batch" unless
 * dynamicBatch is false), output "output". Covers Sequential models of Linear, the activations,
 * Softmax, LogSoftmax, Flatten, Identity, and Dropout, BatchNorm1d and LayerNorm (opset >= 17) in eval
 * form, and the Perceptron; any other module (Embedding too) is an error that names it and its path.
 * The write is atomic (a failed export leaves the previous file intact).
 */
export function exportOnnx(model: Module, file: string, opts: OnnxExportOptions = {}): void {
  atomicWriteFile(file, toOnnx(model, opts));
}
