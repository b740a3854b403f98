#!/usr/bin/env node
// Adds package-lock.json entries for the platform packages (optionalDependencies) that the registry
// does not serve yet. Without an entry `npm ci` stops ("Missing ... from lock file"); with one, npm
// skips the packages of other platforms and, for this platform's, tolerates the failed fetch as it
// does for any optional dependency. Run after `npm install` rewrote the lock file.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const lockPath = join(root, 'package-lock.json');
const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
for (const [name, version] of Object.entries(pkg.optionalDependencies ?? {})) {
  const key = `node_modules/${name}`;
  if (lock.packages[key]?.integrity) continue; // published: npm wrote the real entry
  const manifest = JSON.parse(readFileSync(join(root, 'npm', name.split('/')[1], 'package.json'), 'utf8'));
  if (manifest.version !== version) throw new Error(`${name}: npm/ has version ${manifest.version}, package.json wants ${version}`);
  const base = name.split('/')[1];
  lock.packages[key] = {
    version,
    resolved: `https://registry.npmjs.org/${name}/-/${base}-${version}.tgz`,
    cpu: manifest.cpu, os: manifest.os, ...(manifest.libc ? { libc: manifest.libc } : {}),
    license: manifest.license, optional: true,
  };
}
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => a.localeCompare(b, 'en'))); // npm's order
writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
