// The inference plan of a model (Predictor runs it): its layers flattened into steps that run on raw
// kernels into buffers the Predictor owns. A layer the planner does not know (or a subclass, which may
// override forward) becomes a `module` step that runs its own forward.
import type { Module } from '../nn/module.js';
import { Sequential } from '../nn/container.js';
import { Linear } from '../nn/linear.js';
import { ReLU, Sigmoid, Tanh, Identity, Flatten, LeakyReLU, ELU, SiLU, GELU, Softplus, Mish } from '../nn/activation.js';
import { Dropout } from '../nn/dropout.js';
import { BatchNorm1d } from '../nn/normalization.js';
import type { UnaryOp } from '../backend/backend.js';

export type KernelActivation = 'relu' | 'sigmoid' | 'tanh';

export type Step =
  /** x·Wᵀ + b on the Predictor's transposed copy of W, then act in place (the op's activation kernel). */
  | { kind: 'linear'; layer: Linear; act: KernelActivation | null; modules: Module[]; name: string }
  /** An activation by the backend's unary kernel, the op's own (same bits as the op). */
  | { kind: 'unary'; act: UnaryOp; p0?: number; p1?: number; modules: Module[]; name: string }
  /** An element-wise function computed in float64 per element (the ops compose float32 steps: a few ulp apart). */
  | { kind: 'map'; f: (v: number) => number; modules: Module[]; name: string }
  /** BatchNorm1d with running statistics, in the op's float32 order: x·scale + shift (scale = w/√(var + eps), shift = b - mean·scale). */
  | { kind: 'batchnorm'; layer: BatchNorm1d; modules: Module[]; name: string }
  /** Runs the module's own forward (under noGrad, in eval mode). */
  | { kind: 'module'; modules: Module[]; name: string };

const KERNEL_ACT = new Map<unknown, KernelActivation>([[ReLU, 'relu'], [Sigmoid, 'sigmoid'], [Tanh, 'tanh']]);

/** The model's layers, nested Sequentials (exact class) flattened, with their stateDict paths. */
function layers(m: Module, path: string, out: { m: Module; path: string }[]): void {
  if (m.constructor === Sequential) {
    let i = 0;
    for (const c of m as Sequential) layers(c, path ? `${path}.${i++}` : String(i++), out);
  } else {
    out.push({ m, path: path || '(model)' });
  }
}

const softplus1 = (x: number): number => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));

/** The element-wise function of an activation module, or null when it has none here. */
function mapOf(m: Module): ((v: number) => number) | null {
  const c = m.constructor;
  if (c === LeakyReLU) {
    const s = (m as LeakyReLU).negativeSlope;
    return (x) => (x > 0 ? x : x * s);
  }
  if (c === ELU) {
    const a = (m as ELU).alpha;
    return (x) => (x > 0 ? x : a * Math.expm1(x));
  }
  if (c === SiLU) return (x) => x / (1 + Math.exp(-x));
  if (c === Mish) return (x) => x * Math.tanh(softplus1(x));
  return null;
}

/** The unary kernel (with its parameters) that is an activation module's whole forward, or null. */
function unaryOf(m: Module): { act: UnaryOp; p0?: number; p1?: number } | null {
  const c = m.constructor;
  const act = KERNEL_ACT.get(c);
  if (act) return { act };
  if (c === GELU) return { act: (m as GELU).approximate === 'tanh' ? 'geluTanh' : 'gelu' };
  if (c === Softplus) return { act: 'softplus', p0: (m as Softplus).beta, p1: (m as Softplus).threshold };
  return null;
}

/** Layers that are the identity in eval mode on a 2-D [rows, features] input. */
function isIdentity(m: Module): boolean {
  const c = m.constructor;
  if (c === Identity || c === Dropout) return true;
  if (c !== Flatten) return false;
  const f = m as Flatten;
  return (f.startDim === 1 || f.startDim === -1) && (f.endDim === -1 || f.endDim === 1);
}

/** The steps of `model`'s eval-mode forward. */
export function planInference(model: Module): Step[] {
  const list: { m: Module; path: string }[] = [];
  layers(model, '', list);
  const steps: Step[] = [];
  for (let i = 0; i < list.length; i++) {
    const { m, path } = list[i];
    const c = m.constructor;
    if (isIdentity(m)) continue;
    if (c === Linear) {
      const next = list[i + 1];
      const act = next ? KERNEL_ACT.get(next.m.constructor) ?? null : null;
      if (act) i++;
      steps.push({ kind: 'linear', layer: m as Linear, act, modules: act ? [m, next.m] : [m], name: act ? `${path} Linear+${act}` : `${path} Linear` });
      continue;
    }
    const u = unaryOf(m);
    if (u) {
      steps.push({ kind: 'unary', ...u, modules: [m], name: `${path} ${KERNEL_ACT.get(c) ?? c.name}` });
      continue;
    }
    const f = mapOf(m);
    if (f) {
      steps.push({ kind: 'map', f, modules: [m], name: `${path} ${c.name}` });
      continue;
    }
    const bn = m as BatchNorm1d;
    if (c === BatchNorm1d && bn.trackRunningStats) {
      steps.push({ kind: 'batchnorm', layer: bn, modules: [m], name: `${path} BatchNorm1d` });
      continue;
    }
    steps.push({ kind: 'module', modules: [m], name: `${path} ${c.name} (its own forward)` });
  }
  return steps;
}
