import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { PLATFORM_PACKAGES, locateAddon, platformPackage } from '../lib/backend/locate.js';

const root = resolve(fileURLToPath(import.meta.url), '..', '..');
const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8'));

describe('platform packages', () => {
  it.each([
    ['linux', 'x64', '@tapegrad/linux-x64-gnu'],
    ['linux', 'arm64', '@tapegrad/linux-arm64-gnu'],
    ['darwin', 'arm64', '@tapegrad/darwin-arm64'],
    ['darwin', 'x64', '@tapegrad/darwin-x64'],
    ['win32', 'x64', '@tapegrad/win32-x64-msvc'],
    ['win32', 'arm64', null],
    ['linux', 'riscv64', null],
    ['freebsd', 'x64', null],
  ])('%s-%s -> %s', (platform, arch, name) => {
    expect(platformPackage(platform, arch)).toBe(name);
  });

  it('npm/ and package.json agree with the table: names, exact versions, os/cpu/libc', () => {
    const main = readJson(join(root, 'package.json'));
    expect(readdirSync(join(root, 'npm')).filter((d) => d !== 'README.md').sort()).toEqual([...PLATFORM_PACKAGES].sort());
    for (const key of PLATFORM_PACKAGES) {
      const pkg = readJson(join(root, 'npm', key, 'package.json'));
      const [os, cpu, abi] = key.split('-');
      expect(pkg.name).toBe(`@tapegrad/${key}`);
      expect(pkg.version).toBe(main.version);
      expect(pkg.os).toEqual([os]);
      expect(pkg.cpu).toEqual([cpu]);
      expect(pkg.libc).toEqual(abi === 'gnu' ? ['glibc'] : undefined);
      expect(pkg.files).toEqual(['tapegrad.node']);
      expect(platformPackage(os, cpu)).toBe(pkg.name);
    }
    // linux-x64's binary is inside the main package (prebuilds/linux-x64), so it is not listed
    const expected = Object.fromEntries(PLATFORM_PACKAGES.filter((k) => k !== 'linux-x64-gnu').map((k) => [`@tapegrad/${k}`, main.version]));
    expect(main.optionalDependencies).toEqual(expected);
    // npm ci needs a lock entry for each, published or not (tools/lock-platforms.mjs)
    const lock = readJson(join(root, 'package-lock.json'));
    for (const name of Object.keys(expected)) expect(lock.packages[`node_modules/${name}`]?.optional, name).toBe(true);
  });
});

describe('locateAddon', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tapegrad-locate-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const put = (rel: string, text = '') => {
    mkdirSync(resolve(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
  };
  const pkg = platformPackage();

  it('says where it looked when there is no addon', () => {
    put('package.json', '{"name":"tapegrad"}');
    const r = locateAddon(dir);
    expect(r.path).toBeNull();
    if (r.path === null) {
      expect(r.reason).toContain(`prebuilds/${process.platform}-${process.arch}/`);
      expect(r.reason).toContain('build/Release/tapegrad.node');
      if (pkg) expect(r.reason).toContain(pkg);
    }
  });

  it('prefers a local build, then the platform package, then prebuilds/', () => {
    put(join('prebuilds', `${process.platform}-${process.arch}`, 'tapegrad.node'));
    expect(locateAddon(dir)).toEqual({ path: join(dir, 'prebuilds', `${process.platform}-${process.arch}`, 'tapegrad.node'), from: 'prebuild' });
    if (pkg) {
      put(join('node_modules', pkg, 'package.json'), JSON.stringify({ name: pkg, version: '0.0.0' }));
      expect(locateAddon(dir).path, 'a platform package without its binary is skipped').toContain('prebuilds');
      put(join('node_modules', pkg, 'tapegrad.node'));
      expect(locateAddon(dir)).toEqual({ path: join(dir, 'node_modules', pkg, 'tapegrad.node'), from: 'platform package' });
    }
    put(join('build', 'Release', 'tapegrad.node'));
    expect(locateAddon(dir)).toEqual({ path: join(dir, 'build', 'Release', 'tapegrad.node'), from: 'local build' });
  });
});
