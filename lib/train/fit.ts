// A training loop that shares the event loop: fit() runs epochs of forward / loss / backward / step
// over a loader, and every `yieldEveryMs` of work it awaits setImmediate, so HTTP requests, timers
// and I/O callbacks of the same process are served between batches. A batch itself is synchronous:
// the event-loop delay is bounded by yieldEveryMs plus the time of one step (keep batches small, or
// train in a worker_thread, when one step is slower than the latency you need).
// Around the loop, as in Keras/Lightning: validation, callbacks, early stopping, the best weights,
// an LR scheduler hook and a JSON-lines metrics log.
import { appendFileSync, writeFileSync } from 'node:fs';
import type { Tensor } from '../tensor.js';
import { fmt } from '../shape.js';
import { clipGradNorm } from '../nn/clip.js';
import { save, type StateDictModule } from '../io/save.js';
import { countCorrect, evaluate, lossFunction, type PredictModel } from './evaluate.js';
import { Monitor, type MonitorOptions } from './monitor.js';

/** The part of a model fit needs (nn.Module satisfies it). */
export interface FitModel extends PredictModel {
  parameters?(): Tensor[];
  stateDict?(): Record<string, Tensor>;
  loadStateDict?(sd: Record<string, Tensor>, opts?: { strict?: boolean }): unknown;
}

/** The part of an optimizer fit needs (the optimizers of lib/optim satisfy it). */
export interface FitOptimizer {
  zeroGrad(): void;
  step(): void;
  lr?: number;
}

/**
 * An LR scheduler (or anything stepped once per epoch). fit calls `step()` after every epoch, or
 * `step(metric)` with the monitored value (default valLoss, else loss) when `needsMetric` is true,
 * e.g. a ReduceLROnPlateau; or `step()` after every optimizer step instead when `perBatch` is true
 * (OneCycleLR).
 */
export interface FitScheduler {
  step(metric?: number): void;
  needsMetric?: boolean;
  perBatch?: boolean;
}

/** A loss module (nn.CrossEntropyLoss, nn.MSELoss, ...) or a function (output, target) → scalar Tensor. */
export type FitLoss = ((output: Tensor, target: any) => Tensor) | { forward(output: Tensor, target: any): Tensor };

/** A batch: [input, target] (checked at run time; a DataLoader yields Tensor[]). */
type Batch = readonly [Tensor, unknown, ...unknown[]] | readonly Tensor[];

/** What fit iterates: batches [input, target] (a DataLoader, an array, any (async) iterable). */
export type FitLoader = Iterable<Batch> | AsyncIterable<Batch>;

export interface BatchLogs {
  /** Epoch, from 1. */
  epoch: number;
  epochs: number;
  /** Batches done in this epoch (1 after its first). */
  batch: number;
  /** Batches per epoch when the loader has a length (a DataLoader does). */
  batches?: number;
  /** Optimizer steps taken so far in this call (1 after the first batch). */
  step: number;
  /** Loss of this batch. */
  loss: number;
  /** optimizer.lr of this batch's step. */
  lr?: number;
  /** With clipGradNorm: the total gradient norm of this batch before clipping. */
  gradNorm?: number;
  /** Mean loss per sample of the epoch so far, and its accuracy for classification batches. */
  meanLoss: number;
  accuracy?: number;
  samplesPerSec: number;
}

/** What one epoch produced: what fit reports, logs as a JSON line and monitors (names as in Keras, camelCase). */
export interface EpochLogs {
  /** Epoch, from 1. */
  epoch: number;
  epochs: number;
  /** Mean training loss per sample. */
  loss: number;
  /** Training accuracy (classification: [n, classes] outputs and [n] class indices). */
  accuracy?: number;
  valLoss?: number;
  valAccuracy?: number;
  /** optimizer.lr during the epoch (at its first batch, for a per-batch scheduler). */
  lr?: number;
  batches: number;
  samples: number;
  seconds: number;
  samplesPerSec: number;
}

/** Where an aborted epoch stopped: pass it back as `resume` (with the same loader order) to continue it exactly. */
export interface PartialEpoch { batch: number; lossSum: number; correct: number; seen: number }

