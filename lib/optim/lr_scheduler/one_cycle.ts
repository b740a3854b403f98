import { Optimizer } from '../optimizer.js';
import { EpochScheduler, checkNumber, checkPositiveInt, describeValue, schedulerOptions } from './scheduler.js';

export interface OneCycleLROptions {
  maxLr: number | number[];
  totalSteps?: number;
  epochs?: number;
  stepsPerEpoch?: number;
  pctStart?: number;
  annealStrategy?: 'cos' | 'linear';
  cycleMomentum?: boolean;
  baseMomentum?: number | number[];
  maxMomentum?: number | number[];
  divFactor?: number;
  finalDivFactor?: number;
  threePhase?: boolean;
}

type Point = 'initial' | 'max' | 'min';

/**
 * The 1cycle policy (Smith & Topin), stepped once per batch: the rate rises from maxLr/divFactor
 * to maxLr over pctStart of totalSteps and falls to initial/finalDivFactor (threePhase: back to the
 * initial rate first); the momentum (beta1 for Adam-like optimizers) moves the opposite way.
 */
export class OneCycleLR extends EpochScheduler {
  totalSteps: number;
  pctStart: number;
  annealStrategy: string;
  cycleMomentum: boolean;
  threePhase: boolean;
  useBeta1: boolean;
  maxLrs: number[];
  minLrs: number[];
  maxMomentums: number[];
  baseMomentums: number[];

  constructor(optimizer: Optimizer, opts: OneCycleLROptions) {
    const name = 'OneCycleLR';
    if (!(optimizer instanceof Optimizer)) throw new TypeError(`${name}: expected an optimizer (e.g. new optim.SGD(...)), got ${describeValue(optimizer)}`);
    const o = schedulerOptions(name, opts, {
      maxLr: undefined as unknown as number | number[], totalSteps: undefined as number | undefined, epochs: undefined as number | undefined,
      stepsPerEpoch: undefined as number | undefined, pctStart: 0.3, annealStrategy: 'cos' as string, cycleMomentum: true,
      baseMomentum: 0.85 as number | number[], maxMomentum: 0.95 as number | number[], divFactor: 25, finalDivFactor: 1e4, threePhase: false,
    }, ['maxLr']);
    const perGroup = (key: string, v: number | number[]): number[] => {
      const n = optimizer.paramGroups.length;
      const list = Array.isArray(v) ? v : Array.from({ length: n }, () => v);
      if (list.length !== n) throw new Error(`${name}: expected ${n} values for ${key} (one per param group), got ${list.length}`);
      list.forEach((x, i) => checkNumber(name, `${key}[${i}]`, x, (y) => y >= 0, 'a finite number >= 0'));
      return list.slice();
    };
    let total: number;
    if (o.totalSteps !== undefined) {
      checkPositiveInt(name, 'totalSteps', o.totalSteps);
      total = o.totalSteps;
    } else if (o.epochs !== undefined && o.stepsPerEpoch !== undefined) {
      checkPositiveInt(name, 'epochs', o.epochs);
      checkPositiveInt(name, 'stepsPerEpoch', o.stepsPerEpoch);
      total = o.epochs * o.stepsPerEpoch;
    } else {
      throw new Error(`${name}: give either totalSteps or (epochs and stepsPerEpoch)`);
    }
    checkNumber(name, 'pctStart', o.pctStart, (x) => x >= 0 && x <= 1, 'in [0, 1]');
    if (o.annealStrategy !== 'cos' && o.annealStrategy !== 'linear') throw new Error(`${name}: annealStrategy must be 'cos' or 'linear', got ${JSON.stringify(o.annealStrategy)}`);
    checkNumber(name, 'divFactor', o.divFactor, (x) => x > 0, 'a finite number > 0');
    checkNumber(name, 'finalDivFactor', o.finalDivFactor, (x) => x > 0, 'a finite number > 0');
    for (const k of ['cycleMomentum', 'threePhase'] as const) if (typeof o[k] !== 'boolean') throw new TypeError(`${name}: invalid ${k} ${String(o[k])} (must be a boolean)`);
    const maxLrs = perGroup('maxLr', o.maxLr);
    const initial = maxLrs.map((m) => m / o.divFactor);
    const group0 = optimizer.paramGroups[0] as unknown as Record<string, unknown>;
    const useBeta1 = 'betas' in group0;
    if (o.cycleMomentum && !useBeta1 && !('momentum' in group0)) throw new Error(`${name}: cycleMomentum needs an optimizer with momentum or betas (e.g. SGD, Adam); pass cycleMomentum: false`);
    const maxMomentums = o.cycleMomentum ? perGroup('maxMomentum', o.maxMomentum) : [];
    const baseMomentums = o.cycleMomentum ? perGroup('baseMomentum', o.baseMomentum) : [];
    super(optimizer, initial);
    this.totalSteps = total;
    this.pctStart = o.pctStart;
    this.annealStrategy = o.annealStrategy;
    this.cycleMomentum = o.cycleMomentum;
    this.threePhase = o.threePhase;
    this.useBeta1 = useBeta1;
    this.maxLrs = maxLrs;
    this.minLrs = initial.map((lr) => lr / o.finalDivFactor);
    this.maxMomentums = maxMomentums;
    this.baseMomentums = baseMomentums;
    if (this.cycleMomentum) this.optimizer.paramGroups.forEach((_g, i) => this.setMomentum(i, maxMomentums[i]));
    this.initialStep();
  }

