import type { Tensor } from '../tensor.js';
import type { Activation } from '../ops/activation.js';
import { Module, type AnyModule } from './module.js';
import { recycleAfterUse } from '../autograd/pool.js';
import { Linear } from './linear.js';
import { ReLU, Sigmoid, Tanh } from './activation.js';
import { describeLayers, layerSpecProblem, buildLayers, type LayerSpec } from './architecture.js';

/** A Linear followed by exactly one of these runs as one fused op (same values and gradients). */
function fusable(m: Module): Activation | null {
  const c = m.constructor;
  return c === ReLU ? 'relu' : c === Sigmoid ? 'sigmoid' : c === Tanh ? 'tanh' : null;
}

/** Runs its modules in order, each one's output feeding the next; children are named 0, 1, 2, ... */
export class Sequential extends Module<[Tensor], Tensor> implements Iterable<Module> {
  private _list: Module[] = [];

  constructor(...modules: Module[]) {
    super();
    for (const m of modules) this.append(m);
  }

  /** Add a module at the end (named by its position). */
  append(m: Module): this {
    if (!(m instanceof Module)) throw new TypeError(`Sequential: argument ${this._list.length} is not a Module`);
    this.registerModule(String(this._list.length), m);
    this._list.push(m);
    return this;
  }

  get length(): number {
    return this._list.length;
  }

  /** The i-th module; negative i counts from the end. */
  at(i: number): Module {
    return this._list[position('Sequential.at', i, this._list.length)];
  }

  /** Its layers as JSON (save() records it, so the file rebuilds the model); null when a layer is not built in. */
  architecture(): LayerSpec[] | null {
    return describeLayers(this._list);
  }

  /** A new Sequential from architecture() output (fresh weights); a clear error for an invalid spec. */
  static fromArchitecture(spec: unknown): Sequential {
    const wrong = layerSpecProblem(spec);
    if (wrong) throw new RangeError(`Sequential.fromArchitecture: ${wrong}`);
    return new Sequential(...buildLayers(spec as LayerSpec[]));
  }

  [Symbol.iterator](): Iterator<Module> {
    return this._list[Symbol.iterator]();
  }

  override forward(x: Tensor): Tensor {
    const list = this._list;
    let hidden: Tensor | null = null; // the previous exact Linear's output: only this loop holds it
    for (let i = 0; i < list.length; i++) {
      const m = list[i];
      // only an exact Linear: a subclass may override forward, which the fused op would bypass
      const exact = m.constructor === Linear;
      const act = exact && i + 1 < list.length ? fusable(list[i + 1]) : null;
      if (act) {
        x = (m as Linear).forwardActivated(x, act);
        i++;
      } else {
        x = m.forward(x);
      }
      // an exact Linear keeps nothing it reads: the hidden activation it consumed lives on the tape only
      if (hidden && exact) recycleAfterUse(hidden, x);
      hidden = exact ? x : null;
    }
    return x;
  }
}

/** Holds modules in a list so that parameters(), stateDict() and train()/eval() see them ('layers.0.weight'). No forward. */
export class ModuleList extends Module<never[], never> implements Iterable<AnyModule> {
  private _list: AnyModule[] = [];

  constructor(modules: Iterable<AnyModule> = []) {
    super();
    this.extend(modules);
  }

  /** Add a module at the end (named by its position). */
  append(m: AnyModule): this {
    if (!(m instanceof Module)) throw new TypeError(`ModuleList: element ${this._list.length} is not a Module`);
    this.registerModule(String(this._list.length), m);
    this._list.push(m);
    return this;
  }

  extend(modules: Iterable<AnyModule>): this {
    for (const m of modules) this.append(m);
    return this;
  }

  get length(): number {
    return this._list.length;
  }

  /** The i-th module; negative i counts from the end. */
  at(i: number): AnyModule {
    return this._list[position('ModuleList.at', i, this._list.length)];
  }

  /** Replace the i-th module (keeps its name). */
  set(i: number, m: AnyModule): this {
    const j = position('ModuleList.set', i, this._list.length);
    if (!(m instanceof Module)) throw new TypeError('ModuleList.set: expected a Module');
    this.registerModule(String(j), m);
    this._list[j] = m;
    return this;
  }

  [Symbol.iterator](): Iterator<AnyModule> {
    return this._list[Symbol.iterator]();
  }

  override forward(): never {
    throw new Error('ModuleList has no forward: call its modules (for (const m of list) x = m.forward(x))');
  }
}

function position(op: string, i: number, n: number): number {
  const j = i < 0 ? n + i : i;
  if (!Number.isInteger(j) || j < 0 || j >= n) throw new RangeError(`${op}: index ${i} is out of range for ${n} modules`);
  return j;
}

/**
 * Holds modules by name so that parameters(), stateDict() and train()/eval() see them
 * ('blocks.encoder.weight'). Keys keep their insertion order. No forward.
 */
export class ModuleDict extends Module<never[], never> {
  private _map = new Map<string, AnyModule>();

  constructor(modules: Record<string, AnyModule> | Iterable<[string, AnyModule]> = {}) {
    super();
    this.update(modules);
  }

  /** Add or replace a module; the key must not contain '.' nor be a method name ('keys', 'forward', ...). */
  set(key: string, m: AnyModule): this {
    if (!(m instanceof Module)) throw new TypeError(`ModuleDict.set('${key}'): expected a Module`);
    if (Object.hasOwn(this, key) && !this._map.has(key)) throw new Error(`ModuleDict.set: the key '${key}' is taken by a field of ModuleDict`);
    this.registerModule(key, m);
    this._map.set(key, m);
    return this;
  }

  get(key: string): AnyModule | undefined {
    return this._map.get(key);
  }

  has(key: string): boolean {
    return this._map.has(key);
  }

  update(modules: Record<string, AnyModule> | Iterable<[string, AnyModule]>): this {
    const entries = Symbol.iterator in modules ? modules as Iterable<[string, AnyModule]> : Object.entries(modules);
    for (const [k, m] of entries) this.set(k, m);
    return this;
  }

  get size(): number {
    return this._map.size;
  }

  keys(): string[] { return [...this._map.keys()]; }
  values(): AnyModule[] { return [...this._map.values()]; }
  items(): [string, AnyModule][] { return [...this._map.entries()]; }

  override forward(): never {
    throw new Error('ModuleDict has no forward: call its modules (dict.get(name).forward(x))');
  }
}
