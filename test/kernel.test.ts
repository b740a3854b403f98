// The OpenBLAS kernel choice (lib/backend/coretype.ts), the load-time sgemm self-check
// (lib/backend/selfcheck.ts) and the one-line notice when the native backend is unavailable.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CORE_TABLE, coreForFlags, cpuFlags, describeKernel, planCore, type KernelInfo } from '../lib/backend/coretype.js';
import { sgemmSelfCheck } from '../lib/backend/selfcheck.js';
import { planThreadTimeout } from '../lib/backend/threadtimeout.js';
import { jsBackend } from '../lib/backend/js.js';

const root = resolve(fileURLToPath(import.meta.url), '..', '..');

// /proc/cpuinfo flag lines, trimmed to what matters, of real CPUs.
const SSE2 = 'fpu mmx fxsr sse sse2 lm';
const CPUS: [string, string, string | null][] = [
  ['Emerald Rapids (AVX-512 + BF16)', `${SSE2} pni ssse3 fma sse4_1 sse4_2 avx avx2 avx512f avx512dq avx512cd avx512bw avx512vl avx512_bf16 amx_tile`, 'SkylakeX'],
  ['AMD Zen 5 (this machine kind)', `${SSE2} pni ssse3 fma sse4_1 sse4_2 avx avx2 avx512f avx512dq avx512cd avx512bw avx512vl avx_vnni avx512_bf16`, 'SkylakeX'],
  ['Skylake-SP (AVX-512, no BF16)', `${SSE2} pni ssse3 fma sse4_1 sse4_2 avx avx2 avx512f avx512dq avx512cd avx512bw avx512vl`, 'SkylakeX'],
  ['Knights Landing (AVX-512F/CD only)', `${SSE2} pni ssse3 fma sse4_1 sse4_2 avx avx2 avx512f avx512cd avx512er avx512pf`, 'Haswell'],
  ['Haswell', `${SSE2} pni ssse3 fma sse4_1 sse4_2 avx avx2`, 'Haswell'],
  ['AMD Zen 2', `${SSE2} pni ssse3 fma sse4_1 sse4_2 sse4a avx avx2`, 'Haswell'],
  ['AVX2 without FMA (a masked VM)', `${SSE2} pni ssse3 sse4_1 sse4_2 avx avx2`, 'Sandybridge'],
  ['Ivy Bridge', `${SSE2} pni ssse3 sse4_1 sse4_2 avx`, 'Sandybridge'],
  ['AVX-512F without AVX (nonsense flags)', `${SSE2} pni avx512f avx512bw avx512dq avx512vl avx512cd`, 'Prescott'],
  ['Westmere', `${SSE2} pni ssse3 sse4_1 sse4_2`, 'Nehalem'],
  ['Core 2 (Merom)', `${SSE2} pni ssse3`, 'Core2'],
  ['AMD K10 (SSE3 + SSE4a)', `${SSE2} pni sse4a 3dnowprefetch`, 'Prescott'],
  ['first x86-64 (SSE2 only)', SSE2, null],
];

