// Node module hooks that let plain `node` (and worker_threads) run tapegrad's TypeScript sources
// directly, for the tools and the child processes of test/reliability: a `.js`
// import that does not exist next to a `.ts` file resolves to the `.ts` file, and `.ts` files are
// stripped of types with rolldown's oxc transform (the one vitest uses). Registered by
// tools/ts-register.mjs (`node --import ./tools/ts-register.mjs ...`).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

let transformSync;

export async function resolve(specifier, context, next) {
  if (specifier.endsWith('.js') && (specifier.startsWith('./') || specifier.startsWith('../')) && context.parentURL?.endsWith('.ts')) {
    const url = new URL(specifier, context.parentURL);
    if (!existsSync(fileURLToPath(url))) {
      const ts = new URL(specifier.slice(0, -3) + '.ts', context.parentURL);
      if (existsSync(fileURLToPath(ts))) return { url: ts.href, shortCircuit: true, format: 'module' };
    }
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return next(url, context);
  transformSync ??= (await import('rolldown/experimental')).transformSync;
  const file = fileURLToPath(url);
  const r = transformSync(file, readFileSync(file, 'utf8'), { sourcemap: false });
  if (r.errors?.length) throw new Error(`ts-hooks: cannot transform ${file}: ${r.errors.map((e) => e.message).join('; ')}`);
  return { format: 'module', source: r.code, shortCircuit: true };
}
