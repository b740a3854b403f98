// The safetensors format (https://github.com/huggingface/safetensors):
//   [8 bytes: little-endian u64 header length N][N bytes: JSON header][raw little-endian tensor data]
// header = {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {string: string}};
// offsets are relative to the start of the data section. We pad the header with spaces to a multiple
// of 8 so the data section is 8-byte aligned in the file.
import { Tensor, isTensor, type TensorData } from '../tensor.js';
import { fmt } from '../shape.js';

export interface SafetensorsContent {
  /** Null-prototype objects: names come from the file ("__proto__" is just a name). */
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

/** Largest accepted JSON header by default. The reference implementation allows 100 MB; real headers
 * are ~150 bytes per tensor plus metadata, so 16 MiB holds 100,000 tensors and keeps a hostile header
 * from costing seconds and gigabytes to parse. */
export const MAX_HEADER_BYTES = 16 * 1024 * 1024;
/** Most tensors accepted in one file by default (large LLM checkpoints have a few thousand). */
export const MAX_TENSORS = 100_000;
/** Largest element count of one tensor, and of each dim: what a typed array / the native kernels take. */
export const MAX_ELEMENTS = 2 ** 31 - 1;

export interface DecodeOptions {
  /** Reject headers larger than this (default MAX_HEADER_BYTES), before reading them. */
  maxHeaderBytes?: number;
  /** Reject files with more tensors than this (default MAX_TENSORS). */
  maxTensors?: number;
  /** Name of the source (a file path) used in error messages. */
  source?: string;
}

/** Random access to the bytes of a safetensors file or buffer. `owned`: read() returns fresh memory. */
export interface ByteSource {
  size: number;
  read(pos: number, len: number): Uint8Array;
  owned: boolean;
}

// I64 (PyTorch's integer tensors, e.g. BatchNorm's num_batches_tracked) is narrowed to int32 with a
// range check: tapegrad's one integer dtype.
const BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8 };
const INT32_MIN = -(2n ** 31n), INT32_MAX = 2n ** 31n - 1n;
const SUPPORTED = Object.keys(BYTES).join(', ');
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Serialize tensors (float32 → F32, float64 → F64, int32 → I32) and string metadata into safetensors bytes. */
export function encodeSafetensors(tensors: Record<string, Tensor>, metadata?: Record<string, string>): Buffer {
  const header: Record<string, unknown> = Object.create(null); // a tensor may be named "__proto__"
  if (metadata !== undefined) {
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) throw new TypeError('safetensors: metadata must be an object of strings');
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new TypeError(`safetensors: metadata value of ${JSON.stringify(k)} must be a string, got ${typeof v} (JSON.stringify it)`);
    }
    header.__metadata__ = { ...metadata };
  }
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    if (name === '__metadata__') throw new Error('safetensors: "__metadata__" is reserved and cannot name a tensor');
    if (!isTensor(t)) throw new TypeError(`safetensors: ${JSON.stringify(name)} is not a Tensor`);
    const data = t.data;
    if (!(data instanceof Float32Array || data instanceof Float64Array || data instanceof Int32Array)) throw new TypeError(`safetensors: tensor ${JSON.stringify(name)} has unsupported storage`);
    const numel = t.shape.reduce((a, d) => a * d, 1);
    if (data.length !== numel) throw new RangeError(`safetensors: tensor ${JSON.stringify(name)} has shape ${fmt(t.shape)} (${numel} elements) but its data holds ${data.length}`);
    const bytes = toLittleEndianBytes(data);
    header[name] = { dtype: data instanceof Float64Array ? 'F64' : data instanceof Int32Array ? 'I32' : 'F32', shape: t.shape.slice(), data_offsets: [offset, offset + bytes.length] };
    parts.push(bytes);
    offset += bytes.length;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const out = Buffer.allocUnsafe(8 + json.length + offset);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  let pos = 8 + json.length;
  for (const p of parts) { out.set(p, pos); pos += p.length; }
  return out;
}

function toLittleEndianBytes(data: TensorData): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN) return bytes;
  const copy = Uint8Array.from(bytes);
  const w = data.BYTES_PER_ELEMENT;
  for (let i = 0; i < copy.length; i += w) copy.subarray(i, i + w).reverse();
  return copy;
}

/**
 * Parse safetensors bytes. Every tensor is copied into its own aligned array: F32 → float32,
 * F64 → float64, F16/BF16 → float32, I32 → int32, I64 → int32 (values outside int32 are refused). Malformed input throws an Error naming the source and tensor;
 * nothing is allocated for tensor data before the whole header has been validated.
 */
