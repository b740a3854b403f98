// The native boundary under a seeded fuzz (tools/fuzz.mjs, in a child process so that a crash is an
// exit signal, not a dead test runner): every entry point of the addon, 3,000 calls, no crash, every
// bad call a TypeError/RangeError naming its kernel, valid calls finite. `npm run fuzz` is the long run.
// Two native bugs it found (fixed) keep a direct repro below.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { nativeAddon, nativeAddonPath } from '../../lib/backend/native.js';
import { BACKEND, ROOT, runScript, tagged } from './testkit.mjs';

const addon = nativeAddon();
// The fuzz does not depend on the active backend: run it once, in the native project (or standalone).
const run = !!addon && (process.env.TAPEGRAD_BACKEND === undefined || BACKEND === 'native');

interface Summary { calls: number; rejected: number; valid: number; failures: unknown[]; crashed: boolean; exitCode: number | null; signal: string | null; entryPoints: string[]; byEntry: Record<string, number> }

describe.runIf(run)('native boundary fuzz', () => {
  it('3,000 seeded calls into every addon entry point: no crash, only named TypeError/RangeError', () => {
    const r = runScript('tools/fuzz.mjs', ['--calls', '3000', '--seed', '2024', '--quiet']);
    const s = tagged<Summary>(r.stdout, 'FUZZ-SUMMARY');
    expect(s, `no summary; stderr: ${r.stderr}`).not.toBeNull();
    expect(s!.crashed, `child crashed: exit ${s!.exitCode}, signal ${s!.signal}`).toBe(false);
    expect(s!.failures).toEqual([]);
    expect(r.status).toBe(0);
    expect(s!.calls).toBe(3000);
    // every enumerable entry point of the addon was driven, gemmAsync included
    expect(s!.entryPoints).toEqual(Object.keys(addon!).filter((k) => typeof (addon as unknown as Record<string, unknown>)[k] === 'function'));
    expect(s!.entryPoints).toContain('gemmAsync');
    for (const e of s!.entryPoints) expect(s!.byEntry[e], e).toBeGreaterThan(50);
    expect(s!.rejected).toBeGreaterThan(1000);
    expect(s!.valid).toBeGreaterThan(500);
  }, 60_000);

  // Runs `code` (CommonJS, `addon` in scope) in a child with an 8 GB address-space limit, so that a
  // huge allocation fails at once instead of swapping the machine.
  function repro(code: string): { status: number | null; signal: string | null; stderr: string } {
    const js = `const addon = require(${JSON.stringify(nativeAddonPath())}); ${code}`;
    const r = spawnSync('bash', ['-c', `ulimit -v 8000000; exec "${process.execPath}" --expose-gc -e "$0"`, js], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    return { status: r.status, signal: r.signal, stderr: r.stderr };
  }

  it('softmax / reduce sum with outer = 0 and a huge inner neither allocate nor abort (was std::bad_alloc)', () => {
    const r = repro(`
      for (const f of [() => addon.softmax(new Float32Array(0), 0, 6, 2 ** 31 - 1, new Float32Array(0), true),
                       () => addon.reduce('sum', new Float32Array(0), 0, 1, 2 ** 31 - 1, new Float32Array(0))]) {
        try { f(); } catch (e) { if (!(e instanceof RangeError)) throw e; }
      }`);
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(0);
  }, 60_000);

  it('a buffer transferred while gemmAsync is pending: the promise rejects, no use after free (was SIGSEGV)', () => {
    const r = repro(`
      (async () => {
        const n = 1500, a = new Float32Array(n * n).fill(1), b = new Float32Array(n * n).fill(1);
        for (let t = 0; t < 10; t++) {
          const c = new Float32Array(n * n);
          const p = addon.gemmAsync(false, false, n, n, n, 1, a, b, 0, c);
          structuredClone(c.buffer, { transfer: [c.buffer] });
          global.gc();
          const fresh = Array.from({ length: 8 }, () => new Float32Array(n * n));
          try { await p; } catch (e) { if (!(e instanceof TypeError || e instanceof RangeError)) throw e; }
          if (fresh.some((f) => f.some((v) => v !== 0))) throw new Error('use after free: a new allocation was written by gemmAsync');
        }
      })().catch((e) => { console.error(e); process.exit(3); });`);
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(0);
  }, 60_000);
});
