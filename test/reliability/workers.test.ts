// Two trainings in two worker_threads at once give bit-identical weights and losses to the same training
// alone in the main thread: no shared mutable state between threads (JS globals, the native addon's
// instances, OpenBLAS). Runs on the vitest project's backend (both backends across the two projects).
// The addon loading in 4 workers at once is covered by test/native.test.ts.
import { Worker } from 'node:worker_threads';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nativeAddon } from '../../lib/backend/native.js';
import { BACKEND, NODE_ARGS, ROOT, childEnv } from './testkit.mjs';
import { trainJob } from './train-job.mjs';

type Job = { backend: string; steps: number; losses: number[]; weights: Record<string, Float32Array> };
const backends = process.env.TAPEGRAD_BACKEND ? [BACKEND] : ['js', 'native'];

function inWorker(opts: Record<string, unknown>): Promise<Job> {
  // The worker runs the TypeScript sources through the same hooks as the child processes.
  const w = new Worker(resolve(ROOT, 'test', 'reliability', 'train-job.mjs'), { workerData: { trainJob: opts }, execArgv: NODE_ARGS, env: childEnv() });
  return new Promise((res, rej) => {
    w.once('message', (m: Job) => { res(m); void w.terminate(); });
    w.once('error', rej);
    w.once('exit', (code) => { if (code !== 0) rej(new Error(`worker exited with ${code}`)); });
  });
}

describe('training in worker threads', () => {
  for (const backend of backends) {
    it.runIf(backend === 'js' || nativeAddon())(`${backend}: two concurrent workers match the main thread bit for bit (50 steps)`, async () => {
      const opts = { backend, seed: 42, steps: 50 };
      const [a, b] = await Promise.all([inWorker(opts), inWorker(opts)]);
      const ref = (await trainJob(opts)) as Job;
      expect(ref.backend).toBe(backend);
      expect(ref.steps).toBe(50);
      expect(ref.losses[49]).toBeLessThan(ref.losses[0]); // it trained
      for (const [name, r] of [['worker 1', a], ['worker 2', b]] as const) {
        expect(r.backend, name).toBe(backend);
        expect(r.losses.map((v) => Object.is(v, -0) ? 0 : v), `${name}: losses`).toEqual(ref.losses.map((v) => Object.is(v, -0) ? 0 : v));
        expect(Object.keys(r.weights)).toEqual(Object.keys(ref.weights));
        for (const k of Object.keys(ref.weights)) {
          const x = Buffer.from(r.weights[k].buffer, r.weights[k].byteOffset, r.weights[k].byteLength);
          const y = Buffer.from(ref.weights[k].buffer, ref.weights[k].byteOffset, ref.weights[k].byteLength);
          expect(x.equals(y), `${name}: ${k} differs from the main thread's`).toBe(true);
        }
      }
    }, 60_000);
  }
});
