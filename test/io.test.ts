import { describe, it, expect, beforeEach, afterEach, vi } from 'vitest';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor, tensor, manualSeed, mseLoss, noGrad } from '../lib/index.js';
import * as nn from '../lib/nn/index.js';
import { SGD, Adam, type Optimizer } from '../lib/optim/index.js';
import {
  encodeSafetensors, decodeSafetensors, save, load, saveCheckpoint, loadCheckpoint, readSafetensors, writeSafetensors,
} from '../lib/io/index.js';
import fixtures from './fixtures/torch.json' with { type: 'json' };

// Failure injection for the atomic-save tests: fs calls made by lib/io/save.ts go through this mock.
const inject = vi.hoisted(() => ({ write: false, rename: false }));
vi.mock('node:fs', async (importOriginal) => {
  const orig = await importOriginal<typeof import('node:fs')>();
  return {
    ...orig,
    writeSync: (fd: number, buf: Uint8Array, off?: number, len?: number, ...rest: unknown[]) => {
      if (inject.write) {
        orig.writeSync(fd, buf, off ?? 0, Math.min(len ?? buf.length, 16)); // a partial write, then the disk fills up
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      }
      return (orig.writeSync as (...a: unknown[]) => number)(fd, buf, off, len, ...rest);
    },
    renameSync: (a: fs.PathLike, b: fs.PathLike) => {
      if (inject.rename) throw Object.assign(new Error('EXDEV: cross-device link not permitted, rename'), { code: 'EXDEV' });
      return orig.renameSync(a, b);
    },
  };
});

const mlp = (): nn.Sequential => new nn.Sequential(new nn.Linear(4, 3), new nn.ReLU(), new nn.Linear(3, 2));
const f32 = (v: number[]): number[] => v.map((x) => Math.fround(x));

let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(join(tmpdir(), 'tapegrad-io-')); inject.write = inject.rename = false; });
afterEach(() => { inject.write = inject.rename = false; fs.rmSync(dir, { recursive: true, force: true }); });

