// Saving and loading models and training checkpoints as safetensors files. Writes are atomic: a temp
// file in the target's directory is written, fsynced and renamed over the target, so a crash or error
// mid-save never leaves a half-written file where the previous one was.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { Tensor, isTensor } from '../tensor.js';
import { decodeFrom, encodeSafetensors, type DecodeOptions, type SafetensorsContent } from './safetensors.js';
import type { OptimizerStateDict } from '../optim/optimizer.js';
import type { SchedulerStateDict } from '../optim/lr_scheduler/scheduler.js';

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

/** What checkpoints need of a learning-rate scheduler (optim.lrScheduler's satisfy it): JSON-able state. */
export interface StatefulScheduler {
  stateDict(): SchedulerStateDict;
  loadStateDict(sd: SchedulerStateDict): unknown;
}

export type ReadOptions = Omit<DecodeOptions, 'source'>;

/**
 * Read and validate a safetensors file: the header first, then exactly the byte ranges of the
 * tensors, each into its own array (the file is never read whole; its size is checked first).
 */
export function readSafetensors(file: string, opts: ReadOptions = {}): SafetensorsContent {
  const cannot = (e: unknown): Error => new Error(`safetensors ${file}: cannot read file: ${(e as Error).message}`, { cause: e });
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw cannot(e);
  }
  try {
    let size: number;
    try { size = fs.fstatSync(fd).size; } catch (e) { throw cannot(e); }
    const read = (pos: number, len: number): Uint8Array => {
      const out = new Uint8Array(len);
      for (let off = 0; off < len;) {
        let got: number;
        try { got = fs.readSync(fd, out, off, len - off, pos + off); } catch (e) { throw cannot(e); }
        if (got === 0) throw new Error(`safetensors ${file}: the file shrank while it was read (${pos + off} of ${size} bytes)`);
        off += got;
      }
      return out;
    };
    return decodeFrom({ size, read, owned: true }, { ...opts, source: file });
  } finally {
    fs.closeSync(fd);
  }
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
  writeSafetensors(file, stateOf(module, file), { format: 'pt', ...architectureOf(module), ...opts.metadata });
}

/** Metadata key of a Sequential's layer list (nn.Sequential.architecture()), recorded by save and saveCheckpoint. */
export const META_SEQUENTIAL = 'tapegrad.sequential';

function architectureOf(module: StateDictModule): Record<string, string> {
  const spec = (module as { architecture?: () => unknown }).architecture?.();
  return spec ? { [META_SEQUENTIAL]: JSON.stringify(spec) } : {};
}

