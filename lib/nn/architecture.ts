// The architecture of a Sequential as plain JSON (recorded by save() so a file rebuilds its model),
// and the way back. Specs read from files are untrusted: types come from a fixed table, sizes are
// checked, and parameterShapes lets a loader compare them with the file's weights before allocating.
import { Module } from './module.js';
import { Linear } from './linear.js';
import { ReLU, Sigmoid, Tanh, Identity, Softmax, LogSoftmax, Flatten } from './activation.js';
import { Dropout } from './dropout.js';
import { BatchNorm1d } from './normalization.js';

export type LayerSpec =
  | { type: 'Linear'; inFeatures: number; outFeatures: number; bias: boolean }
  | { type: 'ReLU' | 'Sigmoid' | 'Tanh' | 'Identity' }
  | { type: 'Softmax' | 'LogSoftmax'; dim: number }
  | { type: 'Flatten'; startDim: number; endDim: number }
  | { type: 'Dropout'; p: number }
  | { type: 'BatchNorm1d'; numFeatures: number; eps: number; momentum: number | null; affine: boolean; trackRunningStats: boolean };

const PLAIN = new Map<string, new () => Module>([['ReLU', ReLU], ['Sigmoid', Sigmoid], ['Tanh', Tanh], ['Identity', Identity]]);

/** The spec of each module, or null when one of them is not a built-in layer (exact classes only: a subclass may change forward). */
export function describeLayers(modules: Iterable<Module>): LayerSpec[] | null {
  const out: LayerSpec[] = [];
  for (const m of modules) {
    const c = m.constructor;
    if (c === Linear) {
      const l = m as Linear;
      out.push({ type: 'Linear', inFeatures: l.inFeatures, outFeatures: l.outFeatures, bias: l.bias !== null });
    } else if (c === Softmax || c === LogSoftmax) out.push({ type: c.name as 'Softmax', dim: (m as Softmax).dim });
    else if (c === Flatten) out.push({ type: 'Flatten', startDim: (m as Flatten).startDim, endDim: (m as Flatten).endDim });
    else if (c === Dropout) out.push({ type: 'Dropout', p: (m as Dropout).p });
    else if (c === BatchNorm1d) {
      const b = m as BatchNorm1d;
      out.push({ type: 'BatchNorm1d', numFeatures: b.numFeatures, eps: b.eps, momentum: b.momentum, affine: b.affine, trackRunningStats: b.trackRunningStats });
    }
    else if (PLAIN.get(c.name) === c) out.push({ type: c.name as 'ReLU' });
    else return null;
  }
  return out;
}

const isInt = (v: unknown, min: number): v is number => Number.isSafeInteger(v) && (v as number) >= min;

/** Check an untrusted spec; returns why it is invalid, or null. */
export function layerSpecProblem(spec: unknown): string | null {
  if (!Array.isArray(spec)) return 'the architecture is not a list of layers';
  for (let i = 0; i < spec.length; i++) {
    const s = spec[i] as Record<string, unknown> | null;
    const at = `layer ${i}`;
    if (typeof s !== 'object' || s === null || typeof s.type !== 'string') return `${at} has no type`;
    if (s.type === 'Linear') {
      if (!isInt(s.inFeatures, 1) || !isInt(s.outFeatures, 1) || typeof s.bias !== 'boolean') return `${at}: Linear needs positive integer inFeatures/outFeatures and a boolean bias`;
    } else if (s.type === 'Softmax' || s.type === 'LogSoftmax') {
      if (!isInt(s.dim, -8) || (s.dim as number) > 8) return `${at}: ${s.type} needs an integer dim`;
    } else if (s.type === 'Flatten') {
      if (!isInt(s.startDim, -8) || !isInt(s.endDim, -8)) return `${at}: Flatten needs integer startDim/endDim`;
    } else if (s.type === 'Dropout') {
      if (!(typeof s.p === 'number' && s.p >= 0 && s.p <= 1)) return `${at}: Dropout needs a probability p in [0, 1]`;
    } else if (s.type === 'BatchNorm1d') {
      const ok = isInt(s.numFeatures, 1) && typeof s.eps === 'number' && s.eps >= 0 && Number.isFinite(s.eps)
        && (s.momentum === null || (typeof s.momentum === 'number' && Number.isFinite(s.momentum))) && typeof s.affine === 'boolean' && typeof s.trackRunningStats === 'boolean';
      if (!ok) return `${at}: BatchNorm1d needs a positive integer numFeatures, eps >= 0, a finite momentum or null, and boolean affine/trackRunningStats`;
    } else if (!PLAIN.has(s.type)) {
      return `${at}: unknown layer type ${JSON.stringify(s.type).slice(0, 40)} (known: Linear, ${[...PLAIN.keys()].join(', ')}, Softmax, LogSoftmax, Flatten, Dropout, BatchNorm1d)`;
    }
  }
  return null;
}

/** Parameter and buffer shapes by stateDict name of the model built from a (valid) spec, without allocating it. */
export function parameterShapes(spec: readonly LayerSpec[]): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  spec.forEach((s, i) => {
    if (s.type === 'Linear') {
      shapes.set(`${i}.weight`, [s.outFeatures, s.inFeatures]);
      if (s.bias) shapes.set(`${i}.bias`, [s.outFeatures]);
    } else if (s.type === 'BatchNorm1d') {
      const n = [s.numFeatures];
      if (s.affine) shapes.set(`${i}.weight`, n).set(`${i}.bias`, n);
      if (s.trackRunningStats) shapes.set(`${i}.running_mean`, n).set(`${i}.running_var`, n).set(`${i}.num_batches_tracked`, []);
    }
  });
  return shapes;
}

/** The layers of a valid spec (check it with layerSpecProblem first). */
export function buildLayers(spec: readonly LayerSpec[]): Module[] {
  return spec.map((s): Module => {
    switch (s.type) {
      case 'Linear': return new Linear(s.inFeatures, s.outFeatures, { bias: s.bias });
      case 'Softmax': return new Softmax(s.dim);
      case 'LogSoftmax': return new LogSoftmax(s.dim);
      case 'Flatten': return new Flatten(s.startDim, s.endDim);
      case 'Dropout': return new Dropout(s.p);
      case 'BatchNorm1d': return new BatchNorm1d(s.numFeatures, { eps: s.eps, momentum: s.momentum, affine: s.affine, trackRunningStats: s.trackRunningStats });
      default: return new (PLAIN.get(s.type)!)();
    }
  });
}
