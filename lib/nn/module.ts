import { Tensor, isTensor } from '../tensor.js';
import { fmt, sameShape } from '../shape.js';

// A Module owns parameters (tensors that require grad), buffers (state without gradients, e.g. the
// perceptron's weights) and child modules. All three live as ordinary fields, so `this.weight` is
// always the live value. Their names are recorded in order, either explicitly (registerParameter,
// registerBuffer, registerModule) or by discovery: every own field that holds a Module, or a Tensor
// with requiresGrad, is registered the first time the module is walked, in declaration order.
// Names starting with '_' and `training` are never discovered.


type Kind = 'param' | 'buffer' | 'module';

export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/** Any module, whatever its forward returns (children, walks, apply). */
export type AnyModule = Module<any[], unknown>;

/**
 * A module whose forward takes the arguments In (a tuple) and returns Out: layers are
 * Module<[Tensor], Tensor>, losses Module<[Tensor, target], Tensor>. A plain `Module` takes any
 * arguments and returns a Tensor.
 */
export abstract class Module<In extends unknown[] = any[], Out = Tensor> {
  /** true after train() (the default), false after eval(). */
  training = true;
  private readonly _names = new Map<string, Kind>();

  /** The computation. Call it as model.forward(x) (or model.call(x)). */
  abstract forward(...args: In): Out;

  /** Same as forward, typed from the subclass's forward. */
  call(...args: Parameters<this['forward']>): ReturnType<this['forward']> {
    return this.forward(...(args as In)) as ReturnType<this['forward']>;
  }

  // ------------------------------------------------------------------ registration
  private _register(kind: Kind, name: string, value: unknown): void {
    if (typeof name !== 'string' || name === '' || name.includes('.')) {
      throw new Error(`${this._typeName()}: invalid ${kind} name '${String(name)}' (must be non-empty and contain no '.')`);
    }
    const prev = this._names.get(name);
    if (prev && prev !== kind) throw new Error(`${this._typeName()}: '${name}' is already registered as a ${prev}`);
    if (!prev && name in this && !Object.prototype.hasOwnProperty.call(this, name)) {
      throw new Error(`${this._typeName()}: cannot register ${kind} '${name}': the name is taken by a method or property`);
    }
    (this as unknown as Record<string, unknown>)[name] = value;
    this._names.set(name, kind);
  }

  private _ownFields(): Record<string, unknown> {
    return this as unknown as Record<string, unknown>;
  }

  /** Add a parameter (a tensor that requires grad; null allowed, e.g. a disabled bias). Also sets this[name]. */
  registerParameter(name: string, t: Tensor | null): Tensor | null {
    if (t !== null && !isTensor(t)) throw new TypeError(`${this._typeName()}.registerParameter('${name}'): expected a Tensor or null`);
    if (t && !t.isLeaf) throw new Error(`${this._typeName()}.registerParameter('${name}'): a parameter must be a leaf tensor (use detach())`);
    if (t && !t.requiresGrad) t.requiresGrad_();
    this._register('param', name, t);
    return t;
  }

  /** Add a buffer: state saved in stateDict() but not returned by parameters(). Also sets this[name]. */
  registerBuffer(name: string, t: Tensor | null): Tensor | null {
    if (t !== null && !isTensor(t)) throw new TypeError(`${this._typeName()}.registerBuffer('${name}'): expected a Tensor or null`);
    this._register('buffer', name, t);
    return t;
  }

  /** Add a child module. Also sets this[name]. */
  registerModule<M extends AnyModule | null>(name: string, m: M): M {
    if (m !== null && !(m instanceof Module)) throw new TypeError(`${this._typeName()}.registerModule('${name}'): expected a Module or null`);
    this._register('module', name, m);
    return m;
  }

  /** Registers own fields holding Modules or Tensors that require grad (declaration order). */
  private _discover(): void {
    const fields = this._ownFields();
    for (const key of Object.keys(fields)) {
      if (key.startsWith('_') || key === 'training' || this._names.has(key)) continue;
      const v = fields[key];
      if (v instanceof Module) this._names.set(key, 'module');
      else if (isTensor(v) && v.requiresGrad) this._names.set(key, 'param');
    }
  }

  private _entries<T>(kind: Kind): [string, T][] {
    this._discover();
    const out: [string, T][] = [];
    const fields = this._ownFields();
    for (const [name, k] of this._names) {
      const v = fields[name];
      if (k === kind && v !== null && v !== undefined) out.push([name, v as T]);
    }
    return out;
  }

