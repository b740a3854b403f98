// Saving and loading models and training checkpoints as safetensors files. Writes are atomic: a temp
// file in the target's directory is written, fsynced and renamed over the target, so a crash or error
// mid-save never leaves a half-written file where the previous one was.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { type Tensor, isTensor } from '../tensor.js';
import { decodeSafetensors, encodeSafetensors, type SafetensorsContent } from './safetensors.js';
import type { OptimizerStateDict } from '../optim/optimizer.js';

/** What save/load need of a module (nn.Module satisfies it). */
export interface StateDictModule {
  stateDict(): Record<string, Tensor>;
  loadStateDict(sd: Record<string, Tensor>, opts?: { strict?: boolean }): unknown;
}

export type { OptimizerStateDict };

/** What checkpoints need of an optimizer (the optimizers in lib/optim satisfy it). */
export interface StatefulOptimizer {
  stateDict(): OptimizerStateDict;
  loadStateDict(sd: OptimizerStateDict): unknown;
}

export interface ReadOptions {
  /** Reject headers larger than this (default 100 MB). */
  maxHeaderBytes?: number;
}

/** Read and validate a safetensors file. */
export function readSafetensors(file: string, opts: ReadOptions = {}): SafetensorsContent {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new Error(`safetensors ${file}: cannot read file: ${(e as Error).message}`, { cause: e });
  }
  return decodeSafetensors(buf, { ...opts, source: file });
}

/** Atomically write tensors and string metadata as a safetensors file. */
export function writeSafetensors(file: string, tensors: Record<string, Tensor>, metadata?: Record<string, string>): void {
  let bytes: Buffer;
  try {
    bytes = encodeSafetensors(tensors, metadata);
  } catch (e) {
    throw new Error(`save ${file}: ${(e as Error).message}`, { cause: e });
  }
  atomicWriteFile(file, bytes);
}

/**
 * Write bytes to `file` atomically: temp file `${file}.tmp-<pid>-<random>` in the same directory,
 * fsync, rename over the target, fsync the directory. On error the temp file is removed and the
 * previous file (if any) is left untouched.
 */
export function atomicWriteFile(file: string, bytes: Uint8Array): void {
  removeStaleTemps(file);
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  let fd: number | null = null;
  try {
    fd = fs.openSync(tmp, 'wx', 0o644);
    for (let off = 0; off < bytes.length;) off += fs.writeSync(fd, bytes, off, bytes.length - off);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = null;
    fs.renameSync(tmp, file);
  } catch (e) {
    if (fd !== null) try { fs.closeSync(fd); } catch { /* already failing */ }
    try { fs.unlinkSync(tmp); } catch { /* never created */ }
    throw new Error(`save ${file}: ${(e as Error).message} (the previous file, if any, is unchanged)`, { cause: e });
  }
  fsyncDir(path.dirname(path.resolve(file)));
}

/** Temp files of this target left by processes that died mid-save (killed): never a valid file, safe to drop. */
function removeStaleTemps(file: string): void {
  const dir = path.dirname(path.resolve(file));
  const prefix = `${path.basename(file)}.tmp-`;
  let names: string[];
  try { names = fs.readdirSync(dir); } catch { return; }
  for (const name of names) {
    const m = name.startsWith(prefix) ? /^(\d+)-[0-9a-f]+$/.exec(name.slice(prefix.length)) : null;
    if (!m || processAlive(Number(m[1]))) continue;
    try { fs.unlinkSync(path.join(dir, name)); } catch { /* raced with another cleaner */ }
  }
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/** Make the rename durable. Not possible on every platform (Windows): best effort. */
function fsyncDir(dir: string): void {
  let fd: number | null = null;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    /* unsupported here; the data itself was fsynced */
  } finally {
    if (fd !== null) try { fs.closeSync(fd); } catch { /* ignore */ }
  }
}

/**
 * Save a module's stateDict(). Metadata values must be strings, e.g.
 * `{ 'tapegrad.arch': JSON.stringify(arch) }`. "format": "pt" is added (as PyTorch writers do) unless given.
 */
export function save(module: StateDictModule, file: string, opts: { metadata?: Record<string, string> } = {}): void {
  writeSafetensors(file, module.stateDict(), { format: 'pt', ...opts.metadata });
}

/** Load a file written by save (or by PyTorch's safetensors) into a module; returns the file's metadata. */
export function load(module: StateDictModule, file: string, opts: { strict?: boolean } = {}): Record<string, string> {
  const { strict = true } = opts;
  const { tensors, metadata } = readSafetensors(file);
  loadInto(module, tensors, strict, file);
  return metadata;
}

/** loadStateDict (which checks names and shapes) with the file named in its errors. */
function loadInto(module: StateDictModule, tensors: Record<string, Tensor>, strict: boolean, file: string): void {
  try {
    module.loadStateDict(tensors, { strict });
  } catch (e) {
    throw new Error(`load ${file}: ${(e as Error).message}`, { cause: e });
  }
}

const MODEL = 'model.', OPTIM = 'optim.';
const META_OPTIM = 'tapegrad.optimizer', META_EXTRA = 'tapegrad.extra', META_KIND = 'tapegrad.checkpoint';

