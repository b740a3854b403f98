// ONNX export: every exported file runs in onnxruntime-node and must reproduce tapegrad's forward
// within 1e-5 (batch 1 and 7); the python3-onnx checker validates the files when it is installed.
import { describe, it, expect, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { Tensor } from '../lib/tensor.js';
import { randn, tensor } from '../lib/creation.js';
import { manualSeed } from '../lib/random.js';
import { noGrad } from '../lib/autograd/mode.js';
import { crossEntropy } from '../lib/ops/index.js';
import {
  Module, Sequential, Linear, ReLU, Sigmoid, Tanh, Identity, Softmax, LogSoftmax, Flatten, Perceptron,
  Dropout, BatchNorm1d, LayerNorm, LeakyReLU, GELU, ELU, SiLU, Softplus, Mish, Embedding,
} from '../lib/nn/index.js';
import { SGD } from '../lib/optim/index.js';
import { exportOnnx, toOnnx, type OnnxExportOptions } from '../lib/io/index.js';
import { normalizeInput } from '../lib/cli/train.js';
import { readModel } from '../lib/cli/modelfile.js';
import { main } from '../lib/cli/index.js';
import { ONNX_SCHEMA } from '../lib/io/onnx-schema.js';
import protobuf from 'protobufjs/light.js';
import { expectClose } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'tapegrad-onnx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function runOrt(bytes: Uint8Array, x: Tensor): Promise<{ data: ArrayLike<number>; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(bytes);
  const type = x.dtype === 'float64' ? 'float64' : 'float32';
  const { output } = await session.run({ input: new ort.Tensor(type, x.data, x.shape) });
  return { data: output.data as Float32Array, dims: output.dims };
}

/** ORT's output has tapegrad's shape and values within 1e-5. */
function expectMatch(got: { data: ArrayLike<number>; dims: readonly number[] }, want: Tensor, what = ''): void {
  expect([...got.dims], what).toEqual(want.shape);
  expectClose(got.data, want, 0, 1e-5, what);
}

/** ORT's output of the exported model equals model.forward(x) within 1e-5, for batch 1 and 7 (x from `input`, default N(0, 1)). */
async function expectSameOutputs(model: Module, sample: number[], opts: OnnxExportOptions = {}, prep = (x: Tensor) => x,
  input = (shape: number[]) => randn(shape, { dtype: model.parameters()[0]?.dtype })): Promise<Uint8Array> {
  const bytes = toOnnx(model, { inputShape: [1, ...sample], ...opts });
  for (const batch of [1, 7]) {
    const x = input([batch, ...sample]);
    const want = noGrad(() => model.forward(prep(x)));
    expectMatch(await runOrt(bytes, x), want, `batch ${batch}`);
  }
  return bytes;
}

const exported: string[] = []; // files for the ONNX checker
function keep(name: string, bytes: Uint8Array): void {
  const file = join(dir, `${name}.onnx`);
  writeFileSync(file, bytes);
  exported.push(file);
}

