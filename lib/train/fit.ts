// A training loop that shares the event loop: fit() runs epochs of forward / loss / backward / step
// over a loader, and every `yieldEveryMs` of work it awaits setImmediate, so HTTP requests, timers
// and I/O callbacks of the same process are served between batches. A batch itself is synchronous:
// the event-loop delay is bounded by yieldEveryMs plus the time of one step (keep batches small, or
// train in a worker_thread, when one step is slower than the latency you need).
import type { Tensor } from '../tensor.js';
import { fmt } from '../shape.js';

/** The part of a model fit needs (nn.Module satisfies it). */
export interface FitModel {
  forward(x: Tensor): Tensor;
  train?(mode?: boolean): unknown;
}

/** The part of an optimizer fit needs (the optimizers of lib/optim satisfy it). */
export interface FitOptimizer {
  zeroGrad(): void;
  step(): void;
}

/** A loss module (nn.CrossEntropyLoss, nn.MSELoss, ...) or a function (output, target) → scalar Tensor. */
export type FitLoss = ((output: Tensor, target: any) => Tensor) | { forward(output: Tensor, target: any): Tensor };

/** A batch: [input, target] (checked at run time; a DataLoader yields Tensor[]). */
type Batch = readonly [Tensor, unknown, ...unknown[]] | readonly Tensor[];

/** What fit iterates: batches [input, target] (a DataLoader, an array, any (async) iterable). */
export type FitLoader = Iterable<Batch> | AsyncIterable<Batch>;

export interface BatchInfo {
  epoch: number;
  /** Batch index within the epoch. */
  batch: number;
  /** Optimizer steps taken so far (1 after the first batch). */
  step: number;
  loss: number;
}

export interface EpochInfo {
  epoch: number;
  /** Mean batch loss of the epoch (weighted equally per batch). */
  loss: number;
  batches: number;
  ms: number;
}

export interface FitOptions {
  lossFn: FitLoss;
  optimizer: FitOptimizer;
  /** Passes over the loader (default 1). */
  epochs?: number;
  /** Yield to the event loop (setImmediate) once this much time has passed since the last yield (default 10; 0 = after every batch). */
  yieldEveryMs?: number;
  /** Abort to stop between two batches; fit then resolves with `aborted: true`. */
  signal?: AbortSignal;
  /** Called after every optimizer step; may return a promise, which is awaited. */
  onBatch?: (info: BatchInfo) => void | Promise<void>;
  /** Called after every complete epoch; may return a promise, which is awaited. */
  onEpoch?: (info: EpochInfo) => void | Promise<void>;
}

export interface FitHistory {
  /** Mean loss of every complete epoch, in order (like Keras' history.history.loss). */
  loss: number[];
  epochs: EpochInfo[];
  /** Optimizer steps taken (including those of an aborted epoch). */
  steps: number;
  /** True when the signal stopped training before all epochs were done. */
  aborted: boolean;
  /** How many times fit yielded to the event loop. */
  yields: number;
  ms: number;
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function isAsyncIterable(x: unknown): x is AsyncIterable<unknown> {
  return x != null && typeof (x as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';
}

/**
 * Train `model` on `loader` for `epochs` epochs, yielding to the event loop every `yieldEveryMs`.
 * Resolves with the history; rejects with the first error of a step (nothing is swallowed).
 *
 * ```ts
 * const ac = new AbortController();
 * const h = await fit(model, loader, { lossFn: new nn.CrossEntropyLoss(), optimizer: opt, epochs: 5, signal: ac.signal });
 * ```
 */
export async function fit(model: FitModel, loader: FitLoader, opts: FitOptions): Promise<FitHistory> {
  if (!model || typeof model.forward !== 'function') throw new TypeError('fit: model must have a forward(x) method (an nn.Module)');
  if (loader == null || (typeof (loader as Iterable<unknown>)[Symbol.iterator] !== 'function' && !isAsyncIterable(loader))) {
    throw new TypeError('fit: loader must be an iterable of [input, target] batches (e.g. a DataLoader)');
  }
  if (!opts || typeof opts !== 'object') throw new TypeError('fit: options {lossFn, optimizer, ...} are required');
  const { lossFn, optimizer, epochs = 1, yieldEveryMs = 10, signal, onBatch, onEpoch } = opts;
  const loss = typeof lossFn === 'function' ? lossFn
    : lossFn && typeof lossFn.forward === 'function' ? (o: Tensor, t: unknown) => lossFn.forward(o, t) : null;
  if (!loss) throw new TypeError('fit: lossFn must be a loss module (e.g. new nn.CrossEntropyLoss()) or a function (output, target) => Tensor');
  if (!optimizer || typeof optimizer.zeroGrad !== 'function' || typeof optimizer.step !== 'function') {
    throw new TypeError('fit: optimizer must have zeroGrad() and step() (e.g. new optim.SGD(model.parameters(), {lr}))');
  }
  if (!Number.isInteger(epochs) || epochs < 0) throw new RangeError(`fit: epochs must be a non-negative integer, got ${epochs}`);
  if (typeof yieldEveryMs !== 'number' || !(yieldEveryMs >= 0)) throw new RangeError(`fit: yieldEveryMs must be a number >= 0, got ${yieldEveryMs}`);
  if (signal !== undefined && (typeof signal !== 'object' || signal === null || typeof signal.aborted !== 'boolean')) {
    throw new TypeError('fit: signal must be an AbortSignal');
  }

  const history: FitHistory = { loss: [], epochs: [], steps: 0, aborted: false, yields: 0, ms: 0 };
  const t0 = performance.now();
  let lastYield = t0;
  const maybeYield = async (): Promise<void> => {
    if (performance.now() - lastYield < yieldEveryMs) return;
    await tick();
    history.yields++;
    lastYield = performance.now();
  };

  model.train?.(true);
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      if (signal?.aborted) return (history.aborted = true), history;
      const e0 = performance.now();
      let sum = 0, batches = 0;
      for await (const b of loader as AsyncIterable<readonly [Tensor, unknown, ...unknown[]]>) {
        if (signal?.aborted) return (history.aborted = true), history;
        if (!Array.isArray(b) || b.length < 2) throw new TypeError(`fit: epoch ${epoch}, batch ${batches}: expected [input, target], got ${Array.isArray(b) ? `an array of ${b.length}` : typeof b}`);
        optimizer.zeroGrad();
        const l = loss(model.forward(b[0]), b[1]);
        if (!l || typeof l.backward !== 'function' || l.size !== 1) {
          throw new TypeError(`fit: lossFn must return a scalar Tensor, got ${l && typeof l.backward === 'function' ? `shape ${fmt(l.shape)}` : typeof l}`);
        }
        l.backward();
        optimizer.step();
        const v = l.item();
        history.steps++;
        sum += v;
        if (onBatch) await onBatch({ epoch, batch: batches, step: history.steps, loss: v });
        batches++;
        await maybeYield();
      }
      const info: EpochInfo = { epoch, loss: batches ? sum / batches : NaN, batches, ms: performance.now() - e0 };
      history.epochs.push(info);
      history.loss.push(info.loss);
      if (onEpoch) await onEpoch(info);
      await maybeYield();
    }
    return history;
  } finally {
    history.ms = performance.now() - t0;
  }
}