/**
 * Save a training checkpoint: model tensors as `model.<name>`, optimizer tensor state as
 * `optim.<i>.<key>`, the rest of the optimizer state and `extra` as JSON in the metadata.
 */
export function saveCheckpoint(
  file: string,
  opts: { model: StateDictModule; optimizer?: StatefulOptimizer; extra?: Record<string, unknown> },
): void {
  const tensors: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(opts.model.stateDict())) tensors[MODEL + k] = t;
  const metadata: Record<string, string> = { format: 'pt', [META_KIND]: '1' };
  if (opts.optimizer) {
    const sd = opts.optimizer.stateDict();
    const state: Record<string, Record<string, unknown>> = {};
    for (const [i, s] of Object.entries(sd.state)) {
      state[i] = {};
      for (const [key, v] of Object.entries(s)) {
        if (isTensor(v)) tensors[`${OPTIM}${i}.${key}`] = v;
        else if (v !== undefined) state[i][key] = v;
      }
    }
    metadata[META_OPTIM] = toJson(file, 'optimizer state', { state, paramGroups: sd.paramGroups });
  }
  if (opts.extra !== undefined) metadata[META_EXTRA] = toJson(file, 'extra', opts.extra);
  writeSafetensors(file, tensors, metadata);
}

function toJson(file: string, what: string, v: unknown): string {
  return JSON.stringify(v, (key, x) => {
    if (isTensor(x)) throw new Error(`save ${file}: ${what} holds a Tensor at ${JSON.stringify(key)} that is not a top-level optimizer state entry; cannot store it as JSON`);
    if (typeof x === 'number' && !Number.isFinite(x)) return { $number: String(x) }; // NaN/Infinity survive
    if (typeof x === 'bigint' || typeof x === 'function' || typeof x === 'symbol') throw new Error(`save ${file}: ${what} holds a ${typeof x} at ${JSON.stringify(key)}, which cannot be stored as JSON`);
    return x;
  });
}

function fromJson(file: string, what: string, s: string): unknown {
  try {
    return JSON.parse(s, (_k, x) => (x && typeof x === 'object' && !Array.isArray(x) && Object.keys(x).length === 1 && typeof x.$number === 'string' ? Number(x.$number) : x));
  } catch (e) {
    throw new Error(`loadCheckpoint ${file}: ${what} metadata is not valid JSON: ${(e as Error).message}`);
  }
}

/** Restore a checkpoint written by saveCheckpoint into the model (and optimizer); returns `extra`. */
export function loadCheckpoint(
  file: string,
  opts: { model: StateDictModule; optimizer?: StatefulOptimizer; strict?: boolean },
): Record<string, unknown> | undefined {
  const { tensors, metadata } = readSafetensors(file);
  if (metadata[META_KIND] === undefined) throw new Error(`loadCheckpoint ${file}: not a tapegrad checkpoint (no "${META_KIND}" metadata); use load() for plain model files`);
  const model: Record<string, Tensor> = {};
  const optimTensors: [string, string, Tensor][] = [];
  for (const [k, t] of Object.entries(tensors)) {
    if (k.startsWith(MODEL)) model[k.slice(MODEL.length)] = t;
    else if (k.startsWith(OPTIM)) {
      const rest = k.slice(OPTIM.length), dot = rest.indexOf('.');
      if (dot <= 0) throw new Error(`loadCheckpoint ${file}: malformed optimizer tensor name ${JSON.stringify(k)}`);
      optimTensors.push([rest.slice(0, dot), rest.slice(dot + 1), t]);
    } else throw new Error(`loadCheckpoint ${file}: unexpected tensor ${JSON.stringify(k)} (expected model.* or optim.*)`);
  }
  if (opts.optimizer) {
    const json = metadata[META_OPTIM];
    if (json === undefined) throw new Error(`loadCheckpoint ${file}: the checkpoint has no optimizer state`);
    const sd = fromJson(file, 'optimizer', json) as OptimizerStateDict;
    if (!sd || typeof sd !== 'object' || typeof sd.state !== 'object' || !Array.isArray(sd.paramGroups)) {
      throw new Error(`loadCheckpoint ${file}: optimizer metadata lacks state/paramGroups`);
    }
    for (const [i, key, t] of optimTensors) (sd.state[i] ??= {})[key] = t;
    // all or nothing: if the optimizer rejects its state, put the model's previous values back
    const backup = Object.fromEntries(Object.entries(opts.model.stateDict()).map(([k, t]) => [k, t.clone()]));
    loadInto(opts.model, model, opts.strict ?? true, file);
    try {
      opts.optimizer.loadStateDict(sd);
    } catch (e) {
      opts.model.loadStateDict(backup, { strict: false });
      throw new Error(`loadCheckpoint ${file}: ${(e as Error).message}`, { cause: e });
    }
  } else {
    loadInto(opts.model, model, opts.strict ?? true, file);
  }
  const extra = metadata[META_EXTRA];
  return extra === undefined ? undefined : (fromJson(file, 'extra', extra) as Record<string, unknown>);
}