describe('exportOnnx runs in onnxruntime-node with the same outputs', () => {
  it('Linear-ReLU-Linear (Gemm transB=1)', async () => {
    manualSeed(1);
    keep('mlp', await expectSameOutputs(new Sequential(new Linear(5, 16), new ReLU(), new Linear(16, 3)), [5]));
  });

  it('Linear-Sigmoid-Linear-Tanh-Linear-Softmax', async () => {
    manualSeed(2);
    const m = new Sequential(new Linear(6, 12), new Sigmoid(), new Linear(12, 8), new Tanh(), new Linear(8, 4), new Softmax(1));
    keep('sigmoid-tanh-softmax', await expectSameOutputs(m, [6]));
  });

  it('Flatten-Linear-LogSoftmax on a 3-D input', async () => {
    manualSeed(3);
    const m = new Sequential(new Flatten(), new Linear(12, 5), new LogSoftmax(-1));
    keep('flatten', await expectSameOutputs(m, [3, 4]));
  });

  it('Linear on a 4-D input (MatMul + Add), nested Sequential, Identity, partial Flatten, no bias', async () => {
    manualSeed(4);
    const m = new Sequential(
      new Linear(5, 4), new Sequential(new Identity(), new ReLU()), new Flatten(1, 2),
      new LogSoftmax(1), new Linear(4, 3, { bias: false }), new Flatten(),
    );
    keep('rank4', await expectSameOutputs(m, [2, 3, 5])); // [b,2,3,5] → [b,2,3,4] → [b,6,4] → [b,6,3] → [b,18]
  });

  it('a model trained a few steps by tapegrad', async () => {
    manualSeed(5);
    const m = new Sequential(new Linear(4, 16), new Tanh(), new Linear(16, 3));
    const before = m.at(0).parameters()[0].data.slice();
    const opt = new SGD(m.parameters(), { lr: 0.5 });
    const x = randn([32, 4]), y = tensor(Array.from({ length: 32 }, (_, i) => i % 3));
    let first = 0, last = 0;
    for (let step = 0; step < 20; step++) {
      opt.zeroGrad();
      const loss = crossEntropy(m.forward(x), y);
      loss.backward();
      opt.step();
      if (step === 0) first = loss.item();
      last = loss.item();
    }
    expect(last).toBeLessThan(first);
    expect(m.at(0).parameters()[0].data).not.toEqual(before);
    keep('trained', await expectSameOutputs(m, [4]));
  });

  it('a Perceptron trained on AND: step(w·x + b) as 0/1', async () => {
    const p = new Perceptron(2);
    expect(p.fit([[0, 0], [0, 1], [1, 0], [1, 1]], [0, 0, 0, 1]).converged).toBe(true);
    manualSeed(10);
    const x = new Tensor(Float32Array.from([0, 0, 0, 1, 1, 0, 1, 1, ...randn([12]).data]), [10, 2]);
    const got = await runOrt(toOnnx(p), x);
    expect([...got.dims]).toEqual([10]);
    expect(Array.from(got.data)).toEqual(Array.from(p.predict(x).data));
    expect(Array.from(got.data).slice(0, 4)).toEqual([0, 0, 0, 1]);
    keep('perceptron', toOnnx(p));
  });

  it('float64 models export as DOUBLE', async () => {
    manualSeed(6);
    keep('float64', await expectSameOutputs(new Sequential(new Linear(3, 5, { dtype: 'float64' }), new ReLU(), new Linear(5, 2, { dtype: 'float64' })), [3]));
  });

  it('opsets 13 and 21 run too; input standardization becomes Sub/Div nodes', async () => {
    manualSeed(7);
    const m = new Sequential(new Linear(3, 4), new ReLU(), new Linear(4, 2), new Softmax(-1));
    const normalize = { mean: [1, -2, 30], std: [0.5, 2, 10] };
    const prep = (x: Tensor): Tensor => normalizeInput(x, { inFeatures: 3, hidden: [4], outFeatures: 2, activation: 'relu', normalize });
    for (const opset of [13, 21]) keep(`opset${opset}`, await expectSameOutputs(m, [3], { opset, normalize }, prep));
  });

  it('dynamicBatch: false fixes the batch dimension', async () => {
    manualSeed(8);
    const fixed = toOnnx(new Sequential(new Linear(2, 2)), { inputShape: [7, 2], dynamicBatch: false });
    expect((await runOrt(fixed, randn([7, 2]))).dims).toEqual([7, 2]);
    await expect(runOrt(fixed, randn([1, 2]))).rejects.toThrow(/dimension/i);
    keep('fixed-batch', fixed);
  });

  it('exportOnnx writes the file; the input shape defaults to a leading Linear\'s features', async () => {
    manualSeed(9);
    const m = new Sequential(new Sequential(new Linear(3, 2)), new Sigmoid());
    const file = join(dir, 'written.onnx');
    exportOnnx(m, file);
    const x = randn([4, 3]);
    expectMatch(await runOrt(readFileSync(file), x), m.forward(x));
  });
});