describe('the CPU feature → OpenBLAS core table', () => {
  for (const [cpu, flags, core] of CPUS) {
    it(`${cpu} → ${core ?? "OpenBLAS's own detection"}`, () => {
      expect(coreForFlags(flags.split(' '))?.core ?? null).toBe(core);
    });
  }

  it('each row needs all features of the rows below it, and a CPU with exactly those gets that row', () => {
    for (const [i, row] of CORE_TABLE.entries()) {
      for (const below of CORE_TABLE.slice(i + 1)) expect(row.needs).toEqual(expect.arrayContaining([...below.needs]));
      expect(coreForFlags(row.needs)?.core).toBe(row.core);
      // one feature fewer: a lower row
      for (const f of row.adds) expect(coreForFlags(row.needs.filter((g) => g !== f))?.core).toBe(CORE_TABLE[i + 1]?.core);
    }
  });

  it('reads the flags line of a cpuinfo file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapegrad-cpuinfo-'));
    try {
      const f = join(dir, 'cpuinfo');
      writeFileSync(f, 'processor\t: 0\nmodel name\t: X\nflags\t\t: fpu sse2 avx2 fma\nbugs\t\t: none\n\nprocessor\t: 1\nflags\t\t: fpu\n');
      expect(cpuFlags(f)).toEqual(['fpu', 'sse2', 'avx2', 'fma']);
      writeFileSync(f, 'processor\t: 0\nFeatures\t: fp asimd\n'); // arm64: no flags line
      expect(cpuFlags(f)).toBeNull();
      expect(cpuFlags(join(dir, 'missing'))).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('planning and describing the kernel', () => {
  const avx2 = ['sse2', 'pni', 'ssse3', 'sse4_1', 'sse4_2', 'avx', 'avx2', 'fma'];
  it('detected from the features, unless the user set OPENBLAS_CORETYPE', () => {
    expect(planCore({}, 'x64', avx2)).toEqual({ set: 'Haswell', choice: 'detected', detail: 'CPU has avx2 fma' });
    const user = { OPENBLAS_CORETYPE: 'Sandybridge' };
    expect(planCore(user, 'x64', avx2)).toEqual({ set: null, choice: 'set by the user', detail: 'OPENBLAS_CORETYPE=Sandybridge' });
    expect(describeKernel(planCore(user, 'x64', avx2), 'Sandybridge', true, user).detail).toBe('OPENBLAS_CORETYPE=Sandybridge');
    // 0.3.21 does not accept 'Cooperlake' (it prints "Core not found" and detects alone)
    const coop = { OPENBLAS_CORETYPE: 'Cooperlake' };
    expect(describeKernel(planCore(coop, 'x64', avx2), 'Prescott', true, coop)).toEqual({
      core: 'Prescott', choice: 'set by the user', detail: 'OPENBLAS_CORETYPE=Cooperlake, which this OpenBLAS does not accept: it chose Prescott itself',
    });
  });

  it("leaves OpenBLAS's own detection on arm64, without cpuinfo flags, and below SSE3", () => {
    for (const p of [planCore({}, 'arm64', null), planCore({}, 'x64', null), planCore({}, 'x64', ['sse', 'sse2'])]) {
      expect(p.set).toBeNull();
      expect(p.choice).toBe('fallback');
    }
    expect(planCore({}, 'arm64', null).detail).toMatch(/no tapegrad table for arm64/);
  });

  it('a loaded core other than the planned one is a fallback, with the fix', () => {
    const plan = planCore({}, 'x64', avx2);
    expect(describeKernel(plan, 'Haswell')).toEqual({ core: 'Haswell', choice: 'detected', detail: 'CPU has avx2 fma' });
    const main = describeKernel(plan, 'Prescott', true);
    expect(main).toMatchObject({ core: 'Prescott', choice: 'fallback', wanted: 'Haswell' });
    expect(main.detail).toMatch(/OPENBLAS_CORETYPE=Haswell/);
    const worker = describeKernel(plan, 'Prescott', false);
    expect(worker.detail).toMatch(/first loaded in a worker thread.*OPENBLAS_CORETYPE=Haswell/);
  });

  it('a core of the same level that OpenBLAS chose alone is no loss (no `wanted`, so no notice)', () => {
    const plan = planCore({}, 'x64', CPUS[0][1].split(' '));
    expect(plan.set).toBe('SkylakeX');
    const k = describeKernel(plan, 'Cooperlake', false);
    expect(k).toMatchObject({ core: 'Cooperlake', choice: 'fallback' });
    expect(k.wanted).toBeUndefined();
    expect(describeKernel(planCore({}, 'x64', avx2), 'Zen', false).wanted).toBeUndefined();
    expect(describeKernel(planCore({}, 'x64', avx2), 'Sandybridge', false).wanted).toBe('Haswell');
  });
});

describe("idle OpenBLAS threads' timeout", () => {
  it('tapegrad sets the minimum, 2^4 cycles, unless the user set OPENBLAS_THREAD_TIMEOUT', () => {
    expect(planThreadTimeout({})).toEqual({ set: '4', detail: 'idle OpenBLAS threads sleep after 2^4 cycles (OPENBLAS_THREAD_TIMEOUT=4)' });
    expect(planThreadTimeout({ OPENBLAS_THREAD_TIMEOUT: '20' })).toEqual({ set: null, detail: 'idle OpenBLAS threads: OPENBLAS_THREAD_TIMEOUT=20, set by the user' });
  });
});

describe('the sgemm self-check', () => {
  const js = jsBackend.gemm as (...a: Parameters<typeof sgemmSelfCheck>[0] extends (...x: infer P) => void ? P : never) => void;

  it('passes the JS backend itself (the reference) and a correct product computed another way', () => {
    expect(sgemmSelfCheck(js)).toBeNull();
    // a naive triple loop in double precision
    expect(sgemmSelfCheck((ta, tb, m, n, k, alpha, a, b, beta, c) => {
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) s += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
          c[i * n + j] = alpha * s + (beta === 0 ? 0 : beta * c[i * n + j]);
        }
      }
    })).toBeNull();
  });

  it('names the shape when a kernel is wrong: an edge tail left out, beta ignored, one element off by 0.1%', () => {
    const tailDropped = sgemmSelfCheck((ta, tb, m, n, k, alpha, a, b, beta, c) => {
      const keep = c.slice();
      js(ta, tb, m, n, k, alpha, a, b, beta, c);
      if (m * n * k > 1e6) for (let i = 0; i < m; i++) c[i * n + n - 1] = keep[i * n + n - 1];
    });
    expect(tailDropped).toMatch(/^sgemm A·B with m=101 n=101 k=101 gave .* where the JS backend gives .* \(row \d+ of C·x\)$/);
    const betaIgnored = sgemmSelfCheck((ta, tb, m, n, k, alpha, a, b, _beta, c) => js(ta, tb, m, n, k, alpha, a, b, 0, c));
    expect(betaIgnored).toMatch(/^sgemm Aᵀ·B with m=18 n=9 k=5 gave/);
    const offByAPermille = sgemmSelfCheck((ta, tb, m, n, k, alpha, a, b, beta, c) => {
      js(ta, tb, m, n, k, alpha, a, b, beta, c);
      if (tb && !ta) c[5] *= 1.001;
    });
    expect(offByAPermille).toMatch(/^sgemm A·Bᵀ with m=16 n=8 k=8 gave .* \(element 5\)$/);
  });
});

