import { Tensor, isTensor, tensorInternals } from '../tensor.js';
import { enableGrad } from '../autograd/mode.js';
import { fmt, sameShape } from '../shape.js';

export { withDefaults, checkNumber } from '../options.js';

type Hyper = number | boolean | number[];

/** Hyperparameters every optimizer has; each optimizer adds its own (all set: defaults fill the gaps). */
export interface OptimizerOptions {
  lr: number;
}

/** Options as given by the user or a state dict: known names, values not validated yet. */
export type Unchecked<O> = { [K in keyof O]?: unknown };

/** One group of parameters with its hyperparameters (lr plus the optimizer's own). */
export type ParamGroup<O extends OptimizerOptions = OptimizerOptions> = O & { params: Tensor[] };

/** A group as given to the constructor: its params, and options overriding the defaults. */
export type ParamGroupSpec = { params: Iterable<Tensor> } & Record<string, unknown>;

export type Params = Iterable<Tensor> | ParamGroupSpec[];

/** Per-parameter state: Tensors (momentum / moment buffers) and numbers (step count). */
export type ParamState = Record<string, Tensor | number>;

/**
 * A checkpointable snapshot: state by parameter index (counting through all groups in order) and
 * each group's hyperparameters with the indices of its params. Tensors are copies.
 */
export interface OptimizerStateDict {
  state: Record<string, ParamState>;
  paramGroups: ({ params: number[] } & Record<string, Hyper>)[];
}

/** update() methods of our optimizers: they read the gradient without keeping it (autograd/pool.ts, rule 3). */
const keepsNoGrad = new WeakSet<object>();
export function updateKeepsNoGrad(update: object): void {
  keepsNoGrad.add(update);
}

/**
 * Base of the optimizers: holds param groups and per-parameter state; subclasses validate their
 * options and implement step(). Parameters are updated in place, so modules keep their tensors.
 */
export abstract class Optimizer<O extends OptimizerOptions = OptimizerOptions> {
  readonly paramGroups: ParamGroup<O>[] = [];
  readonly state = new Map<Tensor, ParamState>();

  constructor(params: Params, protected readonly defaults: O) {
    const list = Array.isArray(params) ? params : params && typeof (params as Iterable<Tensor>)[Symbol.iterator] === 'function' ? [...(params as Iterable<Tensor>)] : null;
    if (!list) throw new TypeError(`${this.name}: params must be an iterable of Tensors (e.g. model.parameters()) or an array of param groups`);
    if (list.length === 0) throw new Error(`${this.name}: got an empty parameter list`);
    const groups: ParamGroupSpec[] = isTensor(list[0]) ? [{ params: list as Tensor[] }] : (list as ParamGroupSpec[]);
    for (const g of groups) this.addParamGroup(g);
  }

  /** The optimizer's name in messages. */
  get name(): string {
    return this.constructor.name || 'Optimizer';
  }

  /** Learning rate of the first group; setting it sets every group's (for schedulers). */
  get lr(): number {
    return this.paramGroups[0].lr;
  }
  set lr(v: number) {
    this.checkOptions({ lr: v });
    for (const g of this.paramGroups) g.lr = v;
  }

  /** Every parameter, group by group. */
  get params(): Tensor[] {
    return this.paramGroups.flatMap((g) => g.params);
  }

  /** Add a group of parameters with its own options (missing ones come from the defaults). */
  addParamGroup(spec: ParamGroupSpec): void {
    if (typeof spec !== 'object' || spec === null || !('params' in spec)) {
      throw new TypeError(`${this.name}: a param group must be an object with a 'params' list`);
    }
    const { params, ...opts } = spec;
    const ps: Tensor[] = isTensor(params) ? [params] : [...params];
    const seen = new Set(this.params);
    ps.forEach((p, i) => {
      if (!isTensor(p)) throw new TypeError(`${this.name}: parameter ${i} of group ${this.paramGroups.length} is not a Tensor`);
      if (!p.isLeaf) throw new Error(`${this.name}: can't optimize a non-leaf tensor (parameter ${i}, shape ${fmt(p.shape)}); pass leaves, e.g. x.detach().requiresGrad_()`);
      if (p.dtype === 'int32') throw new TypeError(`${this.name}: parameter ${i} (shape ${fmt(p.shape)}) is an int32 tensor; only floating point tensors can be optimized`);
      if (seen.has(p)) throw new Error(`${this.name}: parameter ${i} (shape ${fmt(p.shape)}) appears more than once`);
      seen.add(p);
    });
    for (const k of Object.keys(opts)) {
      if (!(k in this.defaults)) throw new Error(`${this.name}: unknown option '${k}' (options: ${Object.keys(this.defaults).join(', ')})`);
    }
    const merged: O = { ...this.defaults, ...opts };
    this.checkOptions(merged);
    this.paramGroups.push({ ...merged, params: ps });
  }

  /** Throw a clear error (naming the optimizer and option) for invalid hyperparameters. */
  protected abstract checkOptions(o: Unchecked<O>): void;

  /** Update one parameter in place from its (non-null) gradient. */
  protected abstract update(p: Tensor, grad: Tensor, state: ParamState, group: ParamGroup<O>): void;