describe('normalization, dropout and the newer activations, in eval form', () => {
  it('LeakyReLU, ELU, Dropout, GELU (erf and tanh), SiLU, Mish', async () => {
    manualSeed(20);
    const m = new Sequential(
      new Linear(5, 12), new LeakyReLU(0.2), new Linear(12, 12), new ELU(0.7), new Dropout(0.5),
      new Linear(12, 12), new GELU(), new Linear(12, 12), new GELU({ approximate: 'tanh' }),
      new Linear(12, 12), new SiLU(), new Linear(12, 12), new Mish(), new Linear(12, 3),
    );
    m.eval();
    keep('activations', await expectSameOutputs(m, [5], {}, (x) => x, (shape) => randn(shape).mul(3)));
  });

  it('Softplus with beta 2 and a threshold that the inputs cross (Where/Greater)', async () => {
    const m = new Sequential(new Softplus({ beta: 2, threshold: 1.5 }), new Linear(16, 4), new Softplus());
    const grid = (shape: number[]): Tensor => { // from -3 to 3: βx runs from -6 to 6, across 1.5
      const n = shape.reduce((a, b) => a * b, 1);
      return new Tensor(Float32Array.from({ length: n }, (_, i) => -3 + (6 * i) / (n - 1 || 1)), shape);
    };
    expect(grid([7, 16]).data.some((v) => 2 * v > 1.5) && grid([7, 16]).data.some((v) => 2 * v <= 1.5)).toBe(true);
    expect(grid([1, 16]).data.some((v) => 2 * v > 1.5) && grid([1, 16]).data.some((v) => 2 * v <= 1.5)).toBe(true);
    manualSeed(21);
    keep('softplus', await expectSameOutputs(m, [16], {}, (x) => x, grid));
  });

  it('BatchNorm1d after train-mode steps uses the running statistics (2-D, and 3-D without affine)', async () => {
    manualSeed(22);
    const m = new Sequential(new Linear(4, 6), new BatchNorm1d(6), new ReLU(), new Linear(6, 3));
    const opt = new SGD(m.parameters(), { lr: 0.1 });
    const y = tensor(Array.from({ length: 16 }, (_, i) => i % 3));
    for (let step = 0; step < 5; step++) {
      opt.zeroGrad();
      crossEntropy(m.forward(randn([16, 4]).mul(2).add(1)), y).backward();
      opt.step();
    }
    const bn = m.at(1) as BatchNorm1d;
    expect(bn.running_mean!.data.some((v) => Math.abs(v) > 0.05)).toBe(true);
    expect(bn.running_var!.data.some((v) => Math.abs(v - 1) > 0.05)).toBe(true);
    expect(bn.weight!.data.some((v) => v !== 1)).toBe(true);
    m.eval();
    keep('batchnorm', await expectSameOutputs(m, [4]));

    const m3 = new Sequential(new BatchNorm1d(3, { affine: false, eps: 1e-3 }), new Flatten());
    for (let step = 0; step < 3; step++) m3.forward(randn([8, 3, 5]).mul(3).add(-2));
    m3.eval();
    keep('batchnorm-3d', await expectSameOutputs(m3, [3, 5]));
  });

  it('LayerNorm (opset >= 17) with and without elementwiseAffine, over one and two dims', async () => {
    manualSeed(23);
    const ln = new LayerNorm(8);
    ln.weight!.data.set(randn([8]).data);
    ln.bias!.data.set(randn([8]).data);
    keep('layernorm', await expectSameOutputs(new Sequential(new Linear(5, 8), ln, new Tanh()), [5]));
    const plain = new Sequential(new LayerNorm([3, 4], { elementwiseAffine: false, eps: 1e-3 }), new Flatten());
    keep('layernorm-2d', await expectSameOutputs(plain, [3, 4], {}, (x) => x, (shape) => randn(shape).mul(4).add(3)));
    await expectSameOutputs(plain, [3, 4], { opset: 21 });
  });

  // ONNX Runtime's CPU provider has no double kernels for Erf and Elu, and its x·Sigmoid(x) fusion fails
  // in double: float64 models with GELU (erf), ELU or SiLU export, but ORT cannot run them
  it('float64 models with the new modules', async () => {
    manualSeed(24);
    const dtype = 'float64';
    const m = new Sequential(
      new Linear(4, 6, { dtype }), new BatchNorm1d(6, { dtype }), new GELU({ approximate: 'tanh' }), new Linear(6, 6, { dtype }),
      new LayerNorm(6, { dtype }), new Softplus({ beta: 2, threshold: 1 }), new LeakyReLU(0.1), new Linear(6, 6, { dtype }), new Mish(),
    );
    m.forward(randn([8, 4], { dtype }).add(1));
    m.eval();
    keep('float64-norm', await expectSameOutputs(m, [4]));
  });
});