  // ------------------------------------------------------------------ walking
  /** Direct children as [name, module], in registration order. */
  namedChildren(): [string, AnyModule][] {
    return this._entries<AnyModule>('module');
  }

  children(): AnyModule[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /** This module and all descendants (each once) as [qualified name, module]; this one is ''. */
  namedModules(prefix = ''): [string, AnyModule][] {
    const out: [string, AnyModule][] = [];
    const seen = new Set<AnyModule>();
    const walk = (m: AnyModule, p: string): void => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push([p, m]);
      for (const [n, c] of m.namedChildren()) walk(c, p ? `${p}.${n}` : n);
    };
    walk(this, prefix);
    return out;
  }

  modules(): AnyModule[] {
    return this.namedModules().map(([, m]) => m);
  }

  private _namedTensors(kind: 'param' | 'buffer', prefix: string, recurse: boolean): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    const mods: [string, AnyModule][] = recurse ? this.namedModules(prefix) : [[prefix, this]];
    for (const [p, m] of mods) {
      for (const [n, t] of m._entries<Tensor>(kind)) {
        if (seen.has(t)) continue; // a tensor shared by two modules is listed once
        seen.add(t);
        out.push([p ? `${p}.${n}` : n, t]);
      }
    }
    return out;
  }

  /** Parameters as [qualified name, tensor] with PyTorch's names ('0.weight', 'fc1.bias'). */
  namedParameters(prefix = '', recurse = true): [string, Tensor][] {
    return this._namedTensors('param', prefix, recurse);
  }

  parameters(recurse = true): Tensor[] {
    return this.namedParameters('', recurse).map(([, t]) => t);
  }

  namedBuffers(prefix = '', recurse = true): [string, Tensor][] {
    return this._namedTensors('buffer', prefix, recurse);
  }

  buffers(recurse = true): Tensor[] {
    return this.namedBuffers('', recurse).map(([, t]) => t);
  }

  /** Total number of parameter elements. */
  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }

  // ------------------------------------------------------------------ modes and grads
  /** Set training mode on this module and all descendants. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Set every parameter's .grad to null; the next backward() reuses their memory (Tensor.releaseGrad). */
  zeroGrad(): void {
    for (const p of this.parameters()) p.releaseGrad();
  }

  /** Freeze (false) or unfreeze (true) all parameters. */
  requiresGrad_(on = true): this {
    for (const p of this.parameters()) p.requiresGrad = on;
    return this;
  }

  /** Call fn on every descendant and then on this module (like PyTorch's apply). */
  apply(fn: (m: AnyModule) => void): this {
    for (const c of this.children()) c.apply(fn);
    fn(this);
    return this;
  }

  // ------------------------------------------------------------------ state
  /**
   * Parameters and buffers by qualified name, in registration order, as detached tensors that
   * share memory with the module (as in PyTorch: clone them to keep a snapshot).
   */
  stateDict(): Record<string, Tensor> {
    const sd: Record<string, Tensor> = {};
    for (const [p, m] of this.namedModules()) {
      for (const kind of ['param', 'buffer'] as const) {
        for (const [n, t] of m._entries<Tensor>(kind)) {
          const name = p ? `${p}.${n}` : n;
          try {
            sd[name] = t.detach();
          } catch (e) { // e.g. its buffer was resized under it: name the tensor
            throw new Error(`${this._typeName()}.stateDict: '${name}': ${(e as Error).message}`, { cause: e });
          }
        }
      }
    }
    return sd;
  }

  /**
   * Copy values into the existing parameters and buffers (their memory is kept, so optimizers stay
   * attached). Nothing is copied when any key fails: shape mismatches always throw; missing and
   * unexpected keys throw when strict, and are returned otherwise.
   */
  loadStateDict(sd: Record<string, Tensor>, opts: { strict?: boolean } = {}): LoadStateDictResult {
    const strict = opts.strict ?? true;
    if (typeof sd !== 'object' || sd === null) throw new TypeError(`${this._typeName()}.loadStateDict: expected an object of tensors`);
    const own = this.stateDict();
    const missingKeys = Object.keys(own).filter((k) => !Object.prototype.hasOwnProperty.call(sd, k));
    const unexpectedKeys = Object.keys(sd).filter((k) => !Object.prototype.hasOwnProperty.call(own, k));
    const problems: string[] = [];
    for (const [k, dst] of Object.entries(own)) {
      if (!Object.prototype.hasOwnProperty.call(sd, k)) continue;
      const src = sd[k];
      if (!isTensor(src)) {
        problems.push(`value for '${k}' is not a Tensor`);
      } else if (!sameShape(src.shape, dst.shape)) {
        problems.push(`size mismatch for '${k}': copying a tensor of shape ${fmt(src.shape)} from the state dict, the shape in the current model is ${fmt(dst.shape)}`);
      } else if (dst.dtype !== 'int32' && src.dtype === 'int32') {
        problems.push(`dtype mismatch for '${k}': copying an int32 tensor from the state dict into ${dst.dtype} (only an integer buffer such as num_batches_tracked takes int32)`);
      } else if (dst.dtype === 'int32' && src.dtype !== 'int32') {
        // an integer buffer takes float integers (older tapegrad files held num_batches_tracked as F32)
        const i = src.data.findIndex((v) => !(Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31));
        if (i >= 0) problems.push(`value for int32 buffer '${k}' is not an int32 integer: element ${i} of the ${src.dtype} tensor is ${src.data[i]}`);
      } else if (dst.data instanceof Float32Array && src.data instanceof Float64Array) {
        const i = src.data.findIndex((v) => Number.isFinite(v) && !Number.isFinite(Math.fround(v)));
        if (i >= 0) problems.push(`value for '${k}' does not fit float32: element ${i} is ${src.data[i]}, which would become ${Math.fround(src.data[i])} (float32 holds magnitudes up to 3.4028234663852886e38)`);
      }
    }
    if (strict && missingKeys.length) problems.push(`missing key(s) in state dict: ${missingKeys.map((k) => `'${k}'`).join(', ')}`);
    if (strict && unexpectedKeys.length) problems.push(`unexpected key(s) in state dict: ${unexpectedKeys.map((k) => `'${k}'`).join(', ')}`);
    if (problems.length) {
      throw new Error(`${this._typeName()}.loadStateDict: ${problems.length === 1 ? problems[0] : `errors:\n  ${problems.join('\n  ')}`}`);
    }
    for (const [k, dst] of Object.entries(own)) {
      if (Object.prototype.hasOwnProperty.call(sd, k) && sd[k].data !== dst.data) dst.data.set(sd[k].data);
    }
    return { missingKeys, unexpectedKeys };
  }

  // ------------------------------------------------------------------ printing
  /** One-line description of this module's configuration, shown in toString(). */
  extraRepr(): string {
    return '';
  }

  private _typeName(): string {
    return this.constructor.name || 'Module';
  }

  /** PyTorch-style tree: `Sequential(\n  (0): Linear(inFeatures=4, outFeatures=5, bias=true)\n  ...\n)`. */
  toString(): string {
    const lines: string[] = [];
    const extra = this.extraRepr();
    if (extra) lines.push(...extra.split('\n'));
    for (const [n, c] of this.namedChildren()) lines.push(`(${n}): ${c.toString().split('\n').join('\n  ')}`);
    if (!lines.length) return `${this._typeName()}()`;
    if (lines.length === 1 && extra) return `${this._typeName()}(${extra})`;
    return `${this._typeName()}(\n  ${lines.join('\n  ')}\n)`;
  }
}

