// trainInWorker: fit() in a worker_threads Worker, so a server's event loop only relays messages.
// Tensors go in and the trained weights come back as transferred ArrayBuffers (no element copies).
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { Tensor } from '../tensor.js';
import { getBackend } from '../backend/index.js';
import type { BatchLogs, EpochLogs, FitHistory } from './fit.js';
import { buildModel, fromWire, resolveModuleFile, toWire, transferList, type DataSpec, type WireData, type WireSpec, type TrainableModel, type WireTensor, type WorkerTrainSpec } from './worker-spec.js';
import type { WorkerInput, WorkerMessage } from './worker-entry.js';

export type WorkerProgress = ({ kind: 'batch' } & BatchLogs) | ({ kind: 'epoch' } & EpochLogs);

export interface TrainInWorkerOptions {
  /** Abort to stop after the current batch: the checkpoint is written, and the promise rejects with an AbortError. */
  signal?: AbortSignal;
  /** Every epoch's logs, and batch logs at most every progressEveryMs (default 100). */
  onProgress?: (p: WorkerProgress) => void;
  progressEveryMs?: number;
  /** Where a cancelled run saves its checkpoint (saveCheckpoint: model, optimizer, scheduler, progress in `extra`). */
  checkpoint?: string;
  /**
   * Transfer the data tensors' buffers to the worker instead of copying them once (default false).
   * true saves the copy, but the caller's tensors are detached (size 0) after the call, and detaching
   * any ArrayBuffer makes V8 check every later typed-array access in this thread for detachment:
   * measured here, a Float32Array loop ran 1.8× slower for the rest of the process.
   */
  transfer?: boolean;
  /**
   * Nice value of the training thread on Linux (default 10; 0 leaves it as is): the CPU scheduler then
   * prefers the event loop's thread when both want a core. Ignored on other platforms (it would apply to the whole process).
   */
  nice?: number;
}

export interface TrainInWorkerResult {
  /** The model rebuilt in this thread with the trained weights (from the architecture, or by calling the module's factory). */
  model: TrainableModel;
  /** The trained state dict (the tensors the model holds). */
  stateDict: Record<string, Tensor>;
  history: FitHistory;
}

/** The error a cancelled run rejects with (name 'AbortError', like fetch's). */
export class TrainingAbortedError extends Error {
  override name = 'AbortError';
  constructor(readonly checkpoint: string | null, readonly history: FitHistory) {
    super(`trainInWorker: aborted after ${history.steps} steps (${history.epochs.length} complete epochs); ${checkpoint ? `checkpoint saved to ${checkpoint}` : 'no checkpoint written (no checkpoint option)'}`);
  }
}

// Compiled: dist/train/worker-entry.js next to this file. From the TypeScript sources (vitest, tools
// with TAPEGRAD_SRC=1), the worker runs worker-entry.ts through tools/ts-register.mjs.
function entry(): { url: URL; execArgv?: string[] } {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return { url: new URL('./worker-entry.js', here) };
  return { url: new URL('./worker-entry.ts', here), execArgv: ['--import', fileURLToPath(new URL('../../tools/ts-register.mjs', here))] };
}

function wireData(d: DataSpec, what: string, wires: WireTensor[]): WireData {
  if (Array.isArray(d)) {
    if (d.length !== 2) throw new TypeError(`trainInWorker: spec.${what} must be [x, y] tensors or {csv, target}`);
    const w: [WireTensor, WireTensor] = [toWire(d[0], `spec.${what}[0]`), toWire(d[1], `spec.${what}[1]`)];
    wires.push(...w);
    return w;
  }
  const c = d as Extract<DataSpec, { csv: string }>;
  if (!c || typeof c.csv !== 'string') throw new TypeError(`trainInWorker: spec.${what} must be [x, y] tensors or {csv, target}`);
  return { ...c, csv: resolve(c.csv) };
}