describe('the ModelProto', () => {
  const ModelProto = protobuf.Root.fromJSON(ONNX_SCHEMA as protobuf.INamespace).lookupType('onnx.ModelProto');
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a decoded protobuf message
  const decode = (bytes: Uint8Array): any => ModelProto.toObject(ModelProto.decode(bytes), { longs: Number });

  it('opset, IR version, batch dim, initializers named as the stateDict, nodes named by path', () => {
    manualSeed(11);
    const m = new Sequential(new Linear(3, 4), new Sequential(new Tanh(), new Linear(4, 2, { bias: false })));
    const p = decode(toOnnx(m));
    expect(p.ir_version).toBe(8);
    expect(p.opset_import[0].version).toBe(17);
    const g = p.graph;
    expect(g.input[0].type.tensor_type.shape.dim).toEqual([{ dim_param: 'batch' }, { dim_value: 3 }]);
    expect(g.output[0].type.tensor_type.shape.dim).toEqual([{ dim_param: 'batch' }, { dim_value: 2 }]);
    expect(g.initializer.map((t: { name: string }) => t.name).sort()).toEqual(Object.keys(m.stateDict()).sort());
    expect(g.node.map((n: { name: string; op_type: string }) => `${n.name} ${n.op_type}`)).toEqual(['model.0/Gemm Gemm', 'model.1.0/Tanh Tanh', 'model.1.1/Gemm Gemm']);
    expect(g.node[2].output).toEqual(['output']);
    const w = g.initializer.find((t: { name: string }) => t.name === '0.weight');
    expect(Array.from(new Float32Array(new Uint8Array(w.raw_data).buffer))).toEqual(Array.from(m.stateDict()['0.weight'].data));
    const fixed = decode(toOnnx(m, { inputShape: [5, 3], dynamicBatch: false, opset: 21 }));
    expect(fixed.ir_version).toBe(10);
    expect(fixed.graph.input[0].type.tensor_type.shape.dim).toEqual([{ dim_value: 5 }, { dim_value: 3 }]);
  });

  it('float attributes (FLOAT, field f) and int ones (INT, field i)', () => {
    const g = decode(toOnnx(new Sequential(new LeakyReLU(0.25), new LayerNorm([2, 3], { eps: 0.125 })), { inputShape: [1, 2, 3] })).graph;
    expect(g.node[0].attribute).toEqual([{ name: 'alpha', type: 1, f: 0.25 }]);
    expect(g.node[1].attribute).toEqual([{ name: 'axis', type: 2, i: -2 }, { name: 'epsilon', type: 1, f: 0.125 }]);
  });
});

