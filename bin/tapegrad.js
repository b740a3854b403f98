#!/usr/bin/env node
// The tapegrad command line. The implementation is compiled TypeScript in dist/ (npm run build;
// `npm install` in the repository builds it through the "prepare" script).
let cli;
try {
  cli = await import('../dist/cli/index.js');
} catch (e) {
  const missing = e && e.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes('dist');
  process.stderr.write(missing
    ? 'tapegrad: dist/ is not built; run `npm run build` in the tapegrad package\n'
    : `tapegrad: cannot start: ${String(e && e.message ? e.message : e).split('\n')[0]}\n`);
  if (process.env.TAPEGRAD_DEBUG && e && e.stack) process.stderr.write(`${e.stack}\n`);
  process.exit(1);
}
process.exitCode = await cli.main(process.argv);
