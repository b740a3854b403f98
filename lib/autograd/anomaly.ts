import type { FloatArray } from '../backend/backend.js';
import type { Tensor } from '../tensor.js';
import { fmt } from '../shape.js';
import { withSetting } from '../scope.js';

let enabled = false;
let inVjp = 0;

/** Anomaly detection (like torch.autograd.detect_anomaly): every op checks its results for NaN/Inf. */
export function setDetectAnomaly(on: boolean): boolean {
  const prev = enabled;
  enabled = on;
  return prev;
}

export function isAnomalyEnabled(): boolean {
  return enabled;
}

/** Run a VJP with forward checks off: its result is checked as a whole, under the VJP's name. */
export function runVjp<T>(fn: () => T): T {
  inVjp++;
  try {
    return fn();
  } finally {
    inVjp--;
  }
}

/** Run fn with anomaly detection on: the first op (forward) or VJP (backward) that produces a non-finite value throws, naming itself. */
export function detectAnomaly<T>(fn: () => T): T {
  return withSetting(setDetectAnomaly, true, fn);
}

function firstNonFinite(a: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}

/** Throws if out holds NaN/Inf; phrases it by whether the op made it or received it. */
export function checkForward(op: string, inputs: readonly Tensor[], out: Tensor): void {
  if (inVjp > 0) return;
  const i = firstNonFinite(out.data);
  if (i < 0) return;
  const bad = inputs.findIndex((t) => firstNonFinite(t.data) >= 0);
  const ins = inputs.map((t) => fmt(t.shape)).join(', ');
  if (bad >= 0) {
    throw new Error(`anomaly: input ${bad} of ${op} (inputs ${ins}) already contains a non-finite value: it came from outside tapegrad's ops (check your data)`);
  }
  throw new Error(`anomaly: ${op} produced ${out.data[i]} at flat index ${i} of its output ${fmt(out.shape)} from finite inputs ${ins}`);
}

export function checkBackward(node: string, g: Tensor, j: number, grad: Tensor, createdAt: string | undefined): void {
  const i = firstNonFinite(grad.data);
  if (i < 0 || firstNonFinite(g.data) >= 0) return;
  throw new Error(`anomaly: ${node} produced ${grad.data[i]} at flat index ${i} of the gradient for its input ${j} ${fmt(grad.shape)} from a finite incoming gradient`
    + (createdAt ? `\nthe forward op was called at:\n${createdAt}` : ''));
}