describe('exportOnnx rejects what it cannot export, naming it', () => {
  class Doubler extends Module<[Tensor], Tensor> {
    override forward(x: Tensor): Tensor { return x.mul(2); }
  }
  class MyReLU extends ReLU {}

  it('unsupported modules, by class and path; the previous file stays intact', () => {
    const file = join(dir, 'kept.onnx');
    writeFileSync(file, 'previous');
    const m = new Sequential(new Linear(2, 3), new Sequential(new ReLU(), new Doubler()));
    expect(() => exportOnnx(m, file)).toThrow(/exportOnnx: Doubler at model\.1\.1 cannot be exported to ONNX \(supported: Sequential, Linear, ReLU/);
    expect(readFileSync(file, 'utf8')).toBe('previous');
    expect(() => toOnnx(new Sequential(new Linear(2, 2), new MyReLU()))).toThrow(/MyReLU at model\.1/);
  });

  it('shapes that do not fit, bad options', () => {
    const m = new Sequential(new Linear(4, 3), new Linear(2, 1));
    expect(() => toOnnx(m)).toThrow('exportOnnx: Linear at model.1 expects 2 input features, but its input has shape [batch, 3]');
    expect(() => toOnnx(new Sequential(new Linear(4, 3)), { inputShape: [1, 5] })).toThrow(/expects 4 input features.*\[batch, 5\]/);
    expect(() => toOnnx(new Sequential(new Flatten(), new Linear(4, 3)))).toThrow(/pass inputShape/);
    expect(() => toOnnx(new Softmax(2), { inputShape: [1, 3] })).toThrow('exportOnnx: Softmax at model: dim 2 is out of range');
    expect(() => toOnnx(new Sequential(new Flatten(2, 1)), { inputShape: [1, 2, 3] })).toThrow('exportOnnx: Flatten at model.0: startDim 2 comes after endDim 1 for input [batch, 2, 3]');
    for (const opset of [12, 22, 17.5]) expect(() => toOnnx(new Linear(2, 2), { opset })).toThrow(`opset ${opset} is not supported`);
    for (const inputShape of [[], [1, 0], [1, 2.5]]) expect(() => toOnnx(new Linear(2, 2), { inputShape })).toThrow(/inputShape must be/);
    expect(() => toOnnx(new Linear(2, 2), { normalize: { mean: [0], std: [1, 1] } })).toThrow(/normalize needs 2 finite means/);
    expect(() => toOnnx(new Sequential(new Linear(2, 4), new BatchNorm1d(3)))).toThrow('exportOnnx: BatchNorm1d at model.1 expects input [batch, 3] or [batch, 3, length], got [batch, 4]');
    expect(() => toOnnx(new Sequential(new Linear(2, 4), new LayerNorm(3)))).toThrow('exportOnnx: LayerNorm at model.1 normalizes over the last dims [3], but its input has shape [batch, 4]');
  });

  it('BatchNorm1d without running statistics, LayerNorm below opset 17, Embedding', () => {
    expect(() => toOnnx(new Sequential(new Linear(2, 3), new BatchNorm1d(3, { trackRunningStats: false })))).toThrow(/BatchNorm1d at model\.1 has trackRunningStats off, so even eval\(\) normalizes with the batch's own statistics/);
    expect(() => toOnnx(new Sequential(new Linear(2, 3), new LayerNorm(3)), { opset: 16 })).toThrow('exportOnnx: LayerNorm at model.1: LayerNormalization needs opset 17 or later (opset 16 was asked for)');
    expect(() => toOnnx(new Sequential(new Embedding(10, 4), new Linear(4, 2)), { inputShape: [1, 3] })).toThrow(/exportOnnx: Embedding at model\.0 takes integer indices, but exported models take a float input/);
  });
});

describe('tapegrad export (CLI)', () => {
  it('a model saved by `tapegrad train` on CSV data, standardization included, matches predict\'s path', async () => {
    const csv = join(dir, 'blobs.csv'), model = join(dir, 'blobs.safetensors'), onnx = join(dir, 'blobs.onnx');
    const rows = ['x,y,z,label'];
    for (let i = 0; i < 90; i++) rows.push(`${(i % 3) * 100 + (i % 7)},${(i % 5) / 5},${i % 11},${i % 3}`);
    writeFileSync(csv, rows.join('\n'));
    expect(await main(['node', 'tapegrad', 'train', '--dataset', 'csv', '--data', csv, '--target', 'label', '--epochs', '3', '--out', model, '-q'])).toBe(0);
    expect(await main(['node', 'tapegrad', 'export', '--model', model, '--onnx', onnx])).toBe(0);
    const { model: m, arch } = readModel(model);
    expect(arch?.normalize).toBeDefined();
    for (const batch of [1, 7]) { // raw CSV rows, as a server would get them
      const x = new Tensor(Float32Array.from(rows.slice(1, 1 + batch).flatMap((r) => r.split(',').slice(0, 3).map(Number))), [batch, 3]);
      expectMatch(await runOrt(readFileSync(onnx), x), m.forward(normalizeInput(x, arch!)), `batch ${batch}`);
    }
    exported.push(onnx);
    expect(await main(['node', 'tapegrad', 'export', '--model', model, '--onnx', onnx, '--opset', '9'])).toBe(1);
    expect(await main(['node', 'tapegrad', 'export', '--model', join(dir, 'nope.safetensors'), '--onnx', onnx])).toBe(1);
  });

  it('a `tapegrad train --dropout --batchnorm` model exports in eval form (running statistics, no dropout)', async () => {
    const model = join(dir, 'dbn.safetensors'), onnx = join(dir, 'dbn.onnx');
    expect(await main(['node', 'tapegrad', 'train', '--dataset', 'circles', '--epochs', '2', '--dropout', '0.3', '--batchnorm', '--out', model, '-q'])).toBe(0);
    expect(await main(['node', 'tapegrad', 'export', '--model', model, '--onnx', onnx])).toBe(0);
    const { model: m, description } = readModel(model);
    expect(description).toBe('2-16-2 relu batchnorm dropout 0.3');
    expect(m.stateDict()['1.num_batches_tracked'].item()).toBe(2 * 25);
    for (const batch of [1, 7]) {
      const x = randn([batch, 2]);
      expectMatch(await runOrt(readFileSync(onnx), x), noGrad(() => m.forward(x)), `batch ${batch}`);
    }
    exported.push(onnx);
  });
});

// The checker from Debian's python3-onnx (1.12: opsets up to 17 and IR 8), when installed
const python = '/usr/bin/python3';
const checkerMissing = spawnSync(python, ['-c', 'import onnx'], { encoding: 'utf8' }).status === 0 ? null
  : `${python} cannot import onnx (apt-get install -y python3-onnx)`;
describe('the ONNX checker accepts the files', () => {
  it.skipIf(checkerMissing !== null)(`onnx.checker.check_model(full_check=True)${checkerMissing ? ` — skipped: ${checkerMissing}` : ''}`, () => {
    const files = exported.filter((f) => !f.endsWith('opset21.onnx')); // newer than the checker knows
    expect(files.length).toBeGreaterThanOrEqual(8);
    const script = 'import sys, onnx\nfor f in sys.argv[1:]:\n    onnx.checker.check_model(onnx.load(f), full_check=True)\nprint(len(sys.argv) - 1)';
    const r = spawnSync(python, ['-c', script, ...files], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(String(files.length));
  });
});
