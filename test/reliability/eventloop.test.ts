// A server stays responsive while a model trains (scripts/serve-train.mjs, reduced): keep-alive GET load
// from a child process, training with fit() in the server's thread and, separately, in a worker_thread;
// event-loop delay p99 must stay <= 50 ms (the script's target is 20 ms; 50 absorbs CI noise).
// On the JS backend one 784-256-10 step at batch 64 takes ~20 ms by itself (fit can only yield between
// steps), so the in-process JS variant trains at batch 32 here.
import { describe, expect, it } from 'vitest';
import { nativeAddon } from '../../lib/backend/native.js';
import { BACKEND, runScriptAsync, tagged } from '../../scripts/testkit.mjs';

interface Result { mode: string; loopDelayMs: { p50: number; p99: number; max: number }; requestsPerSec: number; requestErrors: number; trainSteps: number }

describe.runIf(BACKEND === 'js' || nativeAddon())(`event loop under training (${BACKEND})`, () => {
  it('in-process fit() and a training worker keep p99 event-loop delay <= 50 ms', async () => {
    const r = await runScriptAsync('scripts/serve-train.mjs', ['--seconds', '1.5', '--mode', 'inproc,worker', '--backend', BACKEND, '--batch', BACKEND === 'js' ? '32' : '64'], { timeout: 60_000 });
    const res = tagged(r.stdout, 'SERVE-RESULT') as Result[] | null;
    expect(res, `no result: ${r.stderr}`).not.toBeNull();
    console.log(`[eventloop ${BACKEND}]\n${r.stdout.split('\n').filter((l: string) => !l.startsWith('SERVE-RESULT')).join('\n')}`);
    for (const m of res!) {
      expect(m.trainSteps, `${m.mode}: trained`).toBeGreaterThan(0);
      expect(m.requestsPerSec, `${m.mode}: served`).toBeGreaterThan(50);
      expect(m.requestErrors, m.mode).toBe(0);
      expect(m.loopDelayMs.p99, `${m.mode}: p99 event-loop delay`).toBeLessThanOrEqual(50);
    }
  }, 60_000);
});
