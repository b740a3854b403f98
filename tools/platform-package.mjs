#!/usr/bin/env node
// Usage: node tools/platform-package.mjs <addon.node> npm/<platform> [pack-destination]
// Copies a statically linked addon into a platform package (npm/README.md) and packs it; prints
// the tarball's path. The package version must equal the main package's.
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const [file, dir, dest = dir] = process.argv.slice(2);
if (!file || !dir) throw new Error('usage: node tools/platform-package.mjs <addon.node> npm/<platform> [pack-destination]');
const root = join(import.meta.dirname, '..');
const main = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
if (pkg.version !== main.version) throw new Error(`${pkg.name} is at ${pkg.version}, tapegrad at ${main.version}`);
copyFileSync(file, join(dir, 'tapegrad.node'));
const out = execFileSync('npm', ['pack', '--json', '--pack-destination', resolve(dest)], { cwd: dir, encoding: 'utf8', shell: process.platform === 'win32' });
console.log(resolve(dest, JSON.parse(out)[0].filename));
