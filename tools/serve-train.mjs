#!/usr/bin/env node
// Does training freeze a server? An HTTP server on 127.0.0.1 (random port) answers a keep-alive GET
// load (a child process, `--concurrency` loops) while an MLP (784-256-10, batch 64, random
// MNIST-sized data) trains, and we measure the server's event-loop delay
// (perf_hooks.monitorEventLoopDelay: p50 / p99 / max, ms) and requests/s. Variants (--mode, comma list):
//   idle    the server alone (reference)
//   inproc  training with fit() in the same thread (fit yields every --yield-ms via setImmediate)
//   worker  training in a worker_thread (the native addon is context-aware); the main thread only serves
//   trainInWorker  the same training through the library's trainInWorker() (data copied in, progress
//           messages every 100 ms back, cancelled through an AbortSignal at the end)
//
//   node tools/serve-train.mjs [--seconds 10] [--concurrency 8] [--mode idle,inproc,worker,trainInWorker] [--backend native|js] [--yield-ms 10] [--nice 10]
//   npm run serve-bench
// Targets: p99 <= 20 ms in-process, <= 5 ms with training off the main thread. Prints a table and `SERVE-RESULT <json>`.
import { spawn } from 'node:child_process';
import http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const self = fileURLToPath(import.meta.url);
const argv = process.argv.slice(2);
const opt = (n, d) => { const i = argv.indexOf(`--${n}`); return i >= 0 ? argv[i + 1] : d; };

// (--batch B changes the batch size; the default 64 is the benchmark.)

// ---- load generator (child process) --------------------------------------------------------------
if (argv[0] === '--load-gen') {
  const [, port, seconds, concurrency] = argv.map(Number);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const lat = [];
  let ok = 0, errors = 0;
  const t0 = performance.now(), end = t0 + seconds * 1000;
  const get = () => new Promise((res) => {
    const s = performance.now();
    const req = http.get({ host: '127.0.0.1', port, path: '/health', agent }, (r) => {
      r.resume();
      r.on('end', () => { if (r.statusCode === 200) ok++; else errors++; lat.push(performance.now() - s); res(); });
    });
    req.on('error', () => { errors++; res(); });
  });
  const loop = async () => { while (performance.now() < end) await get(); };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : NaN);
  process.stdout.write(JSON.stringify({ ok, errors, rps: ok / secs, latP50: q(0.5), latP99: q(0.99), latMax: lat.at(-1) ?? NaN }) + '\n');
  agent.destroy();
  process.exit(0);
}

const { default: tg } = await import('./tapegrad.mjs');
const { nn, optim, randn, manualSeed, setBackend, backendInfo, fit, TensorDataset, DataLoader, tensor, trainInWorker } = tg;

/** The data: 64 batches of random MNIST-sized inputs. */
function makeData(backend, batch) {
  setBackend(backend);
  manualSeed(0);
  const n = 64 * batch;
  return [randn([n, 784]), tensor(Array.from({ length: n }, (_, i) => (i * 7) % 10))];
}

/** The training job: MLP 784-256-10 on random data (64 batches of 64), epochs until aborted. */
async function train(backend, signal, yieldEveryMs, onStep, batch = 64) {
  const [x, y] = makeData(backend, batch);
  const loader = new DataLoader(new TensorDataset(x, y), { batchSize: batch, shuffle: true, seed: 1 });
  const model = new nn.Sequential(new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 10));
  const optimizer = new optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
  return fit(model, loader, { lossFn: new nn.CrossEntropyLoss(), optimizer, epochs: 1e9, yieldEveryMs, signal, onBatch: onStep });
}