export interface FitOptions {
  lossFn: FitLoss;
  optimizer: FitOptimizer;
  /** Total epochs (default 1). */
  epochs?: number;
  /** Epochs already done (a resumed run; Keras' initial_epoch); training runs epochs initialEpoch+1 .. epochs. */
  initialEpoch?: number;
  /** Continue the epoch initialEpoch+1 after this many batches (a checkpoint's history.partial); the loader must give the same order. */
  resume?: PartialEpoch | null;
  /** Validation data, evaluated after every epoch without a graph: [x, y] tensors or batches. */
  validationData?: readonly [Tensor, Tensor] | Iterable<readonly unknown[]>;
  /** Yield to the event loop (setImmediate) once this much time has passed since the last yield (default 10; 0 = after every batch). */
  yieldEveryMs?: number;
  /** Abort to stop between two batches; fit then resolves with `aborted: true` and `partial`. */
  signal?: AbortSignal;
  /** Called after every optimizer step; may return a promise, which is awaited. `onBatch` is the older name. */
  onBatchEnd?: (logs: BatchLogs) => void | Promise<void>;
  onBatch?: (logs: BatchLogs) => void | Promise<void>;
  /** Called after every complete epoch (after validation and the scheduler); awaited. `onEpoch` is the older name. */
  onEpochEnd?: (logs: EpochLogs) => void | Promise<void>;
  onEpoch?: (logs: EpochLogs) => void | Promise<void>;
  /** Stop when the monitored value (default valLoss) has not improved by minDelta for `patience` epochs. */
  earlyStopping?: MonitorOptions & { patience?: number };
  /**
   * Keep the weights of the best epoch by the monitored value (default valLoss): restored when training
   * ends (default true), saved (atomically, with save()) to `file` at every improvement, and reported to onBest.
   */
  keepBest?: MonitorOptions & { restore?: boolean; file?: string; onBest?: (logs: EpochLogs) => void | Promise<void> };
  /** Stepped after every epoch (or batch): see FitScheduler. `schedulerMonitor` names the metric for needsMetric schedulers. */
  scheduler?: FitScheduler;
  schedulerMonitor?: string;
  /** Clip the gradients of model.parameters() to this total 2-norm between backward and the optimizer step (nn.utils.clipGradNorm). */
  clipGradNorm?: number;
  /** Append every epoch's logs as one JSON line to this file (truncated first unless initialEpoch > 0). */
  logFile?: string;
}