/** A safetensors buffer from a raw header object (or string) and data bytes. */
function raw(header: unknown, data: Uint8Array = new Uint8Array(0), pad = true): Buffer {
  let h = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  if (pad && h.length % 8) h = Buffer.concat([h, Buffer.alloc(8 - (h.length % 8), 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([len, h, data]);
}

describe('safetensors encoding', () => {
  it('lays out the header length, padded JSON header and little-endian data', () => {
    const buf = encodeSafetensors(
      { a: tensor([1, 2]), b: new Tensor(Float64Array.from([-0.5]), [1, 1]) },
      { k: 'v' },
    );
    const n = Number(buf.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const json = '{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F64","shape":[1,1],"data_offsets":[8,16]}}';
    expect(buf.subarray(8, 8 + n).toString('utf8')).toBe(json + ' '.repeat(n - json.length));
    expect(n - json.length).toBeLessThan(8);
    expect(buf.length).toBe(8 + n + 16);
    expect(buf.readFloatLE(8 + n)).toBe(1);
    expect(buf.readFloatLE(8 + n + 4)).toBe(2);
    expect(buf.readDoubleLE(8 + n + 8)).toBe(-0.5);
  });
  it('round-trips dtypes, shapes (incl. scalars and empty tensors) and metadata', () => {
    const ts = {
      w: tensor([[1.5, -2], [3, 4e-8]]),
      d: new Tensor(Float64Array.from([Math.PI, -0, Infinity]), [3]),
      s: tensor(7),
      e: new Tensor(new Float32Array(0), [0, 5]),
    };
    const { tensors, metadata } = decodeSafetensors(encodeSafetensors(ts, { a: '1', b: '{"x":2}' }));
    expect(Object.keys(tensors)).toEqual(['w', 'd', 's', 'e']);
    expect(metadata).toEqual({ a: '1', b: '{"x":2}' });
    for (const [k, t] of Object.entries(ts)) {
      expect(tensors[k].shape).toEqual(t.shape);
      expect(tensors[k].dtype).toBe(t.dtype);
      expect(tensors[k].data).toEqual(t.data);
    }
    expect(decodeSafetensors(encodeSafetensors({})).tensors).toEqual({});
  });
  it('rejects what it cannot encode', () => {
    expect(() => encodeSafetensors({ __metadata__: tensor([1]) })).toThrow(/"__metadata__" is reserved/);
    expect(() => encodeSafetensors({ a: [1, 2] as unknown as Tensor })).toThrow(/"a" is not a Tensor/);
    expect(() => encodeSafetensors({}, { n: 3 as unknown as string })).toThrow(/metadata value of "n" must be a string/);
  });
});

describe('safetensors decoding', () => {
  it('copies unaligned data into aligned arrays', () => {
    // header of odd length, buffer at an odd byteOffset: the data section is not 4-byte aligned
    const data = Buffer.alloc(12);
    data.writeFloatLE(1.25, 0); data.writeFloatLE(-3, 4); data.writeFloatLE(1e-3, 8);
    const file = raw({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 12] } }, data, false);
    const n = Number(file.readBigUInt64LE(0));
    const shift = [1, 2, 3].find((s) => (8 + n + s) % 4 !== 0)!;
    const backing = new Uint8Array(file.length + shift);
    backing.set(file, shift);
    const shifted = Buffer.from(backing.buffer, shift, file.length);
    expect((8 + n + shifted.byteOffset) % 4).not.toBe(0);
    const { x } = decodeSafetensors(shifted).tensors;
    expect(x.data).toBeInstanceOf(Float32Array);
    expect(x.data.byteOffset).toBe(0);
    expect(Array.from(x.data)).toEqual(f32([1.25, -3, 1e-3]));
    shifted[8 + Number(shifted.readBigUInt64LE(0))] ^= 0xff; // the tensor owns a copy
    expect(x.data[0]).toBe(1.25);
  });
  it('converts F16 and BF16 to float32', () => {
    const h = Uint16Array.from([0x3c00, 0xc000, 0x3800, 0x0001, 0x7c00, 0x3555]);
    const b = Uint16Array.from([0x3f80, 0xc020, 0x0000, 0xff80]);
    const data = Buffer.concat([Buffer.from(h.buffer), Buffer.from(b.buffer)]);
    const { tensors } = decodeSafetensors(raw({
      h: { dtype: 'F16', shape: [2, 3], data_offsets: [0, 12] },
      b: { dtype: 'BF16', shape: [4], data_offsets: [12, 20] },
    }, data));
    expect(tensors.h.dtype).toBe('float32');
    expect(Array.from(tensors.h.data)).toEqual([1, -2, 0.5, Math.fround(2 ** -24), Infinity, Math.fround(0.333251953125)]);
    expect(Array.from(tensors.b.data)).toEqual([1, -2.5, 0, -Infinity]);
  });

  const ok = (): Buffer => encodeSafetensors({ w: tensor([[1, 2], [3, 4]]), b: tensor([5, 6]) });
  const bad: [string, () => Uint8Array, RegExp][] = [
    ['empty', () => new Uint8Array(0), /file is 0 bytes, too short/],
    ['shorter than 8 bytes', () => ok().subarray(0, 5), /file is 5 bytes, too short to hold the 8-byte header length/],
    ['header length past the end', () => ok().subarray(0, 40), /header length \d+ runs past the end of the 40-byte file/],
    ['huge header length', () => { const b = ok(); b.writeBigUInt64LE(2n ** 62n, 0); return b; }, /header length 4611686018427387904 exceeds the limit of 16777216 bytes/],
    ['truncated data', () => { const b = ok(); return b.subarray(0, b.length - 4); }, /tensor "b": data_offsets \[16, 24\] run past the end of the 20-byte data section/],
    ['invalid JSON', () => raw('{"w": {"dtype": "F32",'), /header is not valid UTF-8 JSON/],
    ['invalid UTF-8', () => raw(Buffer.from([0x7b, 0xff, 0x7d]).toString('latin1')), /header is not valid UTF-8 JSON/],
    ['non-object header', () => raw('[1, 2, 3]'), /header must be a JSON object, got an array/],
    ['null header', () => raw('null'), /header must be a JSON object, got null/],
    ['non-object entry', () => raw({ w: 3 }), /tensor "w": entry must be an object/],
    ['unsupported dtype', () => raw({ idx: { dtype: 'I16', shape: [2], data_offsets: [0, 4] } }, Buffer.alloc(4)), /tensor "idx" has dtype I16, which tapegrad cannot load \(supported: F64, F32, F16, BF16, I32, I64\)/],
    ['negative dim', () => raw({ w: { dtype: 'F32', shape: [-1, 2], data_offsets: [0, 8] } }, Buffer.alloc(8)), /tensor "w": bad shape \[-1,2\]/],
    ['fractional dim', () => raw({ w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 8] } }, Buffer.alloc(8)), /tensor "w": bad shape \[1.5\]/],
    ['missing shape', () => raw({ w: { dtype: 'F32', data_offsets: [0, 8] } }, Buffer.alloc(8)), /tensor "w": bad shape undefined/],
    ['offsets not matching the shape', () => raw({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, Buffer.alloc(8)), /tensor "w": data_offsets \[0, 8\] span 8 bytes but shape \[3\] of F32 needs 12/],
    ['huge shape', () => raw({ w: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] } }, Buffer.alloc(8)), /tensor "w": shape \[1099511627776, 1099511627776\] is too large/],
    ['reversed offsets', () => raw({ w: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } }, Buffer.alloc(8)), /tensor "w": bad data_offsets \[8,0\]/],
    ['offsets out of the file', () => raw({ w: { dtype: 'F32', shape: [2], data_offsets: [1000, 1008] } }, Buffer.alloc(8)), /tensor "w": data_offsets \[1000, 1008\] run past the end of the 8-byte data section/],
    ['overlapping offsets', () => raw({
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    }, Buffer.alloc(12)), /tensors "a" \[0, 8\] and "b" \[4, 12\] have overlapping data_offsets/],
    ['non-string metadata', () => raw({ __metadata__: { epoch: 3 } }), /"__metadata__" value of "epoch" must be a string, got number/],
  ];
  for (const [what, make, msg] of bad) {
    it(`rejects ${what}`, () => {
      expect(() => decodeSafetensors(make(), { source: 'm.safetensors' })).toThrow(msg);
      expect(() => decodeSafetensors(make(), { source: 'm.safetensors' })).toThrow(/^safetensors m\.safetensors: /);
    });
  }
  it('honours maxHeaderBytes', () => {
    expect(() => decodeSafetensors(ok(), { maxHeaderBytes: 16 })).toThrow(/exceeds the limit of 16 bytes/);
  });
});

