/**
 * Run fn with a setting switched to value and put it back afterwards, also when fn throws. set
 * switches the setting and returns the previous value (setGradEnabled, setDetectAnomaly, ...).
 */
export function withSetting<V, T>(set: (value: V) => V, value: V, fn: () => T): T {
  const prev = set(value);
  try {
    return fn();
  } finally {
    set(prev);
  }
}