/**
 * Run module.forward(...args) with some parameters/buffers replaced by the given tensors (by
 * qualified name), then restore them; like torch.func.functional_call. Handy for gradcheck
 * through a module, or for evaluating a model at other weights.
 */
export function functionalCall<M extends AnyModule>(
  module: M, tensors: Record<string, Tensor>, ...args: Parameters<M['forward']>
): ReturnType<M['forward']> {
  const owners = new Map<string, [Record<string, unknown>, string]>();
  for (const [p, m] of module.namedModules()) {
    for (const [n] of [...m.namedParameters('', false), ...m.namedBuffers('', false)]) {
      owners.set(p ? `${p}.${n}` : n, [m as unknown as Record<string, unknown>, n]);
    }
  }
  const saved: [Record<string, unknown>, string, unknown][] = [];
  try {
    for (const [k, t] of Object.entries(tensors)) {
      const o = owners.get(k);
      if (!o) throw new Error(`functionalCall: ${module.constructor.name} has no parameter or buffer '${k}' (has ${[...owners.keys()].map((s) => `'${s}'`).join(', ')})`);
      saved.push([o[0], o[1], o[0][o[1]]]);
      o[0][o[1]] = t;
    }
    return module.forward(...args) as ReturnType<M['forward']>;
  } finally {
    for (let i = saved.length - 1; i >= 0; i--) saved[i][0][saved[i][1]] = saved[i][2];
  }
}