describe('save / load', () => {
  it('round-trips a model\'s weights and metadata', () => {
    manualSeed(1);
    const a = mlp();
    const file = join(dir, 'model.safetensors');
    const arch = JSON.stringify({ layers: [4, 3, 2] });
    save(a, file, { metadata: { 'tapegrad.arch': arch } });
    manualSeed(2);
    const b = mlp();
    expect(b.stateDict()['0.weight'].data).not.toEqual(a.stateDict()['0.weight'].data);
    const params = b.parameters();
    const meta = load(b, file);
    // a Sequential of built-in layers also records its architecture, from which it rebuilds
    const layers = [{ type: 'Linear', inFeatures: 4, outFeatures: 3, bias: true }, { type: 'ReLU' }, { type: 'Linear', inFeatures: 3, outFeatures: 2, bias: true }];
    expect(meta).toEqual({ format: 'pt', 'tapegrad.arch': arch, 'tapegrad.sequential': JSON.stringify(layers) });
    const c = nn.Sequential.fromArchitecture(JSON.parse(meta['tapegrad.sequential']));
    load(c, file);
    expect(c.toString()).toBe(a.toString());
    for (const [k, t] of Object.entries(a.stateDict())) expect(c.stateDict()[k].data).toEqual(t.data);
    expect(() => nn.Sequential.fromArchitecture([{ type: 'Eval' }])).toThrow(/layer 0: unknown layer type "Eval"/);
    expect(() => nn.Sequential.fromArchitecture([{ type: 'Linear', inFeatures: -1, outFeatures: 2, bias: true }])).toThrow(/positive integer inFeatures/);
    for (const [k, t] of Object.entries(a.stateDict())) expect(b.stateDict()[k].data).toEqual(t.data);
    // loaded in place: the module keeps its parameter tensors (optimizers stay attached)
    expect(b.parameters().every((p, i) => p === params[i])).toBe(true);
    expect(Object.keys(readSafetensors(file).tensors)).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
  });
  it('loads the PyTorch-written fixture exactly', () => {
    const ref = fixtures.safetensors as Record<string, number[] | number[][]>;
    const { tensors, metadata } = readSafetensors('test/fixtures/torch_sequential.safetensors');
    expect(metadata).toEqual({ format: 'pt' });
    const model = mlp();
    load(model, 'test/fixtures/torch_sequential.safetensors');
    const sd = model.stateDict();
    for (const k of ['0.weight', '0.bias', '2.weight', '2.bias']) {
      expect(tensors[k].shape).toEqual(sd[k].shape);
      expect(Array.from(sd[k].data)).toEqual(f32((ref[k] as number[] | number[][]).flat()));
    }
    const y = noGrad(() => model.forward(tensor(ref.x as number[][])) as Tensor);
    const want = (ref.y as number[][]).flat();
    expect(y.shape).toEqual([2, 2]);
    y.data.forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThanOrEqual(1e-6));
  });
  it('reports a model that does not match the file', () => {
    const file = join(dir, 'm.safetensors');
    save(mlp(), file);
    const wrongShape = new nn.Sequential(new nn.Linear(4, 5), new nn.ReLU(), new nn.Linear(5, 2));
    expect(() => load(wrongShape, file)).toThrow(new RegExp(`^load ${file}: .*size mismatch for '0.weight'.*\\[3, 4\\].*\\[5, 4\\]`, 's'));
    const bigger = new nn.Sequential(new nn.Linear(4, 3), new nn.ReLU(), new nn.Linear(3, 2), new nn.Linear(2, 1));
    expect(() => load(bigger, file)).toThrow(/missing key\(s\) in state dict: '3.weight', '3.bias'/);
    const before = bigger.stateDict()['3.weight'].data.slice();
    load(bigger, file, { strict: false });
    expect(bigger.stateDict()['3.weight'].data).toEqual(before);
    expect(() => load(mlp(), join(dir, 'missing.safetensors'))).toThrow(/missing\.safetensors: cannot read file/);
    fs.writeFileSync(join(dir, 'junk.safetensors'), 'not a model');
    expect(() => load(mlp(), join(dir, 'junk.safetensors'))).toThrow(/junk\.safetensors: header length \d+ exceeds the limit/);
  });
  it('loads a float64 file into a float32 model', () => {
    const file = join(dir, 'f64.safetensors');
    const m = new nn.Linear(2, 1);
    writeSafetensors(file, { weight: new Tensor(Float64Array.from([0.1, 0.2]), [1, 2]), bias: new Tensor(Float64Array.from([0.3]), [1]) });
    load(m, file);
    expect(m.stateDict().weight.dtype).toBe('float32');
    expect(Array.from(m.stateDict().weight.data)).toEqual(f32([0.1, 0.2]));
  });
});

