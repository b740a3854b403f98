// The worker_threads entry of trainInWorker (lib/train/worker.ts): builds the training from the spec,
// runs fit(), and posts progress, then the trained state dict (buffers transferred) or the error.
// Cancelling: the main thread sets a shared flag, checked after every batch; the worker then writes
// a checkpoint to the caller's path and reports it.
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { saveCheckpoint } from '../io/save.js';
import { fit, type FitHistory } from './fit.js';
import { buildTraining, toWire, transferList, type WireSpec, type WireTensor } from './worker-spec.js';

/** workerData of the entry. */
export interface WorkerInput { spec: WireSpec; cancel: Int32Array; checkpoint: string | null; progressEveryMs: number; nice: number }

/** What the worker posts: progress (many), then exactly one of done / aborted / error. */
export type WorkerMessage =
  | { kind: 'batch' | 'epoch'; logs: Record<string, unknown> }
  | { kind: 'done'; state: Record<string, WireTensor>; history: FitHistory }
  | { kind: 'aborted'; checkpoint: string | null; history: FitHistory }
  | { kind: 'error'; error: unknown };

async function run({ spec, cancel, checkpoint, progressEveryMs, nice }: WorkerInput): Promise<void> {
  // Linux: the nice value is per thread, and who = 0 is the calling thread (elsewhere it would be the whole process)
  if (nice !== 0 && process.platform === 'linux') setPriority(0, nice);
  const post = (m: WorkerMessage, transfer: ArrayBuffer[] = []): void => parentPort!.postMessage(m, transfer);
  const { model, loader, optimizer, scheduler, fitOptions } = await buildTraining(spec);
  const ac = new AbortController();
  const checkCancel = (): void => { if (Atomics.load(cancel, 0) !== 0 && !ac.signal.aborted) ac.abort(); };
  checkCancel();
  let lastBatchPost = 0;
  const history = await fit(model, loader, {
    ...fitOptions,
    signal: ac.signal,
    onBatchEnd: (logs) => {
      const now = performance.now();
      if (now - lastBatchPost >= progressEveryMs) {
        lastBatchPost = now;
        post({ kind: 'batch', logs: { ...logs } });
      }
      checkCancel();
    },
    onEpochEnd: (logs) => post({ kind: 'epoch', logs: { ...logs } }),
  });
  if (history.aborted) {
    if (checkpoint) {
      saveCheckpoint(checkpoint, {
        model, optimizer, ...(scheduler && { scheduler }),
        extra: { epochsDone: history.epochs.length, partial: history.partial, steps: history.steps, seed: spec.seed ?? null },
      });
    }
    post({ kind: 'aborted', checkpoint, history });
    return;
  }
  const state = Object.fromEntries(Object.entries(model.stateDict()).map(([k, t]) => [k, toWire(t, k)]));
  post({ kind: 'done', state, history }, transferList(Object.values(state), false));
}

try {
  await run(workerData as WorkerInput);
} catch (e) {
  try {
    parentPort!.postMessage({ kind: 'error', error: e } satisfies WorkerMessage);
  } catch {
    parentPort!.postMessage({ kind: 'error', error: new Error(String((e as Error)?.message ?? e)) } satisfies WorkerMessage);
  }
}
