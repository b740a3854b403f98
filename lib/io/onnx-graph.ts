// A small ONNX graph under construction: nodes, initializers and shapes, turned into a ModelProto
// object (field names as in onnx.proto) that protobufjs encodes.
import type { Tensor } from '../tensor.js';

/** A value flowing through the graph: its name and static shape (dim 0 is -1 when the batch is dynamic). */
export interface Value { name: string; shape: number[] }

const FLOAT = 1, INT64 = 7, DOUBLE = 11; // TensorProto.DataType
const ATTR_FLOAT = 1, ATTR_INT = 2; // AttributeProto.AttributeType

/** A FLOAT attribute (stored as float32, e.g. LeakyRelu's alpha); plain numbers are INT attributes. */
export interface FloatAttr { f: number }
export const float = (f: number): FloatAttr => ({ f });

/** `[batch, 784]` */
export const showShape = (shape: number[]): string => `[${shape.map((d) => (d < 0 ? 'batch' : d)).join(', ')}]`;

export class OnnxGraph {
  readonly nodes: Record<string, unknown>[] = [];
  readonly initializers: Record<string, unknown>[] = [];
  private count = 0;
  private readonly nodeNames = new Map<string, number>();

  constructor(readonly dtype: 'float32' | 'float64') {}

  /** The TensorProto.DataType of the model's floats. */
  get elemType(): number {
    return this.dtype === 'float64' ? DOUBLE : FLOAT;
  }

  /** Append a node with integer (number) and float (float(x)) attributes; returns the name of its (single) output. */
  node(op: string, inputs: string[], path: string, attrs: Record<string, number | FloatAttr> = {}): string {
    const output = `${op}_${this.count++}`;
    const attribute = Object.entries(attrs).map(([name, v]) => (typeof v === 'number' ? { name, type: ATTR_INT, i: v } : { name, type: ATTR_FLOAT, f: v.f }));
    const name = `${path}/${op}`, seen = this.nodeNames.get(name) ?? 0; // node names must be unique: Mul, Mul_1, ...
    this.nodeNames.set(name, seen + 1);
    this.nodes.push({ name: seen ? `${name}_${seen}` : name, op_type: op, input: inputs, output: [output], attribute });
    return output;
  }

  /** A float initializer (the model's dtype) with the given data and shape. */
  weight(name: string, data: ArrayLike<number>, shape: number[]): string {
    const arr = this.dtype === 'float64' ? Float64Array.from(data) : Float32Array.from(data);
    return this.initializer(name, this.elemType, arr, shape);
  }

  tensor(name: string, t: Tensor): string {
    return this.weight(name, t.data, t.shape);
  }

  int64s(name: string, values: number[]): string {
    return this.initializer(name, INT64, BigInt64Array.from(values, BigInt), [values.length]);
  }

  // raw_data is little-endian; typed arrays are in the host's byte order
  private initializer(name: string, dataType: number, arr: Float32Array | Float64Array | BigInt64Array, dims: number[]): string {
    if (new Uint8Array(Uint16Array.of(1).buffer)[0] !== 1) throw new Error('exportOnnx: big-endian hosts are not supported');
    this.initializers.push({ name, data_type: dataType, dims, raw_data: new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength) });
    return name;
  }

  /** The ModelProto with `input` as the graph input and `out` as the graph output (named "output"). */
  model(input: Value, out: Value, opset: number, irVersion: number): Record<string, unknown> {
    const last = this.nodes[this.nodes.length - 1];
    if (last && (last.output as string[])[0] === out.name) {
      last.output = ['output'];
    } else {
      this.node('Identity', [out.name], 'output'); // the graph's input is its output (e.g. only Identity modules)
      this.nodes[this.nodes.length - 1].output = ['output'];
    }
    const info = (name: string, shape: number[]): Record<string, unknown> => ({
      name,
      type: { tensor_type: { elem_type: this.elemType, shape: { dim: shape.map((d) => (d < 0 ? { dim_param: 'batch' } : { dim_value: d })) } } },
    });
    return {
      ir_version: irVersion,
      producer_name: 'tapegrad',
      opset_import: [{ domain: '', version: opset }],
      graph: {
        name: 'tapegrad',
        node: this.nodes,
        initializer: this.initializers,
        input: [info(input.name, input.shape)],
        output: [info('output', out.shape)],
      },
    };
  }
}
