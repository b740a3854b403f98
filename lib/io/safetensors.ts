// The safetensors format (https://github.com/huggingface/safetensors):
//   [8 bytes: little-endian u64 header length N][N bytes: JSON header][raw little-endian tensor data]
// header = {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {string: string}};
// offsets are relative to the start of the data section. We pad the header with spaces to a multiple
// of 8 so the data section is 8-byte aligned in the file.
import { Tensor, isTensor } from '../tensor.js';
import { fmt } from '../shape.js';

export interface SafetensorsContent {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

export interface DecodeOptions {
  /** Reject headers larger than this (default 100 MB), before parsing them. */
  maxHeaderBytes?: number;
  /** Name of the source (a file path) used in error messages. */
  source?: string;
}

const BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2 };
const SUPPORTED = Object.keys(BYTES).join(', ');
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Serialize tensors (float32 → F32, float64 → F64) and string metadata into safetensors bytes. */
export function encodeSafetensors(tensors: Record<string, Tensor>, metadata?: Record<string, string>): Buffer {
  const header: Record<string, unknown> = {};
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
    if (!(data instanceof Float32Array || data instanceof Float64Array)) throw new TypeError(`safetensors: tensor ${JSON.stringify(name)} has unsupported storage`);
    const bytes = toLittleEndianBytes(data);
    header[name] = { dtype: data instanceof Float64Array ? 'F64' : 'F32', shape: t.shape.slice(), data_offsets: [offset, offset + bytes.length] };
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

function toLittleEndianBytes(data: Float32Array | Float64Array): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN) return bytes;
  const copy = Uint8Array.from(bytes);
  const w = data.BYTES_PER_ELEMENT;
  for (let i = 0; i < copy.length; i += w) copy.subarray(i, i + w).reverse();
  return copy;
}

/**
 * Parse safetensors bytes. Every tensor is copied into its own aligned array: F32 → float32,
 * F64 → float64, F16/BF16 → float32. Malformed input throws an Error naming the source and tensor;
 * nothing is allocated for tensor data before the whole header has been validated.
 */
export function decodeSafetensors(buf: Uint8Array, opts: DecodeOptions = {}): SafetensorsContent {
  const { maxHeaderBytes = 100 * 1024 * 1024, source = 'buffer' } = opts;
  const fail = (msg: string): never => { throw new Error(`safetensors ${source}: ${msg}`); };
  if (!(buf instanceof Uint8Array)) fail('expected a Buffer or Uint8Array');
  if (buf.length < 8) fail(`file is ${buf.length} bytes, too short to hold the 8-byte header length (truncated or not a safetensors file)`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (!(maxHeaderBytes >= 0)) fail(`maxHeaderBytes must be a non-negative number, got ${maxHeaderBytes}`);
  if (Number(n64) > maxHeaderBytes) fail(`header length ${n64} exceeds the limit of ${maxHeaderBytes} bytes (corrupted or not a safetensors file)`);
  const n = Number(n64);
  if (8 + n > buf.length) fail(`header length ${n} runs past the end of the ${buf.length}-byte file (truncated or not a safetensors file)`);

  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + n)));
  } catch (e) {
    fail(`header is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    fail(`header must be a JSON object, got ${header === null ? 'null' : Array.isArray(header) ? 'an array' : typeof header}`);
  }
  const entries = header as Record<string, unknown>;

  const metadata: Record<string, string> = {};
  if ('__metadata__' in entries) {
    const m = entries.__metadata__;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) fail('"__metadata__" must be an object of strings');
    for (const [k, v] of Object.entries(m as object)) {
      if (typeof v !== 'string') fail(`"__metadata__" value of ${JSON.stringify(k)} must be a string, got ${typeof v}`);
      metadata[k] = v as string;
    }
  }

  const dataStart = 8 + n, dataLen = buf.length - dataStart;
  interface Spec { name: string; dtype: string; shape: number[]; begin: number; end: number; numel: number }
  const specs: Spec[] = [];
  for (const [name, e] of Object.entries(entries)) {
    if (name === '__metadata__') continue;
    const where = `tensor ${JSON.stringify(name)}`;
    if (typeof e !== 'object' || e === null || Array.isArray(e)) fail(`${where}: entry must be an object {dtype, shape, data_offsets}`);
    const { dtype, shape, data_offsets: offs } = e as Record<string, unknown>;
    if (typeof dtype !== 'string') fail(`${where}: missing dtype`);
    const size = BYTES[dtype as string];
    if (size === undefined) fail(`${where} has dtype ${dtype as string}, which tapegrad cannot load (supported: ${SUPPORTED})`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`${where}: bad shape ${JSON.stringify(shape)} (expected an array of non-negative integers)`);
    }
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0) || offs[0] > offs[1]) {
      fail(`${where}: bad data_offsets ${JSON.stringify(offs)} (expected [begin, end] with 0 <= begin <= end)`);
    }
    const [begin, end] = offs as [number, number];
    let numel = 1;
    for (const d of shape as number[]) numel *= d;
    if (numel * size !== end - begin) {
      fail(`${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes but shape ${fmt(shape as number[])} of ${dtype as string} needs ${numel * size}`);
    }
    if (end > dataLen) fail(`${where}: data_offsets [${begin}, ${end}] run past the end of the ${dataLen}-byte data section (truncated file?)`);
    specs.push({ name, dtype: dtype as string, shape: (shape as number[]).slice(), begin, end, numel });
  }
  const sorted = specs.filter((s) => s.end > s.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].begin < sorted[i - 1].end) {
      fail(`tensors ${JSON.stringify(sorted[i - 1].name)} [${sorted[i - 1].begin}, ${sorted[i - 1].end}] and ${JSON.stringify(sorted[i].name)} [${sorted[i].begin}, ${sorted[i].end}] have overlapping data_offsets`);
    }
  }

  const tensors: Record<string, Tensor> = {};
  for (const s of specs) {
    const bytes = buf.subarray(dataStart + s.begin, dataStart + s.end);
    tensors[s.name] = new Tensor(readData(s.dtype, bytes, s.numel), s.shape);
  }
  return { tensors, metadata };
}

/** Copy little-endian bytes into a fresh (aligned) array. */
function readData(dtype: string, bytes: Uint8Array, numel: number): Float32Array | Float64Array {
  if (dtype === 'F32' || dtype === 'F64') {
    const w = dtype === 'F32' ? 4 : 8;
    const copy = new Uint8Array(numel * w);
    copy.set(bytes);
    if (!LITTLE_ENDIAN) for (let i = 0; i < copy.length; i += w) copy.subarray(i, i + w).reverse();
    return w === 4 ? new Float32Array(copy.buffer) : new Float64Array(copy.buffer);
  }
  const out = new Float32Array(numel);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
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