// ------------------------------------------------------------------ in child processes
// A private copy of the package (its own dist/ compiled here, so that cli.test.ts rebuilding dist/
// at the same time cannot disturb it), once with the addon (build/ linked) and once without.
// Spawned from the js project only, like cli.test.ts.
const spawnTests = process.env.TAPEGRAD_BACKEND !== 'native';
const work = mkdtempSync(join(tmpdir(), 'tapegrad-kernel-'));
const withAddon = join(work, 'pkg');
const noAddon = join(work, 'bare');
const hasAddon = existsSync(join(root, 'build', 'Release', 'tapegrad.node'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function makePackage(dir: string): void {
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  cpSync(join(root, 'package.json'), join(dir, 'package.json'));
  cpSync(join(root, 'bin'), join(dir, 'bin'), { recursive: true });
  // the dependencies, but no installed tapegrad binary package (the addon must come from build/ or nowhere)
  for (const e of readdirSync(join(root, 'node_modules'))) {
    if (e !== '.bin' && e !== '@tapegrad' && e !== 'tapegrad') symlinkSync(join(root, 'node_modules', e), join(dir, 'node_modules', e));
  }
}

/** A user's environment: no OpenBLAS settings (this machine presets them) and no backend choice. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  for (const k of ['OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE', 'TAPEGRAD_BACKEND', 'OPENBLAS_VERBOSE']) if (!(k in extra)) delete env[k];
  return env;
}

function node(cwd: string, script: string, env = userEnv()): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd, encoding: 'utf8', env, timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe.runIf(spawnTests)('in a fresh process', () => {
  beforeAll(() => {
    makePackage(withAddon);
    const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', root,
      '--outDir', join(withAddon, 'dist'), '--sourceMap', 'false', '--declaration', 'false'], { encoding: 'utf8', timeout: 120_000 });
    if (!existsSync(join(withAddon, 'dist', 'index.js'))) throw new Error(`tsc did not emit dist/: ${tsc.stdout}${tsc.stderr}`);
    makePackage(noAddon);
    cpSync(join(withAddon, 'dist'), join(noAddon, 'dist'), { recursive: true });
    if (hasAddon) symlinkSync(join(root, 'build'), join(withAddon, 'build'));
  }, 180_000);

  const kernelOf = (r: { stdout: string; stderr: string }): KernelInfo => {
    const line = r.stdout.trim().split('\n').at(-1) ?? '';
    if (!line.startsWith('{')) throw new Error(`no JSON from the child: ${r.stdout}${r.stderr}`);
    return JSON.parse(line) as KernelInfo;
  };
  const table = coreForFlags(cpuFlags() ?? [])?.core;

  it('the kernel does not depend on what ran before: first, or after other modules and a 2 GiB allocation', (ctx) => {
    if (!hasAddon) ctx.skip('the addon is not built (npm run build:gyp)');
    const print = "console.log(JSON.stringify(m.backendInfo().kernel))";
    const first = kernelOf(node(withAddon, `const m = await import('./dist/index.js'); ${print}`));
    const later = kernelOf(node(withAddon, `
      await import('node:zlib'); await import('node:crypto'); await import('node:http'); await import('node:worker_threads');
      const big = new Float64Array(1 << 28); big[big.length - 1] = 1; // 2 GiB
      const m = await import('./dist/index.js'); ${print}`));
    expect(later).toEqual(first);
    if (process.arch === 'x64' && table) expect(first).toMatchObject({ core: table, choice: 'detected' });
    else expect(first.choice).toBe('fallback');
  });

  it('idle OpenBLAS threads sleep right after a threaded gemm (user-set 2^30 cycles: they spin), said in the reason', (ctx) => {
    if (!hasAddon) ctx.skip('the addon is not built (npm run build:gyp)');
    // CPU time of the process while the main thread sleeps 300 ms after a gemm on two OpenBLAS threads
    const script = `const m = await import('./dist/index.js'); const { nativeAddon } = await import('./dist/backend/native.js');
      const a = nativeAddon(); a.setNumThreads(2); const n = 512, x = new Float32Array(n * n).fill(1), y = new Float32Array(n * n);
      a.gemm(false, false, n, n, n, 1, x, x, 0, y);
      const u = process.cpuUsage(); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300); const d = process.cpuUsage(u);
      console.log(JSON.stringify({ ms: (d.user + d.system) / 1000, reason: m.backendInfo().reason, env: process.env.OPENBLAS_THREAD_TIMEOUT ?? null }));`;
    const run = (env: NodeJS.ProcessEnv) => {
      const r = node(withAddon, script, env), line = r.stdout.trim().split('\n').at(-1) ?? '';
      if (!line.startsWith('{')) throw new Error(`no JSON from the child: ${r.stdout}${r.stderr}`);
      return JSON.parse(line) as { ms: number; reason: string; env: string | null };
    };
    const ours = run(userEnv()), spin = run(userEnv({ OPENBLAS_THREAD_TIMEOUT: '30' }));
    expect(ours.reason).toMatch(/idle OpenBLAS threads sleep after 2\^4 cycles \(OPENBLAS_THREAD_TIMEOUT=4\)$/);
    expect(ours.env).toBeNull(); // set for the dlopen only
    expect(spin.reason).toMatch(/OPENBLAS_THREAD_TIMEOUT=30, set by the user$/);
    expect(spin.env).toBe('30');
    // the worker spins ~2^30 cycles (a third of a second or more) with the user's value, not with ours
    expect(ours.ms).toBeLessThan(30);
    expect(spin.ms).toBeGreaterThan(30);
  });

  it('a first load in a worker thread (process.env does not reach OpenBLAS there) gets no weaker core, or says so', (ctx) => {
    if (!hasAddon) ctx.skip('the addon is not built (npm run build:gyp)');
    writeFileSync(join(withAddon, 'worker.mjs'), "const m = await import('./dist/index.js'); m.tensor([1]).add(1); console.log(JSON.stringify(m.backendInfo().kernel));");
    const r = node(withAddon, "import { Worker } from 'node:worker_threads'; new Worker(new URL('./worker.mjs', 'file://' + process.cwd() + '/'), { execArgv: [] });");
    const k = kernelOf(r);
    if (!table || k.core === table) return; // the core this CPU's features call for
    expect(k.choice).toBe('fallback');
    expect(k.detail).toMatch(/first loaded in a worker thread/);
    // weaker than the table's core: one line on stderr; as good: silent
    expect(r.stderr).toBe(k.wanted ? `tapegrad: OpenBLAS runs its ${k.core} kernel, not ${k.wanted}: ${k.detail}\n` : '');
  });

  it("the CLI's backend line names the kernel and is never Prescott on a CPU with AVX2", (ctx) => {
    if (!hasAddon) ctx.skip('the addon is not built (npm run build:gyp)');
    if (!(cpuFlags() ?? []).includes('avx2')) ctx.skip('this CPU has no AVX2 (or no /proc/cpuinfo): Prescott may be right here');
    const r = spawnSync(process.execPath, [join(withAddon, 'bin', 'tapegrad.js'), 'train', '--dataset', 'xor', '--epochs', '2', '--out', join(work, 'xor.safetensors')],
      { cwd: work, encoding: 'utf8', env: userEnv(), timeout: 120_000 });
    const line = r.stdout.split('\n').find((l) => l.startsWith('backend: ')) ?? '';
    expect(line, r.stdout + r.stderr).toMatch(/^backend: native \(.*OpenBLAS [\d.]+ \(\w+ kernel, detected: CPU has [\w ]+\)/);
    expect(line).not.toMatch(/Prescott/);
  });

  it('a kernel that computes a wrong sgemm falls back to JS, with one line pointing to OPENBLAS_CORETYPE', (ctx) => {
    if (!hasAddon) ctx.skip('the addon is not built (npm run build:gyp)');
    // A preloaded script hands tapegrad the real addon with a gemm that is off in one element.
    const preload = join(work, 'broken-gemm.cjs');
    writeFileSync(preload, `
      const Module = require('node:module');
      const load = Module._load;
      Module._load = function (request, ...rest) {
        const real = load.call(this, request, ...rest);
        if (!String(request).endsWith('.node')) return real;
        const addon = {};
        for (const k in real) addon[k] = typeof real[k] === 'function' ? real[k].bind(real) : real[k];
        addon.gemm = (...a) => { real.gemm(...a); a[9][0] += 1; };
        return addon;
      };`);
    const r = spawnSync(process.execPath, ['--require', preload, '--input-type=module', '-e',
      "const m = await import('./dist/index.js'); m.tensor([1, 2]).add(1); console.log(m.backendInfo().backend)"],
    { cwd: withAddon, encoding: 'utf8', env: userEnv(), timeout: 120_000 });
    expect(r.stdout.trim(), r.stderr).toBe('js');
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^tapegrad: using the JS backend .*: the addon's self-check failed: sgemm A·B with m=19 n=7 k=5 gave .* with OpenBLAS's \w+ kernel, detected: .*; set OPENBLAS_CORETYPE to an older core/);
  });

  const reason = /no compiled addon: .*prebuilds\/[\w-]+\/ nor build\/Release\/tapegrad\.node: install libopenblas-dev .* and run `npm rebuild tapegrad`/;
  const use = "m.tensor([1, 2]).add(1); m.tensor([3]).mul(2);";

  it('without the addon: one line on stderr at first use, naming the reason and the fix', () => {
    const imported = node(noAddon, "const m = await import('./dist/index.js'); console.log(m.backendInfo().backend)");
    expect(imported.stdout.trim()).toBe('js');
    expect(imported.stderr).toBe(''); // importing is not using
    const used = node(noAddon, `const m = await import('./dist/index.js'); ${use} ${use}`);
    expect(used.code).toBe(0);
    const lines = used.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^tapegrad: using the JS backend \(.*TAPEGRAD_BACKEND=js silences this\): /);
    expect(lines[0]).toMatch(reason);
  });

  it('without the addon: silent when the user asked for js', () => {
    const byEnv = node(noAddon, `const m = await import('./dist/index.js'); ${use}`, userEnv({ TAPEGRAD_BACKEND: 'js' }));
    expect(byEnv).toMatchObject({ code: 0, stderr: '' });
    const byCall = node(noAddon, `const m = await import('./dist/index.js'); m.setBackend('js'); ${use}`);
    expect(byCall).toMatchObject({ code: 0, stderr: '' });
  });
});
