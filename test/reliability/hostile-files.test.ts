// Regression tests for crafted safetensors files and checkpoints (issue 10, "Crashes, hangs,
// security"). Every hostile file is built here, byte by byte where the encoder would refuse it.
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Tensor, tensor, manualSeed } from '../../lib/index.js';
import * as nn from '../../lib/nn/index.js';
import { SGD } from '../../lib/optim/index.js';
import {
  MAX_HEADER_BYTES, MAX_TENSORS, checkpointDigest, decodeSafetensors, encodeSafetensors, load, loadCheckpoint, readSafetensors, save, saveCheckpoint,
} from '../../lib/io/index.js';

// File handling is backend-independent: run once.
const run = process.env.TAPEGRAD_BACKEND !== 'native';

let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(join(tmpdir(), 'tapegrad-hostile-')); });
afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

/** safetensors bytes from a raw header (object or string) and data. */
function raw(header: unknown, data: Uint8Array = new Uint8Array(0)): Buffer {
  const h = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([len, h, data]);
}

function allocatedBy(fn: () => void): number {
  const before = process.memoryUsage().arrayBuffers;
  try { fn(); } catch { /* expected */ }
  return process.memoryUsage().arrayBuffers - before;
}

const pristine = (): void => {
  for (const k of ['K', 'x', 'polluted']) {
    expect(Object.prototype, `Object.prototype.${k}`).not.toHaveProperty(k);
    expect(Object.hasOwn(Object, k), `Object.${k}`).toBe(false);
  }
  expect(({} as Record<string, unknown>).K).toBeUndefined();
};

/** Write a crafted checkpoint with a recomputed digest (what an attacker who can write the file can do). */
function forge(file: string, tensors: Record<string, Tensor>, metadata: Record<string, string>): void {
  fs.writeFileSync(file, encodeSafetensors(tensors, { ...metadata, 'tapegrad.sha256': checkpointDigest(tensors, metadata) }));
}

const model = (): nn.Sequential => { manualSeed(5); return new nn.Sequential(new nn.Linear(2, 3), new nn.ReLU(), new nn.Linear(3, 2)); };

