// End-to-end packaging check (slow: compiles, runs prebuildify, npm pack, npm install).
// Run with: TAPEGRAD_PACK_TEST=1 npx vitest run test/pack.test.ts
//
// The installed package must load its addon from prebuilds/ (statically linked OpenBLAS, no
// compiler or libopenblas needed) and must not contain a build/ directory.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(fileURLToPath(import.meta.url), '..', '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

describe.skipIf(!process.env.TAPEGRAD_PACK_TEST)('npm pack + install uses the prebuilt addon', () => {
  const work = mkdtempSync(join(tmpdir(), 'tapegrad-pack-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('builds dist and prebuilds, packs, installs into an empty project, loads from prebuilds/', () => {
    run(npm, ['run', 'build'], root);
    run(npm, ['run', 'prebuildify'], root);
    const prebuilds = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
    const files = readdirSync(prebuilds).filter((f) => f.endsWith('.node'));
    expect(files.length).toBeGreaterThan(0);
    if (process.platform === 'linux') {
      const ldd = execFileSync('ldd', [join(prebuilds, files[0])], { encoding: 'utf8' });
      expect(ldd, 'the prebuild must link OpenBLAS statically').not.toMatch(/openblas|gfortran/);
    }

    const packOut = run(npm, ['pack', '--json', '--pack-destination', work], root);
    const packed = JSON.parse(packOut) as { filename: string; files: { path: string }[] }[];
    const paths = packed[0].files.map((f) => f.path);
    expect(paths).toContain(`prebuilds/${process.platform}-${process.arch}/${files[0]}`);
    expect(paths.some((p) => p.startsWith('build/'))).toBe(false);
    expect(paths).toContain('dist/index.js');
    expect(paths).toContain('scripts/install.cjs');

    const app = join(work, 'app');
    run('mkdir', ['-p', app], work);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }));
    // Dependencies come from the npm cache when possible; the registry is only asked for misses.
    const installOut = run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', join(work, packed[0].filename)], app,
      { npm_config_foreground_scripts: 'true' });
    const pkg = join(app, 'node_modules', 'tapegrad');
    expect(existsSync(join(pkg, 'build')), `no build/ in the installed package (install said: ${installOut})`).toBe(false);
    expect(existsSync(join(pkg, 'prebuilds'))).toBe(true);

    const script = "import('tapegrad').then((m) => console.log(JSON.stringify(m.backendInfo())))";
    const info = JSON.parse(run(process.execPath, ['--input-type=module', '-e', script], app, { TAPEGRAD_BACKEND: '' })) as {
      backend: string; reason: string; threads: number;
    };
    expect(info.backend, info.reason).toBe('native');
    expect(info.reason).toMatch(/prebuilt prebuilds\//);
    expect(info.threads).toBeGreaterThanOrEqual(1);
  }, 600_000);
});
