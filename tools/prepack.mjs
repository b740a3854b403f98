#!/usr/bin/env node
// `npm pack`/`npm publish` step (package.json "prepack", after `npm run build`): on linux-x64, puts a
// freshly built addon with OpenBLAS linked statically into prebuilds/linux-x64/tapegrad.node, so
// the main package loads natively with no install script and no system OpenBLAS. Elsewhere the
// tarball gets no binary (the platform packages carry those).
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const dest = join(root, 'prebuilds', 'linux-x64');
rmSync(join(root, 'prebuilds'), { recursive: true, force: true });
if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.error(`prepack: no linux-x64 prebuild on ${process.platform}-${process.arch}`);
  process.exit(0);
}
const npm = (args) => execFileSync('npm', args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
npm(['run', 'build:gyp']);
const built = join(root, 'build', 'Release', 'tapegrad.node');
const ldd = execFileSync('ldd', [built], { encoding: 'utf8' });
if (/openblas|gfortran/.test(ldd)) {
  throw new Error(`prepack: ${built} links the shared OpenBLAS (is libopenblas.a installed? apt-get install libopenblas-dev):\n${ldd}`);
}
mkdirSync(dest, { recursive: true });
copyFileSync(built, join(dest, 'tapegrad.node'));
execFileSync('strip', ['--strip-unneeded', join(dest, 'tapegrad.node')]);
console.error(`prepack: ${join('prebuilds', 'linux-x64', 'tapegrad.node')}`);