describe.runIf(run)('hostile safetensors files', () => {
  it('prototype pollution: tensor and metadata names "__proto__" / "constructor" are plain names', () => {
    const t = tensor([1, 2]);
    const buf = encodeSafetensors(Object.fromEntries([['__proto__', t], ['constructor', t.clone()]]), Object.fromEntries([['__proto__', 'm'], ['polluted', 'yes']]));
    const { tensors, metadata } = decodeSafetensors(buf);
    expect(Object.keys(tensors).sort()).toEqual(['__proto__', 'constructor']);
    expect(Array.from(tensors.__proto__.data)).toEqual([1, 2]);
    expect(tensors.constructor).toBeInstanceOf(Tensor);
    expect(metadata.__proto__).toBe('m');
    pristine();
  });

  it('prototype pollution: optim.__proto__.K and optim.constructor.x in a checkpoint set nothing global', () => {
    const m = model();
    const opt = new SGD(m.parameters(), { lr: 0.1, momentum: 0.9 });
    m.forward(tensor([[1, 2]])).sum().backward();
    opt.step();
    const file = join(dir, 'ck.safetensors');
    saveCheckpoint(file, { model: m, optimizer: opt, extra: { epoch: 1 } });
    const { tensors, metadata } = readSafetensors(file);
    for (const name of ['optim.__proto__.K', 'optim.constructor.x']) {
      const crafted = join(dir, 'crafted.safetensors');
      forge(crafted, { ...tensors, [name]: tensor([7]) }, metadata);
      expect(() => loadCheckpoint(crafted, { model: model(), optimizer: new SGD(model().parameters(), { lr: 0.1, momentum: 0.9 }) }))
        .toThrow(/malformed optimizer tensor name "optim\.(__proto__|constructor)\.\w" \(expected optim\.<index>\.<key>\)/);
      pristine();
    }
    // the same names through the optimizer's JSON state
    for (const key of ['__proto__', 'constructor']) {
      const sd = JSON.parse(metadata['tapegrad.optimizer']);
      sd.state = JSON.parse(`{"${key}": {"K": 1, "x": 2}}`);
      const crafted = join(dir, 'crafted.safetensors');
      forge(crafted, tensors, { ...metadata, 'tapegrad.optimizer': JSON.stringify(sd) });
      const m2 = model();
      expect(() => loadCheckpoint(crafted, { model: m2, optimizer: new SGD(m2.parameters(), { lr: 0.1, momentum: 0.9 }) })).toThrow(new RegExp(`state for parameter index ${key}`));
      pristine();
    }
    // and as a key inside one parameter's state: kept as a plain key, nothing global
    const m3 = model(), opt3 = new SGD(m3.parameters(), { lr: 0.1, momentum: 0.9 });
    const crafted = join(dir, 'crafted.safetensors');
    forge(crafted, { ...tensors, 'optim.0.__proto__': tensor([[1, 2], [3, 4], [5, 6]]) }, metadata);
    try { loadCheckpoint(crafted, { model: m3, optimizer: opt3 }); } catch { /* either way */ }
    pristine();
  });

  it('a checkpoint edited after it was written (one metadata character, one data byte) is refused', () => {
    const m = model();
    const file = join(dir, 'ck.safetensors');
    saveCheckpoint(file, { model: m, extra: { arch: { activation: 'relu' } } });
    const good = fs.readFileSync(file);
    const edited = Buffer.from(good.toString('latin1').replace('relu', 'gelu'), 'latin1');
    fs.writeFileSync(file, edited);
    expect(() => loadCheckpoint(file, { model: model() })).toThrow(/modified or damaged after it was written \(its SHA-256 digest does not match\)/);
    const flipped = Buffer.from(good);
    flipped[flipped.length - 1] ^= 1;
    fs.writeFileSync(file, flipped);
    expect(() => loadCheckpoint(file, { model: model() })).toThrow(/digest does not match/);
    const { tensors, metadata } = decodeSafetensors(good);
    delete metadata['tapegrad.sha256'];
    fs.writeFileSync(file, encodeSafetensors(tensors, metadata));
    expect(() => loadCheckpoint(file, { model: model() })).toThrow(/no "tapegrad.sha256" digest/);
    fs.writeFileSync(file, good);
    expect(loadCheckpoint(file, { model: model() })).toEqual({ arch: { activation: 'relu' } });
  });

  it('header size and tensor count are capped before the work they would cost', () => {
    expect(MAX_HEADER_BYTES).toBe(16 * 1024 * 1024);
    // a header claiming 17 MiB in a sparse file of that size: rejected from the 8-byte prefix
    const big = join(dir, 'big-header.safetensors');
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(MAX_HEADER_BYTES + 1));
    fs.writeFileSync(big, prefix);
    fs.truncateSync(big, 8 + MAX_HEADER_BYTES + 1);
    expect(() => readSafetensors(big)).toThrow(/header length 16777217 exceeds the limit of 16777216 bytes/);
    expect(allocatedBy(() => readSafetensors(big))).toBeLessThan(1 << 20);
    // MAX_TENSORS + 1 zero-size tensors (the 1.77M took 17 s and 1.75 GB)
    const many = raw(Object.fromEntries(Array.from({ length: MAX_TENSORS + 1 }, (_, i) => [`t${i}`, { dtype: 'F32', shape: [0], data_offsets: [0, 0] }])));
    const t0 = performance.now();
    expect(() => decodeSafetensors(many, { source: 'many' })).toThrow(/header lists 100001 tensors, more than the limit of 100000/);
    const ms = performance.now() - t0;
    console.log(`[hostile-files] ${MAX_TENSORS + 1} zero-size tensors (${(many.length / 1e6).toFixed(1)} MB header) rejected in ${ms.toFixed(0)} ms`);
    expect(() => decodeSafetensors(many, { maxTensors: MAX_TENSORS + 1 })).not.toThrow();
    // a full 16 MiB header of zero-size tensors (286k), and 600k keys nested in one entry: counted
    // before JSON.parse, refused without building them
    const entries: string[] = [];
    for (let i = 0, len = 2; ; i++) {
      const e = `"t${i}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`;
      if ((len += e.length + 1) > MAX_HEADER_BYTES) break;
      entries.push(e);
    }
    const full = raw(`{${entries.join(',')}}`);
    const bomb = raw(`{"t":{"dtype":"F32","shape":[0],"data_offsets":[0,0],"x":{${Array.from({ length: 600_000 }, (_, i) => `"k${i}":0`).join(',')}}}}`);
    for (const [what, buf, msg] of [['full header', full, /header lists 286242 entries, more than the limit of 100000 tensors/], ['key bomb', bomb, /header holds 600005 JSON keys/]] as const) {
      const t1 = performance.now();
      expect(() => decodeSafetensors(buf), what).toThrow(msg);
      console.log(`[hostile-files] ${what} (${(buf.length / 2 ** 20).toFixed(1)} MiB) rejected in ${(performance.now() - t1).toFixed(0)} ms`);
      expect(allocatedBy(() => decodeSafetensors(buf)), what).toBeLessThan(1 << 20);
    }
  });

  it('a 1.5 GiB sparse file holding one 16-byte tensor is rejected without reading the file', () => {
    const file = join(dir, 'sparse.safetensors');
    const head = raw({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, new Uint8Array(16));
    fs.writeFileSync(file, head);
    fs.truncateSync(file, 1.5 * 2 ** 30);
    const t0 = performance.now();
    expect(() => readSafetensors(file)).toThrow(/the data section is \d+ bytes but the tensors end at byte 16; trailing bytes are not allowed/);
    expect(performance.now() - t0).toBeLessThan(5000); // reading 1.5 GiB would take far longer here
    expect(allocatedBy(() => readSafetensors(file))).toBeLessThan(1 << 20);
  });

  it('data ranges must tile the data section: holes, overlaps and trailing bytes are rejected', () => {
    const f32 = (b: number, e: number): object => ({ dtype: 'F32', shape: [(e - b) / 4], data_offsets: [b, e] });
    expect(() => decodeSafetensors(raw({ a: f32(0, 8), b: f32(12, 16) }, new Uint8Array(16)))).toThrow(/bytes \[8, 12\) of the data section belong to no tensor \(before "b" \[12, 16\]\); holes are not allowed/);
    expect(() => decodeSafetensors(raw({ a: f32(4, 8) }, new Uint8Array(8)))).toThrow(/bytes \[0, 4\) of the data section belong to no tensor/);
    expect(() => decodeSafetensors(raw({ a: f32(0, 8), b: f32(4, 12) }, new Uint8Array(12)))).toThrow(/tensors "a" \[0, 8\] and "b" \[4, 12\] have overlapping data_offsets/);
    expect(() => decodeSafetensors(raw({ a: f32(0, 8), z: f32(4, 4) }, new Uint8Array(8)))).toThrow(/overlapping/);
    expect(() => decodeSafetensors(raw({ a: f32(0, 8) }, new Uint8Array(12)))).toThrow(/the data section is 12 bytes but the tensors end at byte 8/);
    // a valid tiling in any header order, with empty tensors anywhere on the boundaries
    const ok = decodeSafetensors(raw({ b: f32(8, 16), e: f32(8, 8), a: f32(0, 8), z: f32(16, 16) }, new Uint8Array(16)));
    expect(Object.keys(ok.tensors)).toEqual(['b', 'e', 'a', 'z']);
  });

  it('hangs: shapes such as [1e15, 0] are rejected by the loader (each dim and the product capped)', () => {
    for (const shape of [[1e15, 0], [1, 2 ** 31, 0], [2 ** 31]]) {
      expect(() => decodeSafetensors(raw({ w: { dtype: 'F32', shape, data_offsets: [0, 0] } })), JSON.stringify(shape)).toThrow(/tensor "w": shape \[.*\] is too large \(at most 2\^31-1 elements, and per dim\)/);
    }
    expect(decodeSafetensors(raw({ w: { dtype: 'F32', shape: [2 ** 31 - 1, 0], data_offsets: [0, 0] } })).tensors.w.shape).toEqual([2 ** 31 - 1, 0]);
  });

  it('F64 weights that overflow float32 are rejected, naming the tensor and the value', () => {
    const file = join(dir, 'f64.safetensors');
    const m = new nn.Linear(2, 1);
    const before = Array.from(m.weight.data);
    fs.writeFileSync(file, encodeSafetensors({ weight: new Tensor(Float64Array.from([0.5, 1e300]), [1, 2]), bias: new Tensor(Float64Array.from([-1e39]), [1]) }));
    expect(() => load(m, file)).toThrow(/value for 'weight' does not fit float32: element 1 is 1e\+300, which would become Infinity/);
    expect(() => load(m, file)).toThrow(/value for 'bias' does not fit float32: element 0 is -1e\+39, which would become -Infinity/);
    expect(Array.from(m.weight.data)).toEqual(before); // nothing was loaded
    // infinities and NaN stored as such, and values that round (precision, underflow), load as float32 does
    fs.writeFileSync(file, encodeSafetensors({ weight: new Tensor(Float64Array.from([Infinity, 1e-50]), [1, 2]), bias: new Tensor(Float64Array.from([0.1]), [1]) }));
    load(m, file);
    expect(Array.from(m.weight.data)).toEqual([Infinity, 0]);
    expect(m.bias.data[0]).toBe(Math.fround(0.1));
  });

  it('a tensor whose buffer was shrunk is refused at save time, naming it; the previous file stays intact', () => {
    const m = new nn.Linear(2, 2);
    const file = join(dir, 'm.safetensors');
    save(m, file);
    const before = fs.readFileSync(file);
    const ab = new ArrayBuffer(16, { maxByteLength: 16 });
    const shrinking = new Float32Array(ab);
    m.weight.data = shrinking; // 4 elements, shape [2, 2]
    ab.resize(8); // the length-tracking view now has 2
    expect(() => save(m, file)).toThrow(/save .*m\.safetensors: Linear\.stateDict: 'weight': Tensor: data has 2 elements but shape \[2, 2\] needs 4/);
    // the encoder checks too (a Tensor built before its buffer shrank)
    const ab2 = new ArrayBuffer(16, { maxByteLength: 16 });
    const t = new Tensor(new Float32Array(ab2), [4]);
    ab2.resize(4);
    expect(() => encodeSafetensors({ w: t })).toThrow(/safetensors: tensor "w" has shape \[4\] \(4 elements\) but its data holds 1/);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    expect(fs.readdirSync(dir)).toEqual(['m.safetensors']);
  });
});
