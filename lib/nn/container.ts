import type { Tensor } from '../tensor.js';
import type { Activation } from '../ops/activation.js';
import { Module } from './module.js';
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
    const j = i < 0 ? this._list.length + i : i;
    if (!Number.isInteger(j) || j < 0 || j >= this._list.length) {
      throw new RangeError(`Sequential.at: index ${i} is out of range for ${this._list.length} modules`);
    }
    return this._list[j];
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
    for (let i = 0; i < list.length; i++) {
      const m = list[i];
      // only an exact Linear: a subclass may override forward, which the fused op would bypass
      const act = m.constructor === Linear && i + 1 < list.length ? fusable(list[i + 1]) : null;
      if (act) {
        x = (m as Linear).forwardActivated(x, act);
        i++;
      } else {
        x = m.forward(x);
      }
    }
    return x;
  }
}