function abortError(signal: AbortSignal): Error {
  const e = new Error(`trainInWorker: aborted before training started${signal.reason !== undefined ? ` (${String(signal.reason)})` : ''}`);
  e.name = 'AbortError';
  return e;
}

/**
 * Train in a worker thread with the library's fit(); resolves with `{model, stateDict, history}`.
 * The worker seeds (manualSeed(seed)), builds the model, then the DataLoader (shuffled with `seed`),
 * so it gives the same weights as the same fit() in this thread. Errors in the worker reject with
 * their message; the worker is terminated in every case.
 *
 * ```ts
 * const { model, history } = await trainInWorker({
 *   model: { mlp: { inFeatures: 4, hidden: [16], outFeatures: 3, activation: 'relu' } },
 *   data: [x, y], loss: 'CrossEntropyLoss', optimizer: { name: 'Adam', options: { lr: 1e-2 } },
 *   epochs: 20, batchSize: 16, seed: 0,
 * }, { signal: ac.signal, checkpoint: 'runs/job.ckpt.safetensors', onProgress: (p) => console.log(p) });
 * ```
 */
export async function trainInWorker(spec: WorkerTrainSpec, opts: TrainInWorkerOptions = {}): Promise<TrainInWorkerResult> {
  if (!spec || typeof spec !== 'object') throw new TypeError('trainInWorker: spec must be an object {model, data, loss, optimizer, epochs, ...}');
  const { signal, onProgress, progressEveryMs = 100, checkpoint, transfer = false, nice = 10 } = opts;
  if (!Number.isInteger(nice) || nice < 0 || nice > 19) throw new RangeError(`trainInWorker: nice must be an integer in [0, 19], got ${nice}`);
  if (signal?.aborted) throw abortError(signal);
  const model = spec.model && 'module' in spec.model ? { ...spec.model, module: resolveModuleFile(spec.model.module) } : spec.model;
  const wires: WireTensor[] = [];
  const { data, validationData, ...rest } = spec;
  const wire: WireSpec = {
    ...rest, model, backend: spec.backend ?? getBackend(),
    data: wireData(data, 'data', wires),
    ...(validationData !== undefined && { validationData: wireData(validationData, 'validationData', wires) }),
    ...(spec.logFile && { logFile: resolve(spec.logFile) }),
    ...(spec.keepBest?.file && { keepBest: { ...spec.keepBest, file: resolve(spec.keepBest.file) } }),
  };
  const cancel = new Int32Array(new SharedArrayBuffer(4));
  const input: WorkerInput = { spec: wire, cancel, checkpoint: checkpoint ? resolve(checkpoint) : null, progressEveryMs, nice };
  const { url, execArgv } = entry();
  const worker = new Worker(url, { workerData: input, transferList: transfer ? transferList(wires, true) : [], ...(execArgv && { execArgv }) });
  const onAbort = (): void => { Atomics.store(cancel, 0, 1); };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const msg = await new Promise<Exclude<WorkerMessage, { kind: 'batch' | 'epoch' }>>((res, rej) => {
      worker.on('message', (m: WorkerMessage) => {
        if (m.kind === 'batch' || m.kind === 'epoch') {
          try { onProgress?.({ kind: m.kind, ...m.logs } as WorkerProgress); } catch (e) { onAbort(); rej(e); }
        } else res(m as Exclude<WorkerMessage, { kind: 'batch' | 'epoch' }>);
      });
      worker.once('error', rej);
      worker.once('exit', (code) => rej(new Error(`trainInWorker: the worker exited (code ${code}) before it finished`)));
    });
    if (msg.kind === 'error') throw msg.error;
    if (msg.kind === 'aborted') throw new TrainingAbortedError(msg.checkpoint, msg.history);
    const stateDict = Object.fromEntries(Object.entries(msg.state).map(([k, w]) => [k, fromWire(w)]));
    const trained = await buildModel(model);
    trained.loadStateDict(stateDict);
    return { model: trained, stateDict: trained.stateDict(), history: msg.history };
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await worker.terminate();
  }
}
