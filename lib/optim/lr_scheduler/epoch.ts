// StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR and LinearLR in PyTorch 1.13's chainable
// form: each step updates the groups' current rates, so schedulers on one optimizer compose.
import type { Optimizer } from '../optimizer.js';
import { EpochScheduler, checkNumber, checkPositiveInt, schedulerOptions } from './scheduler.js';

export interface StepLROptions {
  stepSize: number;
  gamma?: number;
}

/** Multiply the rate by gamma every stepSize epochs. */
export class StepLR extends EpochScheduler {
  stepSize: number;
  gamma: number;

  constructor(optimizer: Optimizer, opts: StepLROptions) {
    super(optimizer);
    const o = schedulerOptions('StepLR', opts, { stepSize: undefined as unknown as number, gamma: 0.1 }, ['stepSize']);
    checkPositiveInt('StepLR', 'stepSize', o.stepSize);
    checkNumber('StepLR', 'gamma', o.gamma, (x) => x >= 0, 'a finite number >= 0');
    this.stepSize = o.stepSize;
    this.gamma = o.gamma;
    this.initialStep();
  }

  protected getLr(): number[] {
    const lrs = this.groupLrs();
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return lrs;
    return lrs.map((lr) => lr * this.gamma);
  }
}

export interface MultiStepLROptions {
  milestones: number[];
  gamma?: number;
}

/** Multiply the rate by gamma at each milestone epoch (a milestone listed k times: gamma^k). */
export class MultiStepLR extends EpochScheduler {
  milestones: number[];
  gamma: number;

  constructor(optimizer: Optimizer, opts: MultiStepLROptions) {
    super(optimizer);
    const o = schedulerOptions('MultiStepLR', opts, { milestones: undefined as unknown as number[], gamma: 0.1 }, ['milestones']);
    if (!Array.isArray(o.milestones) || !o.milestones.every((m) => Number.isInteger(m))) {
      throw new TypeError(`MultiStepLR: milestones must be an array of integers, got ${JSON.stringify(o.milestones)}`);
    }
    checkNumber('MultiStepLR', 'gamma', o.gamma, (x) => x >= 0, 'a finite number >= 0');
    this.milestones = o.milestones.slice().sort((a, b) => a - b);
    this.gamma = o.gamma;
    this.initialStep();
  }

  protected getLr(): number[] {
    const count = this.milestones.filter((m) => m === this.lastEpoch).length;
    const lrs = this.groupLrs();
    return count === 0 ? lrs : lrs.map((lr) => lr * this.gamma ** count);
  }
}

export interface ExponentialLROptions {
  gamma: number;
}

/** Multiply the rate by gamma every epoch. */
export class ExponentialLR extends EpochScheduler {
  gamma: number;

  constructor(optimizer: Optimizer, opts: ExponentialLROptions) {
    super(optimizer);
    const o = schedulerOptions('ExponentialLR', opts, { gamma: undefined as unknown as number }, ['gamma']);
    checkNumber('ExponentialLR', 'gamma', o.gamma, (x) => x >= 0, 'a finite number >= 0');
    this.gamma = o.gamma;
    this.initialStep();
  }

  protected getLr(): number[] {
    const lrs = this.groupLrs();
    return this.lastEpoch === 0 ? lrs : lrs.map((lr) => lr * this.gamma);
  }
}

export interface CosineAnnealingLROptions {
  tMax: number;
  etaMin?: number;
}

/**
 * Cosine annealing from the base rate to etaMin over tMax epochs, then back up (period 2·tMax),
 * computed recursively from the current rate as PyTorch 1.13 does (no restarts: see SGDR).
 */
export class CosineAnnealingLR extends EpochScheduler {
  tMax: number;
  etaMin: number;

  constructor(optimizer: Optimizer, opts: CosineAnnealingLROptions) {
    super(optimizer);
    const o = schedulerOptions('CosineAnnealingLR', opts, { tMax: undefined as unknown as number, etaMin: 0 }, ['tMax']);
    checkPositiveInt('CosineAnnealingLR', 'tMax', o.tMax);
    checkNumber('CosineAnnealingLR', 'etaMin', o.etaMin, (x) => x >= 0, 'a finite number >= 0');
    this.tMax = o.tMax;
    this.etaMin = o.etaMin;
    this.initialStep();
  }

  protected getLr(): number[] {
    const { lastEpoch: e, tMax: T, etaMin } = this;
    const lrs = this.groupLrs();
    if (e === 0) return lrs;
    if ((e - 1 - T) % (2 * T) === 0) return lrs.map((lr, i) => lr + ((this.baseLrs[i] - etaMin) * (1 - Math.cos(Math.PI / T))) / 2);
    return lrs.map((lr) => ((1 + Math.cos((Math.PI * e) / T)) / (1 + Math.cos((Math.PI * (e - 1)) / T))) * (lr - etaMin) + etaMin);
  }
}

export interface LinearLROptions {
  startFactor?: number;
  endFactor?: number;
  totalIters?: number;
}

/** Scale the rate linearly from startFactor·lr to endFactor·lr over totalIters epochs. */
export class LinearLR extends EpochScheduler {
  startFactor: number;
  endFactor: number;
  totalIters: number;

  constructor(optimizer: Optimizer, opts: LinearLROptions = {}) {
    super(optimizer);
    const o = schedulerOptions('LinearLR', opts, { startFactor: 1 / 3, endFactor: 1, totalIters: 5 });
    checkNumber('LinearLR', 'startFactor', o.startFactor, (x) => x > 0 && x <= 1, 'in (0, 1]');
    checkNumber('LinearLR', 'endFactor', o.endFactor, (x) => x >= 0 && x <= 1, 'in [0, 1]');
    checkPositiveInt('LinearLR', 'totalIters', o.totalIters);
    this.startFactor = o.startFactor;
    this.endFactor = o.endFactor;
    this.totalIters = o.totalIters;
    this.initialStep();
  }

  protected getLr(): number[] {
    const { lastEpoch: e, startFactor: s, endFactor: f, totalIters: n } = this;
    const lrs = this.groupLrs();
    if (e === 0) return lrs.map((lr) => lr * s);
    if (e > n) return lrs;
    return lrs.map((lr) => lr * (1 + (f - s) / (n * s + (e - 1) * (f - s))));
  }
}