export interface FitHistory {
  /** Mean loss of every complete epoch, in order (like Keras' history.history.loss). */
  loss: number[];
  epochs: EpochLogs[];
  /** Optimizer steps taken (including those of an aborted epoch). */
  steps: number;
  /** True when the signal stopped training before all epochs were done. */
  aborted: boolean;
  /** Where the aborted epoch stopped, or null. */
  partial: PartialEpoch | null;
  /** The epoch after which early stopping ended training, or null. */
  stoppedEarly: number | null;
  /** The best epoch by keepBest's monitor, or null. */
  best: { epoch: number; value: number } | null;
  /** How many times fit yielded to the event loop. */
  yields: number;
  ms: number;
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function isAsyncIterable(x: unknown): x is AsyncIterable<unknown> {
  return x != null && typeof (x as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';
}
const isIterable = (x: unknown): boolean => x != null && typeof (x as Iterable<unknown>)[Symbol.iterator] === 'function';

function checkOptions(model: FitModel, loader: unknown, opts: FitOptions): void {
  if (!model || typeof model.forward !== 'function') throw new TypeError('fit: model must have a forward(x) method (an nn.Module)');
  if (typeof loader !== 'function' && !isIterable(loader) && !isAsyncIterable(loader)) {
    throw new TypeError('fit: loader must be an iterable of [input, target] batches (e.g. a DataLoader), or a function epoch => such an iterable');
  }
  if (!opts || typeof opts !== 'object') throw new TypeError('fit: options {lossFn, optimizer, ...} are required');
  const { optimizer, epochs = 1, initialEpoch = 0, yieldEveryMs = 10, signal, scheduler, keepBest, validationData, clipGradNorm: maxNorm } = opts;
  if (!optimizer || typeof optimizer.zeroGrad !== 'function' || typeof optimizer.step !== 'function') {
    throw new TypeError('fit: optimizer must have zeroGrad() and step() (e.g. new optim.SGD(model.parameters(), {lr}))');
  }
  if (!Number.isInteger(epochs) || epochs < 0) throw new RangeError(`fit: epochs must be a non-negative integer, got ${epochs}`);
  if (!Number.isInteger(initialEpoch) || initialEpoch < 0 || initialEpoch > epochs) throw new RangeError(`fit: initialEpoch must be an integer in [0, epochs ${epochs}], got ${initialEpoch}`);
  if (typeof yieldEveryMs !== 'number' || !(yieldEveryMs >= 0)) throw new RangeError(`fit: yieldEveryMs must be a number >= 0, got ${yieldEveryMs}`);
  if (signal !== undefined && (typeof signal !== 'object' || signal === null || typeof signal.aborted !== 'boolean')) {
    throw new TypeError('fit: signal must be an AbortSignal');
  }
  if (scheduler !== undefined && (!scheduler || typeof scheduler.step !== 'function')) throw new TypeError('fit: scheduler must have a step() method');
  if (scheduler?.perBatch && scheduler.needsMetric) throw new TypeError('fit: a scheduler cannot both step per batch (perBatch) and take an epoch metric (needsMetric)');
  if (maxNorm !== undefined) {
    if (typeof maxNorm !== 'number' || !(maxNorm > 0) || !Number.isFinite(maxNorm)) throw new RangeError(`fit: clipGradNorm must be a finite number > 0, got ${String(maxNorm)}`);
    if (typeof model.parameters !== 'function') throw new TypeError('fit: clipGradNorm needs a model with parameters() (an nn.Module)');
  }
  if (keepBest && (typeof model.stateDict !== 'function' || typeof model.loadStateDict !== 'function')) throw new TypeError('fit: keepBest needs a model with stateDict()/loadStateDict() (an nn.Module)');
  if (validationData !== undefined && !isIterable(validationData)) throw new TypeError('fit: validationData must be [x, y] tensors or an iterable of batches');
}

/**
 * Train `model` on `loader` for `epochs` epochs, yielding to the event loop every `yieldEveryMs`.
 * `loader` may be a function of the epoch index (0-based) returning that epoch's batches. Resolves
 * with the history; rejects with the first error of a step or callback (nothing is swallowed).
 *
 * ```ts
 * const h = await fit(model, loader, {
 *   lossFn: new nn.CrossEntropyLoss(), optimizer: opt, epochs: 50, validationData: [xVal, yVal],
 *   earlyStopping: { monitor: 'valLoss', patience: 5 }, keepBest: { monitor: 'valAccuracy' },
 *   onEpochEnd: (logs) => console.log(logs), logFile: 'metrics.jsonl', signal: ac.signal,
 * });
 * ```
 */
export async function fit(model: FitModel, loader: FitLoader | ((epoch: number) => FitLoader), opts: FitOptions): Promise<FitHistory> {
  checkOptions(model, loader, opts);
  const {
    optimizer, epochs = 1, initialEpoch = 0, yieldEveryMs = 10, signal, validationData, scheduler, logFile,
    earlyStopping, keepBest, clipGradNorm: maxNorm,
  } = opts;
  const loss = lossFunction(opts.lossFn);
  if (!loss) throw new TypeError('fit: lossFn must be a loss module (e.g. new nn.CrossEntropyLoss()) or a function (output, target) => Tensor');
  const onBatchEnd = opts.onBatchEnd ?? opts.onBatch, onEpochEnd = opts.onEpochEnd ?? opts.onEpoch;
  const stopper = earlyStopping ? new Monitor(earlyStopping, validationData !== undefined) : null;
  const bestMonitor = keepBest ? new Monitor(keepBest, validationData !== undefined) : null;
  const schedMonitor = scheduler?.needsMetric ? new Monitor({ monitor: opts.schedulerMonitor }, validationData !== undefined) : null;
  let bestState: Record<string, Tensor> | null = null;
  if (logFile && initialEpoch === 0) writeFileSync(logFile, '');

  const history: FitHistory = { loss: [], epochs: [], steps: 0, aborted: false, partial: null, stoppedEarly: null, best: null, yields: 0, ms: 0 };
  const t0 = performance.now();
  let lastYield = t0;
  const maybeYield = async (): Promise<void> => {
    if (performance.now() - lastYield < yieldEveryMs) return;
    await tick();
    history.yields++;
    lastYield = performance.now();
  };
  const wasTraining = model.training;

  try {
    let resume = opts.resume ?? null;
    for (let e = initialEpoch; e < epochs; e++) {
      if (signal?.aborted) return (history.aborted = true), history;
      model.train?.(true);
      const epochLoader = typeof loader === 'function' ? loader(e) : loader;
      if (!isIterable(epochLoader) && !isAsyncIterable(epochLoader)) throw new TypeError(`fit: the loader function returned no iterable for epoch ${e}`);
      const length = (epochLoader as { length?: unknown }).length;
      const batches = typeof length === 'number' ? length : undefined;
      const te = performance.now();
      const lr = optimizer.lr;
      let { batch, lossSum, correct, seen } = resume ?? { batch: 0, lossSum: 0, correct: 0, seen: 0 };
      let classify = true, b = 0, seenHere = 0;
      const skip = batch;
      resume = null;
      for await (const bt of epochLoader as AsyncIterable<readonly [Tensor, unknown, ...unknown[]]>) {
        if (b++ < skip) continue; // done before the interruption: same order, skipped
        if (!Array.isArray(bt) || bt.length < 2) throw new TypeError(`fit: epoch ${e + 1}, batch ${batch + 1}: expected [input, target], got ${Array.isArray(bt) ? `an array of ${bt.length}` : typeof bt}`);
        optimizer.zeroGrad();
        const out = model.forward(bt[0]);
        const l = loss(out, bt[1]);
        if (!l || typeof l.backward !== 'function' || l.size !== 1) {
          throw new TypeError(`fit: lossFn must return a scalar Tensor, got ${l && typeof l.backward === 'function' ? `shape ${fmt(l.shape)}` : typeof l}`);
        }
        l.backward();
        const gradNorm = maxNorm === undefined ? undefined : clipGradNorm(model.parameters!(), maxNorm);
        const stepLr = optimizer.lr;
        optimizer.step();
        if (scheduler?.perBatch) scheduler.step();
        const v = l.item(), n = bt[0].shape[0] ?? 1;
        const c = classify ? countCorrect(out, bt[1]) : null;
        if (c === null) classify = false;
        else correct += c;
        history.steps++;
        lossSum += v * n; seen += n; seenHere += n; batch++;
        if (onBatchEnd) {
          await onBatchEnd({
            epoch: e + 1, epochs, batch, ...(batches !== undefined && { batches }), step: history.steps, loss: v,
            ...(stepLr !== undefined && { lr: stepLr }), ...(gradNorm !== undefined && { gradNorm }),
            meanLoss: lossSum / seen, ...(classify && { accuracy: correct / seen }),
            samplesPerSec: seenHere / ((performance.now() - te) / 1000 || 1e-9),
          });
        }
        await maybeYield();
        if (signal?.aborted && (batches === undefined || batch < batches)) {
          history.partial = { batch, lossSum, correct, seen };
          return (history.aborted = true), history;
        }
      }
      const seconds = (performance.now() - te) / 1000;
      const logs: EpochLogs = {
        epoch: e + 1, epochs, loss: seen ? lossSum / seen : NaN, ...(classify && seen > 0 && { accuracy: correct / seen }),
        batches: batch, samples: seen, seconds, samplesPerSec: seenHere / (seconds || 1e-9),
      };
      if (validationData !== undefined) {
        const v = evaluate(model, validationData, loss);
        logs.valLoss = v.loss;
        if (v.accuracy !== undefined) logs.valAccuracy = v.accuracy;
      }
      if (lr !== undefined) logs.lr = lr;
      history.epochs.push(logs);
      history.loss.push(logs.loss);
      if (logFile) appendFileSync(logFile, `${JSON.stringify(logs)}\n`);
      if (scheduler && !scheduler.perBatch) schedMonitor ? scheduler.step(schedMonitor.value(logs)) : scheduler.step();
      if (bestMonitor?.improved(logs)) {
        history.best = { epoch: logs.epoch, value: bestMonitor.best };
        if (keepBest!.restore !== false) bestState = Object.fromEntries(Object.entries(model.stateDict!()).map(([k, t]) => [k, t.clone()]));
        if (keepBest!.file) save(model as StateDictModule, keepBest!.file, { metadata: { 'tapegrad.best': JSON.stringify(logs) } });
        await keepBest!.onBest?.(logs);
      }
      if (onEpochEnd) await onEpochEnd(logs);
      if (stopper && !stopper.improved(logs) && stopper.wait >= Math.max(1, earlyStopping!.patience ?? 0)) {
        history.stoppedEarly = logs.epoch;
        break;
      }
      await maybeYield();
      if (signal?.aborted && e + 1 < epochs) return (history.aborted = true), history;
    }
    if (bestState) model.loadStateDict!(bestState);
    return history;
  } finally {
    history.ms = performance.now() - t0;
    if (wasTraining !== undefined) model.train?.(wasTraining);
  }
}
