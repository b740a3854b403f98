import { withSetting } from '../scope.js';

let enabled = true;

export function isGradEnabled(): boolean {
  return enabled;
}

export function setGradEnabled(on: boolean): boolean {
  const prev = enabled;
  enabled = on;
  return prev;
}

/** Run fn without recording operations on the tape (inference, parameter updates). */
export function noGrad<T>(fn: () => T): T {
  return withSetting(setGradEnabled, false, fn);
}

export function enableGrad<T>(fn: () => T): T {
  return withSetting(setGradEnabled, true, fn);
}