export function decodeSafetensors(buf: Uint8Array, opts: DecodeOptions = {}): SafetensorsContent {
  if (!(buf instanceof Uint8Array)) throw new Error(`safetensors ${opts.source ?? 'buffer'}: expected a Buffer or Uint8Array`);
  return decodeFrom({ size: buf.length, read: (pos, len) => buf.subarray(pos, pos + len), owned: false }, opts);
}

/**
 * Decode from random-access bytes: reads the 8-byte length, then the header, validates it in full
 * (the tensors must tile the data section exactly, as the format requires), then reads each tensor's
 * bytes once. A file's size is checked against the header before any data is read.
 */
export function decodeFrom(src: ByteSource, opts: DecodeOptions = {}): SafetensorsContent {
  const { maxHeaderBytes = MAX_HEADER_BYTES, maxTensors = MAX_TENSORS, source = 'buffer' } = opts;
  const fail = (msg: string): never => { throw new Error(`safetensors ${source}: ${msg}`); };
  if (!(maxHeaderBytes >= 0)) fail(`maxHeaderBytes must be a non-negative number, got ${maxHeaderBytes}`);
  if (!(maxTensors >= 0)) fail(`maxTensors must be a non-negative number, got ${maxTensors}`);
  if (src.size < 8) fail(`file is ${src.size} bytes, too short to hold the 8-byte header length (truncated or not a safetensors file)`);
  const prefix = src.read(0, 8);
  const n64 = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (Number(n64) > maxHeaderBytes) fail(`header length ${n64} exceeds the limit of ${maxHeaderBytes} bytes (corrupted or not a safetensors file; raise maxHeaderBytes if it is genuine)`);
  const n = Number(n64);
  if (8 + n > src.size) fail(`header length ${n} runs past the end of the ${src.size}-byte file (truncated or not a safetensors file)`);
  const { specs, metadata } = parseHeader(src.read(8, n), src.size - 8 - n, maxTensors, fail);
  const tensors: Record<string, Tensor> = Object.create(null);
  for (const s of specs) {
    const data = readData(s.dtype, src.read(8 + n + s.begin, s.end - s.begin), s.numel, src.owned, (msg) => fail(`tensor ${JSON.stringify(s.name)}: ${msg}`));
    tensors[s.name] = new Tensor(data, s.shape);
  }
  return { tensors, metadata };
}

interface Spec { name: string; dtype: string; shape: number[]; begin: number; end: number; numel: number }

/** Extra object keys allowed besides the 4 per tensor (name, dtype, shape, data_offsets): metadata. */
const MAX_METADATA_KEYS = 10_000;

/**
 * Object keys in JSON bytes, at the top level and in all, counted without parsing (a ':' outside a
 * string is one key). JSON.parse of millions of keys costs seconds and gigabytes: refuse them first.
 */
function countKeys(json: Uint8Array): { top: number; all: number } {
  let depth = 0, inString = false, top = 0, all = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) depth--;
    else if (c === 0x3a) { all++; if (depth === 1) top++; }
  }
  return { top, all };
}

