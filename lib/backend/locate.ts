// Where the addon file is: a local build, the platform package (@tapegrad/<platform>, an
// optionalDependency that npm installs only on its os/cpu/libc), or a prebuild shipped inside the
// main package. No install script is needed for the last two.
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export type AddonSource = 'local build' | 'platform package' | 'prebuild';

export type Located = { path: string; from: AddonSource } | { path: null; reason: string };

/** Platform packages in npm/; package.json's optionalDependencies list all but linux-x64-gnu (in prebuilds/). */
export const PLATFORM_PACKAGES = ['linux-x64-gnu', 'linux-arm64-gnu', 'darwin-x64', 'darwin-arm64', 'win32-x64-msvc'];

/**
 * The platform package for a platform, or null where none is built. Linux builds are for glibc only;
 * npm's `libc` field keeps them off musl systems, so the libc need not be detected here.
 */
export function platformPackage(platform: string = process.platform, arch: string = process.arch): string | null {
  const key = ({ linux: `linux-${arch}-gnu`, darwin: `darwin-${arch}`, win32: `win32-${arch}-msvc` } as Record<string, string>)[platform];
  return key && PLATFORM_PACKAGES.includes(key) ? `@tapegrad/${key}` : null;
}

/**
 * The addon for this process, first found of: `build/Release/tapegrad.node` (built from source, by
 * the install script or a developer), the platform package, `prebuilds/<platform>-<arch>/*.node`.
 */
export function locateAddon(root: string): Located {
  const local = join(root, 'build', 'Release', 'tapegrad.node');
  if (existsSync(local)) return { path: local, from: 'local build' };

  const pkg = platformPackage();
  if (pkg) {
    try {
      const manifest = createRequire(join(root, 'package.json')).resolve(`${pkg}/package.json`);
      const file = join(dirname(manifest), 'tapegrad.node');
      if (existsSync(file)) return { path: file, from: 'platform package' };
    } catch {
      // not installed (another platform, or optional dependencies omitted)
    }
  }

  const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  const prebuilt = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.node')).sort() : [];
  if (prebuilt.length > 0) return { path: join(dir, prebuilt[0]), from: 'prebuild' };

  const where = pkg ? `neither ${pkg} (optional dependency) nor` : 'no platform package for this platform, nor';
  return { path: null, reason: `no compiled addon: ${where} prebuilds/${process.platform}-${process.arch}/ nor build/Release/tapegrad.node` };
}