describe('atomic save', () => {
  const leftovers = (): string[] => fs.readdirSync(dir).filter((f) => f.includes('.tmp-'));

  function withPrevious(): { file: string; before: Buffer } {
    const file = join(dir, 'model.safetensors');
    save(mlp(), file);
    return { file, before: fs.readFileSync(file) };
  }

  it('writes through a temp file and leaves none behind', () => {
    const { file } = withPrevious();
    save(mlp(), file);
    expect(fs.readdirSync(dir)).toEqual(['model.safetensors']);
    expect(readSafetensors(file).metadata.format).toBe('pt');
  });
  it('an unencodable state keeps the previous file', () => {
    const { file, before } = withPrevious();
    expect(() => save(mlp(), file, { metadata: { epoch: 3 as unknown as string } })).toThrow(`save ${file}: safetensors: metadata value of "epoch" must be a string`);
    const bogus = { stateDict: () => ({ w: 'nope' as unknown as Tensor }), loadStateDict: () => undefined };
    expect(() => save(bogus, file)).toThrow(/"w" is not a Tensor/);
    expect(fs.readFileSync(file)).toEqual(before);
    expect(leftovers()).toEqual([]);
  });
  it('a failing write (disk full) keeps the previous file and removes the temp file', () => {
    const { file, before } = withPrevious();
    inject.write = true;
    expect(() => save(mlp(), file)).toThrow(new RegExp(`^save ${file}: ENOSPC: no space left on device.*previous file, if any, is unchanged`));
    inject.write = false;
    expect(fs.readFileSync(file)).toEqual(before);
    expect(leftovers()).toEqual([]);
  });
  it('a failing rename keeps the previous file and removes the temp file', () => {
    const { file, before } = withPrevious();
    inject.rename = true;
    expect(() => save(mlp(), file)).toThrow(/EXDEV/);
    inject.rename = false;
    expect(fs.readFileSync(file)).toEqual(before);
    expect(leftovers()).toEqual([]);
  });
  it('a temp file that cannot be created is a clear error', () => {
    const file = join(dir, 'no-such-dir', 'model.safetensors');
    expect(() => save(mlp(), file)).toThrow(new RegExp(`^save ${file}: ENOENT`));
    // a target that is a directory: the rename fails, the directory is untouched
    const target = join(dir, 'taken');
    fs.mkdirSync(target);
    expect(() => save(mlp(), target)).toThrow(/^save .*taken: /);
    expect(fs.statSync(target).isDirectory()).toBe(true);
    expect(leftovers()).toEqual([]);
  });
});