function parseHeader(json: Uint8Array, dataLen: number, maxTensors: number, fail: (msg: string) => never): { specs: Spec[]; metadata: Record<string, string> } {
  const keys = countKeys(json);
  if (keys.top > maxTensors + 1) fail(`header lists ${keys.top} entries, more than the limit of ${maxTensors} tensors (raise maxTensors if the file is genuine)`);
  if (keys.all > 4 * (maxTensors + 1) + MAX_METADATA_KEYS) fail(`header holds ${keys.all} JSON keys, more than ${maxTensors} tensors and ${MAX_METADATA_KEYS} metadata entries can need`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch (e) {
    fail(`header is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    fail(`header must be a JSON object, got ${header === null ? 'null' : Array.isArray(header) ? 'an array' : typeof header}`);
  }
  // JSON.parse makes "__proto__" an own property; Object.entries sees it as a plain name.
  const entries = Object.entries(header as object);

  const metadata: Record<string, string> = Object.create(null);
  const specs: Spec[] = [];
  const count = entries.length - (Object.hasOwn(header as object, '__metadata__') ? 1 : 0);
  if (count > maxTensors) fail(`header lists ${count} tensors, more than the limit of ${maxTensors} (raise maxTensors if the file is genuine)`);
  for (const [name, e] of entries) {
    if (name === '__metadata__') {
      if (typeof e !== 'object' || e === null || Array.isArray(e)) fail('"__metadata__" must be an object of strings');
      for (const [k, v] of Object.entries(e as object)) {
        if (typeof v !== 'string') fail(`"__metadata__" value of ${JSON.stringify(k)} must be a string, got ${typeof v}`);
        metadata[k] = v as string;
      }
      continue;
    }
    const where = `tensor ${JSON.stringify(name)}`;
    if (typeof e !== 'object' || e === null || Array.isArray(e)) fail(`${where}: entry must be an object {dtype, shape, data_offsets}`);
    const { dtype, shape, data_offsets: offs } = e as Record<string, unknown>;
    if (typeof dtype !== 'string') fail(`${where}: missing dtype`);
    const size = Object.hasOwn(BYTES, dtype as string) ? BYTES[dtype as string] : undefined;
    if (size === undefined) fail(`${where} has dtype ${dtype as string}, which tapegrad cannot load (supported: ${SUPPORTED})`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`${where}: bad shape ${JSON.stringify(shape)} (expected an array of non-negative integers)`);
    }
    let numel = 1;
    for (const d of shape as number[]) {
      numel *= d;
      if (d > MAX_ELEMENTS || numel > MAX_ELEMENTS) fail(`${where}: shape ${fmt(shape as number[])} is too large (at most 2^31-1 elements, and per dim)`);
    }
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0) || offs[0] > offs[1]) {
      fail(`${where}: bad data_offsets ${JSON.stringify(offs)} (expected [begin, end] with 0 <= begin <= end)`);
    }
    const [begin, end] = offs as [number, number];
    if (numel * size! !== end - begin) {
      fail(`${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes but shape ${fmt(shape as number[])} of ${dtype as string} needs ${numel * size!}`);
    }
    if (end > dataLen) fail(`${where}: data_offsets [${begin}, ${end}] run past the end of the ${dataLen}-byte data section (truncated file?)`);
    specs.push({ name, dtype: dtype as string, shape: (shape as number[]).slice(), begin, end, numel });
  }
  // The tensors must tile the data section: no overlaps (aliasing), no holes, nothing after the last
  // one (the format forbids them: a hole could hide another file, and unused bytes are never read).
  const sorted = specs.slice().sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0, prev: Spec | null = null;
  const span = (s: Spec): string => `${JSON.stringify(s.name)} [${s.begin}, ${s.end}]`;
  for (const s of sorted) {
    if (s.begin < pos) fail(`tensors ${span(prev!)} and ${span(s)} have overlapping data_offsets`);
    if (s.begin > pos) fail(`bytes [${pos}, ${s.begin}) of the data section belong to no tensor (before ${span(s)}); holes are not allowed`);
    if (s.end > s.begin || !prev) prev = s;
    pos = s.end;
  }
  if (pos !== dataLen) fail(`the data section is ${dataLen} bytes but the tensors end at byte ${pos}; trailing bytes are not allowed`);
  return { specs, metadata };
}

/** Little-endian bytes as a fresh aligned array (`owned`: the bytes are fresh memory at offset 0, used in place). */
function readData(dtype: string, bytes: Uint8Array, numel: number, owned: boolean, fail: (msg: string) => never): TensorData {
  if (dtype === 'F32' || dtype === 'F64' || dtype === 'I32') {
    const w = dtype === 'F64' ? 8 : 4;
    const inPlace = owned && bytes.byteOffset === 0 && bytes.buffer.byteLength === numel * w;
    const copy = inPlace ? bytes : new Uint8Array(numel * w);
    if (!inPlace) copy.set(bytes);
    if (!LITTLE_ENDIAN) for (let i = 0; i < copy.length; i += w) copy.subarray(i, i + w).reverse();
    return dtype === 'F32' ? new Float32Array(copy.buffer) : dtype === 'I32' ? new Int32Array(copy.buffer) : new Float64Array(copy.buffer);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === 'I64') {
    const ints = new Int32Array(numel);
    for (let i = 0; i < numel; i++) {
      const v = dv.getBigInt64(8 * i, true);
      if (v < INT32_MIN || v > INT32_MAX) fail(`I64 element ${i} is ${v}, outside the int32 range [-2147483648, 2147483647] that tapegrad reads`);
      ints[i] = Number(v);
    }
    return ints;
  }
  const out = new Float32Array(numel);
  if (dtype === 'BF16') {
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < numel; i++) u[i] = dv.getUint16(2 * i, true) << 16; // bf16 is the top half of an f32
  } else {
    for (let i = 0; i < numel; i++) out[i] = halfToFloat(dv.getUint16(2 * i, true));
  }
  return out;
}

/** IEEE 754 binary16 → number. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero / subnormal
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}
