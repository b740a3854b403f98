// A monitored metric for early stopping, the best weights and plateau schedulers (Keras' monitor/mode/min_delta).
import type { EpochLogs } from './fit.js';

export interface MonitorOptions {
  /** An EpochLogs key: valLoss (default with validation data), loss (default without), valAccuracy, accuracy, ... */
  monitor?: string;
  /** min: lower is better; max: higher is better; auto (default): max for accuracies, else min. */
  mode?: 'min' | 'max' | 'auto';
  /** An improvement must exceed this (default 0). */
  minDelta?: number;
}

export class Monitor {
  readonly key: string;
  readonly sign: 1 | -1;
  readonly minDelta: number;
  best = Infinity;
  /** Epochs since the last improvement. */
  wait = 0;

  constructor(opts: MonitorOptions, hasValidation: boolean) {
    this.key = opts.monitor ?? (hasValidation ? 'valLoss' : 'loss');
    const mode = opts.mode ?? 'auto';
    if (!['min', 'max', 'auto'].includes(mode)) throw new RangeError(`fit: mode must be 'min', 'max' or 'auto', got ${JSON.stringify(mode)}`);
    const max = mode === 'max' || (mode === 'auto' && /acc/i.test(this.key));
    this.sign = max ? -1 : 1;
    this.best = max ? -Infinity : Infinity;
    this.minDelta = Math.abs(opts.minDelta ?? 0);
    if (!Number.isFinite(this.minDelta)) throw new RangeError(`fit: minDelta must be a finite number, got ${opts.minDelta}`);
    if (this.key.startsWith('val') && !hasValidation) throw new RangeError(`fit: cannot monitor '${this.key}' without validationData`);
  }

  /** The monitored value of an epoch (an error when the logs do not have it). */
  value(logs: EpochLogs): number {
    const v = (logs as unknown as Record<string, unknown>)[this.key];
    if (typeof v !== 'number') throw new RangeError(`fit: monitored metric '${this.key}' is not in the epoch logs (have ${Object.keys(logs).join(', ')})`);
    return v;
  }

  /** Whether this epoch improved on the best by more than minDelta; updates best and wait. */
  improved(logs: EpochLogs): boolean {
    const v = this.value(logs);
    if (this.sign * (this.best - v) > this.minDelta || (this.best === this.sign * Infinity && !Number.isNaN(v))) {
      this.best = v;
      this.wait = 0;
      return true;
    }
    this.wait++;
    return false;
  }
}
