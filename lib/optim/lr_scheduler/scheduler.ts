import { withDefaults, checkNumber } from '../../options.js';
import { Optimizer } from '../optimizer.js';

/** A scheduler's checkpointable state: plain JSON values (Infinity is kept by saveCheckpoint). */
export type SchedulerStateDict = Record<string, number | string | boolean | number[]>;

/**
 * What a training loop needs of a learning-rate scheduler: call step() once per epoch (or per batch
 * when perBatch is true, as OneCycleLR expects), passing the monitored metric when needsMetric is
 * true (ReduceLROnPlateau).
 */
export interface LRScheduler {
  readonly needsMetric: boolean;
  readonly perBatch: boolean;
  step(metric?: number): void;
  getLastLr(): number[];
  stateDict(): SchedulerStateDict;
  loadStateDict(sd: SchedulerStateDict): void;
}

/** Counters and sizes in a state dict: integers >= the given minimum. */
const INTEGERS: Record<string, number> = {
  lastEpoch: -1, stepCount: 0, numBadEpochs: 0, cooldownCounter: 0, stepSize: 1, tMax: 1, totalIters: 1, totalSteps: 1, patience: 0, cooldown: 0,
};
/** String options in a state dict: one of these. */
const CHOICES: Record<string, string[]> = { mode: ['min', 'max'], thresholdMode: ['rel', 'abs'], annealStrategy: ['cos', 'linear'] };

/** PyTorch's group['initial_lr'], set once per param group (setdefault) and shared by later schedulers. */
const initialLr = new WeakMap<object, number>();

/**
 * Base of the schedulers: the optimizer, the last rates, and a state dict holding every own field
 * but the optimizer (as PyTorch's __dict__). loadStateDict checks names and kinds before assigning.
 */
export abstract class SchedulerBase implements LRScheduler {
  lastLr: number[];

  constructor(readonly optimizer: Optimizer) {
    if (!(optimizer instanceof Optimizer)) throw new TypeError(`${new.target.name}: expected an optimizer (e.g. new optim.SGD(...)), got ${describeValue(optimizer)}`);
    this.lastLr = this.groupLrs();
  }

  get name(): string {
    return this.constructor.name;
  }

  get needsMetric(): boolean {
    return false;
  }

  get perBatch(): boolean {
    return false;
  }

  abstract step(metric?: number): void;

  /** The learning rates of the param groups after the last step. */
  getLastLr(): number[] {
    return this.lastLr.slice();
  }

  protected groupLrs(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  protected setLrs(lrs: number[]): void {
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = lrs[i]));
    this.lastLr = this.groupLrs();
  }

  /** Fields holding one value per param group (their length is checked on load). */
  protected groupKeys(): string[] {
    return ['lastLr'];
  }

  stateDict(): SchedulerStateDict {
    const sd: SchedulerStateDict = {};
    for (const [k, v] of Object.entries(this)) if (k !== 'optimizer') sd[k] = Array.isArray(v) ? v.slice() : v;
    return sd;
  }

  loadStateDict(sd: SchedulerStateDict): void {
    const what = `${this.name}.loadStateDict`;
    if (!sd || typeof sd !== 'object' || Array.isArray(sd)) throw new TypeError(`${what}: expected an object as returned by stateDict()`);
    const own = this.stateDict();
    const groups = new Set(this.groupKeys());
    for (const k of Object.keys(sd)) if (!Object.hasOwn(own, k)) throw new Error(`${what}: unknown key '${k}' (keys: ${Object.keys(own).join(', ')})`);
    for (const [k, cur] of Object.entries(own)) {
      if (!Object.hasOwn(sd, k)) throw new Error(`${what}: the state dict lacks '${k}'`);
      const v = sd[k];
      const bad = (rule: string): never => { throw new TypeError(`${what}: invalid '${k}' ${JSON.stringify(v)} (must be ${rule})`); };
      if (Array.isArray(cur)) {
        if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && !Number.isNaN(x))) bad('an array of numbers');
        if (groups.has(k) && ((v as number[]).length !== cur.length || !(v as number[]).every(Number.isFinite))) bad(`${cur.length} finite numbers, one per param group`);
      } else if (typeof v !== typeof cur || Number.isNaN(v)) {
        bad(`a ${typeof cur}`);
      } else if (k in INTEGERS && !(Number.isInteger(v) && (v as number) >= INTEGERS[k])) {
        bad(`an integer >= ${INTEGERS[k]}`);
      } else if (k in CHOICES && !CHOICES[k].includes(v as string)) {
        bad(`one of ${CHOICES[k].join(', ')}`);
      }
    }
    for (const [k, v] of Object.entries(sd)) Object.assign(this, { [k]: Array.isArray(v) ? v.slice() : v });
  }
}

/**
 * PyTorch's _LRScheduler: step() counts epochs (lastEpoch starts at 0 after the constructor's
 * initial step) and sets each group's rate to getLr(), the chainable (recursive) form of 1.13.
 */
export abstract class EpochScheduler extends SchedulerBase {
  lastEpoch = -1;
  stepCount = 0;
  baseLrs: number[];

  constructor(optimizer: Optimizer, initialLrs?: number[]) {
    super(optimizer);
    this.optimizer.paramGroups.forEach((g, i) => {
      if (initialLrs) initialLr.set(g, initialLrs[i]);
      else if (!initialLr.has(g)) initialLr.set(g, g.lr);
    });
    this.baseLrs = this.optimizer.paramGroups.map((g) => initialLr.get(g)!);
  }

  /** The constructor's step (called by each subclass once its fields are set). */
  protected initialStep(): void {
    this.step();
  }

  protected abstract getLr(): number[];

  step(metric?: number): void {
    if (metric !== undefined) throw new TypeError(`${this.name}.step: takes no metric (only ReduceLROnPlateau does), got ${describeValue(metric)}`);
    this.stepCount++;
    this.lastEpoch++;
    this.setLrs(this.getLr());
  }

  protected override groupKeys(): string[] {
    return ['lastLr', 'baseLrs'];
  }
}

/** Options over defaults (unknown names rejected); `required` names must be given. */
export function schedulerOptions<T extends Record<string, unknown>>(name: string, given: object | undefined, defaults: T, required: string[] = []): T {
  const o = withDefaults(name, given, defaults);
  for (const k of required) if (o[k] === undefined) throw new Error(`${name}: option '${k}' is required`);
  return o;
}

export function checkPositiveInt(name: string, key: string, v: unknown): void {
  checkNumber(name, key, v, (x) => Number.isInteger(x) && x > 0, 'a positive integer');
}

export { checkNumber };

export function describeValue(v: unknown): string {
  return v === null ? 'null' : typeof v === 'object' ? (v.constructor?.name ?? 'object') : `${typeof v} ${String(v)}`;
}
