// A short memory soak (tools/soak.mjs in a child with --expose-gc and a pinned young generation):
// 20,000 XOR steps and a few hundred 784-512-256-10 MLP steps on the project's backend; RSS after the
// run must be within 10% of RSS after warm-up. `npm run soak` is the long run (target < 5%).
// On the JS backend an MLP step takes ~100 ms, so it runs 40 MLP steps instead of 300.
import { describe, expect, it } from 'vitest';
import { nativeAddon } from '../../lib/backend/native.js';
import { BACKEND, runScriptAsync, tagged } from './testkit.mjs';

interface Phase { steps: number; rssGrowthPct: number; rssMB: { afterWarmup: number; end: number; peak: number }; heapUsedMB: { afterWarmup: number; end: number }; arrayBuffersMB: { afterWarmup: number; end: number } }

describe.runIf(BACKEND === 'js' || nativeAddon())(`memory soak (${BACKEND})`, () => {
  it('RSS grows < 10% after warm-up over 20,000 small and 300 (js: 40) MLP steps', async () => {
    const mlp = BACKEND === 'js' ? '40' : '300';
    const r = await runScriptAsync('tools/soak.mjs', ['--backend', BACKEND, '--small', '20000', '--mlp', mlp], { timeout: 60_000 });
    const res = tagged(r.stdout, 'SOAK-RESULT') as { gc: boolean; small: Phase; mlp: Phase; finalLoss: { small: number; mlp: number } } | null;
    expect(res, `no result (exit ${r.status}, ${r.signal}): ${r.stderr}`).not.toBeNull();
    console.log(`[soak ${BACKEND}]\n${r.stdout.split('\n').filter((l: string) => !l.startsWith('SOAK-RESULT')).join('\n')}`);
    expect(res!.gc).toBe(true);
    for (const p of [res!.small, res!.mlp]) {
      expect(p.rssGrowthPct).toBeLessThan(10);
      expect(p.heapUsedMB.end - p.heapUsedMB.afterWarmup).toBeLessThan(2);
      expect(p.arrayBuffersMB.end - p.arrayBuffersMB.afterWarmup).toBeLessThan(2);
    }
    expect(Number.isFinite(res!.finalLoss.small) && Number.isFinite(res!.finalLoss.mlp)).toBe(true);
  }, 60_000);
});