  /** Set every parameter's .grad to null; the next backward() reuses their memory (Tensor.releaseGrad). */
  zeroGrad(): void {
    for (const g of this.paramGroups) for (const p of g.params) p.releaseGrad();
  }

  /** One update of every parameter that has a gradient. With a closure, re-evaluates the loss first and returns it. */
  step(closure?: () => Tensor | number): Tensor | number | undefined {
    const loss = closure ? enableGrad(closure) : undefined;
    // a subclass's own update() may keep the gradient: reading p.grad marks it as the user's
    const internal = keepsNoGrad.has(this.update);
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        let grad = internal ? tensorInternals.grad(p) : p.grad;
        if (grad === null) continue;
        if (!sameShape(grad.shape, p.shape)) {
          throw new Error(`${this.name}.step: gradient of shape ${fmt(grad.shape)} does not match its parameter of shape ${fmt(p.shape)}`);
        }
        if (grad.dtype !== p.dtype) grad = new Tensor(p.dtype === 'float64' ? Float64Array.from(grad.data) : Float32Array.from(grad.data), p.shape);
        let st = this.state.get(p);
        if (!st) this.state.set(p, (st = {}));
        this.update(p, grad, st, g);
      }
    }
    return loss;
  }

  /** A copy of the state and hyperparameters, to save in a checkpoint. */
  stateDict(): OptimizerStateDict {
    const index = new Map<Tensor, number>();
    this.params.forEach((p, i) => index.set(p, i));
    const state: Record<string, ParamState> = {};
    for (const [p, st] of this.state) {
      const copy: ParamState = {};
      for (const [k, v] of Object.entries(st)) copy[k] = isTensor(v) ? v.clone() : v;
      state[String(index.get(p))] = copy;
    }
    let next = 0;
    const paramGroups = this.paramGroups.map((g) => {
      const { params, ...hyper } = g;
      const h: Record<string, Hyper> = {};
      for (const [k, v] of Object.entries(hyper)) h[k] = Array.isArray(v) ? (v as number[]).slice() : (v as Hyper);
      return { ...h, params: params.map(() => next++) };
    });
    return { state, paramGroups };
  }

  /** Restore stateDict() output: hyperparameters and state are copied; the groups must match in size and shapes. */
  loadStateDict(sd: OptimizerStateDict): void {
    const what = `${this.name}.loadStateDict`;
    if (!sd || typeof sd !== 'object' || !Array.isArray(sd.paramGroups) || typeof sd.state !== 'object') {
      throw new TypeError(`${what}: expected {state, paramGroups} as returned by stateDict()`);
    }
    if (sd.paramGroups.length !== this.paramGroups.length) {
      throw new Error(`${what}: the state dict has ${sd.paramGroups.length} param groups, the optimizer has ${this.paramGroups.length}`);
    }
    const byIndex = new Map<number, Tensor>();
    sd.paramGroups.forEach((g, gi) => {
      const own = this.paramGroups[gi].params;
      if (!Array.isArray(g.params) || g.params.length !== own.length) {
        throw new Error(`${what}: param group ${gi} has ${g.params?.length} params in the state dict but ${own.length} in the optimizer`);
      }
      g.params.forEach((idx, j) => byIndex.set(idx, own[j]));
    });
    const newState = new Map<Tensor, ParamState>();
    for (const [key, st] of Object.entries(sd.state)) {
      const p = byIndex.get(Number(key));
      if (!p) throw new Error(`${what}: state for parameter index ${key}, which no param group lists`);
      const copy: ParamState = Object.create(null); // keys come from a file: "__proto__" is a key
      for (const [k, v] of Object.entries(st)) {
        if (isTensor(v)) {
          if (!sameShape(v.shape, p.shape)) throw new Error(`${what}: '${k}' of parameter ${key} has shape ${fmt(v.shape)} but the parameter has shape ${fmt(p.shape)}`);
          const t = new Tensor(p.dtype === 'float64' ? new Float64Array(p.size) : new Float32Array(p.size), p.shape.slice());
          t.data.set(v.data);
          copy[k] = t;
        } else if (typeof v === 'number') {
          copy[k] = v;
        } else {
          throw new TypeError(`${what}: '${k}' of parameter ${key} must be a Tensor or a number`);
        }
      }
      newState.set(p, copy);
    }
    const newHyper = sd.paramGroups.map((g) => {
      const { params: _ignored, ...hyper } = g;
      for (const k of Object.keys(hyper)) {
        if (!Object.hasOwn(this.defaults, k)) throw new Error(`${what}: unknown option '${k}' in the state dict (options: ${Object.keys(this.defaults).join(', ')})`);
      }
      const merged = { ...this.defaults, ...hyper };
      this.checkOptions(merged);
      return merged;
    });
    this.paramGroups.forEach((g, gi) => {
      for (const [k, v] of Object.entries(newHyper[gi])) Object.assign(g, { [k]: Array.isArray(v) ? v.slice() : v });
    });
    this.state.clear();
    for (const [p, st] of newState) this.state.set(p, st);
  }

  toString(): string {
    const lines = this.paramGroups.map((g, i) => {
      const { params, ...h } = g;
      const opts = Object.entries(h).map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v.join(', ')}]` : v}`).join(', ');
      return `  group ${i}: ${params.length} params, ${opts}`;
    });
    return `${this.name}(\n${lines.join('\n')}\n)`;
  }
}