  override get perBatch(): boolean {
    return true;
  }

  protected override groupKeys(): string[] {
    return [...super.groupKeys(), 'maxLrs', 'minLrs', ...(this.cycleMomentum ? ['maxMomentums', 'baseMomentums'] : [])];
  }

  private setMomentum(i: number, m: number): void {
    const g = this.optimizer.paramGroups[i] as unknown as Record<string, unknown>;
    if (this.useBeta1) g.betas = [m, ...(g.betas as number[]).slice(1)];
    else g.momentum = m;
  }

  /** PyTorch's _schedule_phases: [end step, lr from, lr to, momentum from, momentum to]. */
  private phases(): [number, Point, Point, 'max' | 'base', 'max' | 'base'][] {
    const n = this.totalSteps, p = this.pctStart;
    if (this.threePhase) {
      return [[p * n - 1, 'initial', 'max', 'max', 'base'], [2 * p * n - 2, 'max', 'initial', 'base', 'max'], [n - 1, 'initial', 'min', 'max', 'max']];
    }
    return [[p * n - 1, 'initial', 'max', 'max', 'base'], [n - 1, 'max', 'min', 'base', 'max']];
  }

  private anneal(start: number, end: number, pct: number): number {
    if (this.annealStrategy === 'linear') return (end - start) * pct + start;
    return end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1);
  }

  protected getLr(): number[] {
    const stepNum = this.lastEpoch;
    if (stepNum > this.totalSteps) {
      throw new Error(`OneCycleLR.step: tried to step ${stepNum + 1} times; the schedule has totalSteps = ${this.totalSteps} (steps are batches: totalSteps = epochs × stepsPerEpoch)`);
    }
    const phases = this.phases();
    return this.optimizer.paramGroups.map((_g, i) => {
      const lr = { initial: this.baseLrs[i], max: this.maxLrs[i], min: this.minLrs[i] };
      const mom = { max: this.maxMomentums[i], base: this.baseMomentums[i] };
      let start = 0;
      for (let k = 0; k < phases.length; k++) {
        const [end, lr0, lr1, m0, m1] = phases[k];
        if (stepNum <= end || k === phases.length - 1) {
          const pct = (stepNum - start) / (end - start);
          if (this.cycleMomentum) this.setMomentum(i, this.anneal(mom[m0], mom[m1], pct));
          return this.anneal(lr[lr0], lr[lr1], pct);
        }
        start = end;
      }
      throw new Error('unreachable');
    });
  }
}