function stateOf(module: StateDictModule, file: string): Record<string, Tensor> {
  try {
    return module.stateDict();
  } catch (e) {
    throw new Error(`save ${file}: ${(e as Error).message} (the previous file, if any, is unchanged)`, { cause: e });
  }
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
const META_OPTIM = 'tapegrad.optimizer', META_SCHED = 'tapegrad.scheduler', META_EXTRA = 'tapegrad.extra', META_KIND = 'tapegrad.checkpoint';
const META_DIGEST = 'tapegrad.sha256';

/**
 * SHA-256 over a checkpoint's tensors (name, dtype, shape, bytes) and metadata (except the digest
 * itself), in sorted name order. Stored by saveCheckpoint and checked by loadCheckpoint: it catches a
 * file edited or damaged after it was written (a hand-edited architecture, a flipped byte). It is
 * not a signature: whoever can write the file can recompute it.
 */
export function checkpointDigest(tensors: Record<string, Tensor>, metadata: Record<string, string>): string {
  const h = createHash('sha256');
  for (const k of Object.keys(tensors).sort()) {
    const t = tensors[k];
    h.update(JSON.stringify([k, t.dtype, t.shape]));
    h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  for (const k of Object.keys(metadata).sort()) if (k !== META_DIGEST) h.update(JSON.stringify([k, metadata[k]]));
  return h.digest('hex');
}

/**
 * Save a training checkpoint: model tensors as `model.<name>`, optimizer tensor state as
 * `optim.<i>.<key>`, the rest of the optimizer state, the scheduler's state and `extra` as JSON in
 * the metadata.
 */
export function saveCheckpoint(
  file: string,
  opts: { model: StateDictModule; optimizer?: StatefulOptimizer; scheduler?: StatefulScheduler; extra?: Record<string, unknown> },
): void {
  const tensors: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(stateOf(opts.model, file))) tensors[MODEL + k] = t;
  const metadata: Record<string, string> = { format: 'pt', [META_KIND]: '1', ...architectureOf(opts.model) };
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
  if (opts.scheduler) metadata[META_SCHED] = toJson(file, 'scheduler state', opts.scheduler.stateDict());
  if (opts.extra !== undefined) metadata[META_EXTRA] = toJson(file, 'extra', opts.extra);
  metadata[META_DIGEST] = checkpointDigest(tensors, metadata);
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

/**
 * Restore a checkpoint written by saveCheckpoint into the model (and optimizer, and scheduler: all
 * or nothing); returns `extra`.
 */
export function loadCheckpoint(
  file: string,
  opts: { model: StateDictModule; optimizer?: StatefulOptimizer; scheduler?: StatefulScheduler; strict?: boolean },
): Record<string, unknown> | undefined {
  const { tensors, metadata } = readSafetensors(file);
  if (metadata[META_KIND] === undefined) throw new Error(`loadCheckpoint ${file}: not a tapegrad checkpoint (no "${META_KIND}" metadata); use load() for plain model files`);
  // Names come from the file: null-prototype objects, so "__proto__" or "constructor" are just keys.
  const model: Record<string, Tensor> = Object.create(null);
  const optimTensors: [string, string, Tensor][] = [];
  for (const [k, t] of Object.entries(tensors)) {
    if (k.startsWith(MODEL)) model[k.slice(MODEL.length)] = t;
    else if (k.startsWith(OPTIM)) {
      const rest = k.slice(OPTIM.length), dot = rest.indexOf('.');
      if (dot <= 0 || !/^\d+$/.test(rest.slice(0, dot))) throw new Error(`loadCheckpoint ${file}: malformed optimizer tensor name ${JSON.stringify(k)} (expected optim.<index>.<key>)`);
      optimTensors.push([rest.slice(0, dot), rest.slice(dot + 1), t]);
    } else throw new Error(`loadCheckpoint ${file}: unexpected tensor ${JSON.stringify(k)} (expected model.* or optim.*)`);
  }
  const stored = metadata[META_DIGEST];
  if (stored === undefined) throw new Error(`loadCheckpoint ${file}: no "${META_DIGEST}" digest (written by an older tapegrad, or edited); it cannot be checked`);
  if (stored !== checkpointDigest(tensors, metadata)) throw new Error(`loadCheckpoint ${file}: the file was modified or damaged after it was written (its SHA-256 digest does not match); refusing to resume from it`);
  let sched: SchedulerStateDict | undefined;
  if (opts.scheduler) {
    const json = metadata[META_SCHED];
    if (json === undefined) throw new Error(`loadCheckpoint ${file}: the checkpoint has no scheduler state`);
    const parsed = fromJson(file, 'scheduler', json);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`loadCheckpoint ${file}: scheduler metadata is not an object`);
    sched = Object.assign(Object.create(null), parsed) as SchedulerStateDict;
  }
  if (opts.optimizer || sched) {
    let sd: OptimizerStateDict | undefined;
    if (opts.optimizer) {
      const json = metadata[META_OPTIM];
      if (json === undefined) throw new Error(`loadCheckpoint ${file}: the checkpoint has no optimizer state`);
      const parsed = fromJson(file, 'optimizer', json) as OptimizerStateDict;
      if (!parsed || typeof parsed !== 'object' || typeof parsed.state !== 'object' || parsed.state === null || !Array.isArray(parsed.paramGroups)) {
        throw new Error(`loadCheckpoint ${file}: optimizer metadata lacks state/paramGroups`);
      }
      const state: OptimizerStateDict['state'] = Object.create(null);
      for (const [i, s] of Object.entries(parsed.state)) {
        if (typeof s !== 'object' || s === null) throw new Error(`loadCheckpoint ${file}: optimizer state of parameter ${JSON.stringify(i)} is not an object`);
        state[i] = Object.assign(Object.create(null), s);
      }
      for (const [i, key, t] of optimTensors) (state[i] ??= Object.create(null))[key] = t;
      sd = { state, paramGroups: parsed.paramGroups };
    }
    // all or nothing: if the optimizer or scheduler rejects its state, put the previous values back
    const backup = Object.fromEntries(Object.entries(opts.model.stateDict()).map(([k, t]) => [k, t.clone()]));
    const optimBackup = sd && sched ? opts.optimizer!.stateDict() : undefined;
    loadInto(opts.model, model, opts.strict ?? true, file);
    try {
      if (sd) opts.optimizer!.loadStateDict(sd);
      if (sched) opts.scheduler!.loadStateDict(sched);
    } catch (e) {
      opts.model.loadStateDict(backup, { strict: false });
      if (optimBackup) opts.optimizer!.loadStateDict(optimBackup);
      throw new Error(`loadCheckpoint ${file}: ${(e as Error).message}`, { cause: e });
    }
  } else {
    loadInto(opts.model, model, opts.strict ?? true, file);
  }
  const extra = metadata[META_EXTRA];
  return extra === undefined ? undefined : (fromJson(file, 'extra', extra) as Record<string, unknown>);
}