// ---- worker: trains until told to stop ----------------------------------------------------------
if (!isMainThread) {
  const ac = new AbortController();
  parentPort.on('message', (m) => { if (m === 'stop') ac.abort(); });
  let steps = 0;
  const h = await train(workerData.backend, ac.signal, workerData.yieldMs, () => { steps++; }, workerData.batch);
  parentPort.postMessage({ steps: h.steps, info: backendInfo() });
  parentPort.close();
} else {
  const seconds = Number(opt('seconds', 10)), concurrency = Number(opt('concurrency', 8));
  const modes = String(opt('mode', 'idle,inproc,worker,trainInWorker')).split(',');
  const backend = opt('backend', process.env.TAPEGRAD_BACKEND || 'native');
  const yieldMs = Number(opt('yield-ms', 10));
  const batch = Number(opt('batch', 64));
  const warmup = Math.min(1, seconds * 0.1);
  const results = [];
  const target = (mode) => (mode === 'idle' ? Infinity : mode === 'inproc' ? 20 : 5);

  for (const mode of modes) {
    if (!['idle', 'inproc', 'worker', 'trainInWorker'].includes(mode)) throw new Error(`serve-train: unknown mode ${mode}`);
    const server = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
    server.keepAliveTimeout = 30_000;
    await new Promise((res) => server.listen(0, '127.0.0.1', res));
    const { port } = server.address();

    const ac = new AbortController();
    let steps = 0, trainInfo = null, worker = null, training = null;
    if (mode === 'inproc') training = train(backend, ac.signal, yieldMs, () => { steps++; }, batch).then(() => { trainInfo = backendInfo(); });
    if (mode === 'worker') {
      worker = new Worker(self, { workerData: { backend, yieldMs: 50, batch } });
      training = new Promise((res, rej) => {
        worker.once('message', (m) => { steps = m.steps; trainInfo = m.info; res(); });
        worker.once('error', rej);
      });
    }
    if (mode === 'trainInWorker') {
      const spec = {
        model: { mlp: { inFeatures: 784, hidden: [256], outFeatures: 10, activation: 'relu' } }, data: makeData(backend, batch),
        loss: 'CrossEntropyLoss', optimizer: { name: 'SGD', options: { lr: 0.01, momentum: 0.9 } }, epochs: 1e9, batchSize: batch, seed: 1, backend,
      };
      training = trainInWorker(spec, { signal: ac.signal, nice: Number(opt('nice', 10)), onProgress: (p) => { steps = p.step ?? steps; } }).catch((e) => {
        if (e.name !== 'AbortError') throw e;
        steps = e.history.steps;
        trainInfo = { reason: `${backend} (in the worker)` };
      });
    }
    const gen = spawn(process.execPath, [self, '--load-gen', String(port), String(seconds), String(concurrency)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    gen.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
    const genDone = new Promise((res) => gen.on('exit', res));

    const h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    const stepsAtWarm = await new Promise((res) => setTimeout(() => { h.reset(); res(steps); }, warmup * 1000));
    const tWarm = performance.now();
    await genDone;
    h.disable();
    const trainSecs = (performance.now() - tWarm) / 1000;
    const stepsDuring = steps - stepsAtWarm;
    ac.abort();
    worker?.postMessage('stop');
    await training;
    await worker?.terminate();
    server.closeAllConnections();
    await new Promise((res) => server.close(res));
    const load = JSON.parse(out.trim().split('\n').at(-1));
    const ms = (v) => Math.round((v / 1e6) * 100) / 100;
    const r = {
      mode, backend: mode === 'idle' ? null : backend, batch: mode === 'idle' ? null : batch, seconds, concurrency, yieldEveryMs: mode === 'inproc' ? yieldMs : undefined,
      loopDelayMs: { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), mean: ms(h.mean) },
      requestsPerSec: Math.round(load.rps), requestErrors: load.errors,
      requestLatencyMs: { p50: +load.latP50.toFixed(2), p99: +load.latP99.toFixed(2), max: +load.latMax.toFixed(2) },
      trainSteps: mode === 'worker' ? steps : steps, trainStepsPerSec: mode === 'inproc' || mode === 'trainInWorker' ? Math.round(stepsDuring / trainSecs) : mode === 'worker' ? Math.round(steps / seconds) : 0,
      backendInfo: trainInfo?.reason,
    };
    results.push(r);
    console.log(`${mode.padEnd(13)} ${String(r.backend ?? '-').padEnd(6)} loop delay p50 ${r.loopDelayMs.p50} ms, p99 ${r.loopDelayMs.p99} ms, max ${r.loopDelayMs.max} ms | ${r.requestsPerSec} req/s (latency p99 ${r.requestLatencyMs.p99} ms) | training ${r.trainStepsPerSec} steps/s${r.loopDelayMs.p99 <= target(mode) ? '' : `   (p99 above the ${target(mode)} ms target)`}`);
  }
  console.log(`SERVE-RESULT ${JSON.stringify(results)}`);
}
