import type { Optimizer } from '../optimizer.js';
import { isTensor, type Tensor } from '../../tensor.js';
import { SchedulerBase, checkNumber, describeValue, schedulerOptions } from './scheduler.js';

export interface ReduceLROnPlateauOptions {
  mode?: 'min' | 'max';
  factor?: number;
  patience?: number;
  threshold?: number;
  thresholdMode?: 'rel' | 'abs';
  cooldown?: number;
  minLr?: number | number[];
  eps?: number;
}

/**
 * Multiply the rate by factor (not below minLr) when the metric passed to step(metric) has not
 * improved by threshold for more than patience epochs; then wait cooldown epochs. A reduction
 * smaller than eps is skipped.
 */
export class ReduceLROnPlateau extends SchedulerBase {
  mode: string;
  factor: number;
  patience: number;
  threshold: number;
  thresholdMode: string;
  cooldown: number;
  minLrs: number[];
  eps: number;
  best: number;
  numBadEpochs = 0;
  cooldownCounter = 0;
  lastEpoch = 0;

  constructor(optimizer: Optimizer, opts: ReduceLROnPlateauOptions = {}) {
    super(optimizer);
    const name = 'ReduceLROnPlateau';
    const o = schedulerOptions(name, opts, {
      mode: 'min' as string, factor: 0.1, patience: 10, threshold: 1e-4, thresholdMode: 'rel' as string, cooldown: 0, minLr: 0 as number | number[], eps: 1e-8,
    });
    if (o.mode !== 'min' && o.mode !== 'max') throw new Error(`${name}: mode must be 'min' or 'max', got ${JSON.stringify(o.mode)}`);
    if (o.thresholdMode !== 'rel' && o.thresholdMode !== 'abs') throw new Error(`${name}: thresholdMode must be 'rel' or 'abs', got ${JSON.stringify(o.thresholdMode)}`);
    checkNumber(name, 'factor', o.factor, (x) => x >= 0 && x < 1, 'in [0, 1)');
    checkNumber(name, 'patience', o.patience, (x) => Number.isInteger(x) && x >= 0, 'an integer >= 0');
    checkNumber(name, 'cooldown', o.cooldown, (x) => Number.isInteger(x) && x >= 0, 'an integer >= 0');
    checkNumber(name, 'threshold', o.threshold, (x) => x >= 0, 'a finite number >= 0');
    checkNumber(name, 'eps', o.eps, (x) => x >= 0, 'a finite number >= 0');
    const n = optimizer.paramGroups.length;
    const minLrs = Array.isArray(o.minLr) ? o.minLr.slice() : Array.from({ length: n }, () => o.minLr as number);
    if (minLrs.length !== n) throw new Error(`${name}: expected ${n} minLr values (one per param group), got ${minLrs.length}`);
    minLrs.forEach((x, i) => checkNumber(name, `minLr[${i}]`, x, (y) => y >= 0, 'a finite number >= 0'));
    this.mode = o.mode;
    this.factor = o.factor;
    this.patience = o.patience;
    this.threshold = o.threshold;
    this.thresholdMode = o.thresholdMode;
    this.cooldown = o.cooldown;
    this.minLrs = minLrs;
    this.eps = o.eps;
    this.best = o.mode === 'min' ? Infinity : -Infinity;
  }

  override get needsMetric(): boolean {
    return true;
  }

  protected override groupKeys(): string[] {
    return ['lastLr', 'minLrs'];
  }

  private isBetter(a: number): boolean {
    const { best, threshold: t } = this;
    if (this.mode === 'min') return this.thresholdMode === 'rel' ? a < best * (1 - t) : a < best - t;
    return this.thresholdMode === 'rel' ? a > best * (t + 1) : a > best + t;
  }

  /** One epoch's end with the monitored value (e.g. the validation loss; a one-element Tensor is read). */
  step(metric?: number | Tensor): void {
    if (isTensor(metric) && metric.size === 1) metric = metric.item();
    if (typeof metric !== 'number' || Number.isNaN(metric)) throw new TypeError(`ReduceLROnPlateau.step: needs the monitored metric as a number, e.g. step(valLoss); got ${describeValue(metric)}`);
    this.lastEpoch++;
    if (this.isBetter(metric)) {
      this.best = metric;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs++;
    }
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.numBadEpochs = 0;
    }
    if (this.numBadEpochs > this.patience) {
      this.optimizer.paramGroups.forEach((g, i) => {
        const newLr = Math.max(g.lr * this.factor, this.minLrs[i]);
        if (g.lr - newLr > this.eps) g.lr = newLr;
      });
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this.lastLr = this.groupLrs();
  }
}
