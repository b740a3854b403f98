/** A mistake of the user (bad option value, missing file): printed as one line, exit code 1, no stack. */
export class CliError extends Error {
  override name = 'CliError';
}

/** Throw a CliError unless ok. */
export function check(ok: unknown, message: string): asserts ok {
  if (!ok) throw new CliError(message);
}
