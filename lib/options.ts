/**
 * The user's options over the defaults, rejecting unknown names (a typo like weight_decay or
 * reductoin must not be silently ignored). `opt` names the caller in the error.
 */
export function withDefaults<T extends Record<string, unknown>>(opt: string, given: object | undefined, defaults: T): T {
  if (given !== undefined && (typeof given !== 'object' || given === null)) throw new TypeError(`${opt}: options must be an object`);
  const out: Record<string, unknown> = { ...defaults };
  for (const [k, v] of Object.entries(given ?? {})) {
    // own keys only: 'constructor' or '__proto__' are not options
    if (!Object.hasOwn(defaults, k)) throw new Error(`${opt}: unknown option '${k}' (options: ${Object.keys(defaults).join(', ')})`);
    if (v !== undefined) out[k] = v;
  }
  return out as T;
}

/** Number option checks: `${opt}: invalid ${name} ${v} (must be ...)`. */
export function checkNumber(opt: string, name: string, v: unknown, ok: (x: number) => boolean, rule: string): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) {
    throw new RangeError(`${opt}: invalid ${name} ${typeof v === 'string' ? `'${v}'` : String(v)} (must be ${rule})`);
  }
}