describe('checkpoints', () => {
  const x = tensor([[0.5, -1, 2, 0.1], [1.5, 0.3, -0.7, 0.9], [-1.2, 0.8, 0.4, -0.3]]);
  const y = tensor([[1, 0], [0, 1], [0.5, -0.5]]);
  const train = (model: nn.Sequential, opt: Optimizer, steps: number): void => {
    for (let i = 0; i < steps; i++) {
      opt.zeroGrad();
      mseLoss(model.forward(x) as Tensor, y).backward();
      opt.step();
    }
  };
  const makers: [string, (m: nn.Module) => Optimizer][] = [
    ['Adam', (m) => new Adam(m.parameters(), { lr: 0.01 })],
    ['SGD with momentum', (m) => new SGD(m.parameters(), { lr: 0.05, momentum: 0.9, nesterov: true })],
  ];
  for (const [name, makeOpt] of makers) {
    it(`${name}: resuming from a checkpoint matches an uninterrupted run exactly`, () => {
      manualSeed(11);
      const a = mlp();
      const optA = makeOpt(a);
      train(a, optA, 4);
      const file = join(dir, 'ckpt.safetensors');
      saveCheckpoint(file, { model: a, optimizer: optA, extra: { epoch: 4, history: [0.5, 0.25], best: Infinity } });
      train(a, optA, 5);

      manualSeed(12);
      const b = mlp();
      const optB = makeOpt(b);
      optB.lr = 123; // restored from the checkpoint
      const extra = loadCheckpoint(file, { model: b, optimizer: optB });
      expect(extra).toEqual({ epoch: 4, history: [0.5, 0.25], best: Infinity });
      expect(optB.lr).toBe(optA.lr);
      train(b, optB, 5);
      for (const [k, t] of Object.entries(a.stateDict())) expect(b.stateDict()[k].data).toEqual(t.data);
    });
  }
  it('stores model.* and optim.<i>.<key> tensors and JSON metadata', () => {
    const m = mlp();
    const opt = new Adam(m.parameters(), { lr: 0.01 });
    train(m, opt, 1);
    const file = join(dir, 'c.safetensors');
    saveCheckpoint(file, { model: m, optimizer: opt });
    const { tensors, metadata } = readSafetensors(file);
    expect(Object.keys(tensors)).toContain('model.0.weight');
    expect(Object.keys(tensors)).toContain('optim.0.expAvg');
    expect(Object.keys(tensors)).toContain('optim.3.expAvgSq');
    const o = JSON.parse(metadata['tapegrad.optimizer']);
    expect(o.state['0'].step).toBe(1);
    expect(o.paramGroups[0].params).toEqual([0, 1, 2, 3]);
    expect(metadata['tapegrad.extra']).toBeUndefined();
    // the model alone, and errors
    const fresh = mlp();
    expect(loadCheckpoint(file, { model: fresh })).toBeUndefined();
    expect(fresh.stateDict()['2.bias'].data).toEqual(m.stateDict()['2.bias'].data);
    const plain = join(dir, 'plain.safetensors');
    save(m, plain);
    expect(() => loadCheckpoint(plain, { model: fresh })).toThrow(/not a tapegrad checkpoint/);
    // an optimizer that does not fit the checkpoint: error, and the model is left as it was
    const other = mlp();
    const before = other.stateDict()['0.weight'].data.slice();
    const sgd = new SGD(other.parameters(), { lr: 0.1 });
    expect(() => loadCheckpoint(file, { model: other, optimizer: sgd })).toThrow(new RegExp(`^loadCheckpoint ${file}: SGD.loadStateDict`));
    expect(other.stateDict()['0.weight'].data).toEqual(before);
    saveCheckpoint(file, { model: m });
    expect(() => loadCheckpoint(file, { model: fresh, optimizer: opt })).toThrow(/the checkpoint has no optimizer state/);
  });
});
