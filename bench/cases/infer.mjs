// Serving latency in one process: node bench/cases/infer.mjs [--engines=a,b] [--spec=<json>]
// The default MNIST model of `tapegrad train` (784-128-10 relu, seed 0) on 1 row and 64 rows, each
// call timed on its own: tapegrad-native Predictor.predictBatch (into an `out` tensor) and plain
// noGrad(model.forward), tapegrad-js predictBatch, and onnxruntime-node on the model exported with
// exportOnnx (same weights). All on 1 thread. Engines take turns in blocks of calls (a loaded
// machine disturbs them alike); p50/p99 are over every timed call. Prints one JSON object.
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { parseArgs, mulberry32, memInfo, emit, INFER } from './common.mjs';

const { args, spec } = parseArgs();
const want = args.engines ? String(args.engines).split(',') : ['tapegrad-native', 'tapegrad-js', 'onnxruntime'];
const here = dirname(fileURLToPath(import.meta.url));
const tg = await import('../../dist/index.js');
const { nativeAddon } = await import('../../dist/backend/native.js');

const out = { engine: 'infer', threads: 1, threadLabel: '1', pid: process.pid, node: process.version, rows: [], engines: {} };

tg.manualSeed(INFER.seed);
const [inF, hidden, outF] = INFER.sizes;
const model = tg.nn.mlp({ inFeatures: inF, hidden: [hidden], outFeatures: outF, activation: INFER.activation });
model.eval();
const predictor = new tg.Predictor(model);

/** Engines: name, variant, a setup per row count giving an (async or sync) call and its output. */
const engines = [];
if (want.includes('tapegrad-native') && nativeAddon()) {
  tg.setBackend('native');
  tg.setNumThreads(1);
  out.engines['tapegrad-native'] = { backendInfo: tg.backendInfo() };
  const native = () => { tg.setBackend('native'); };
  engines.push({ engine: 'tapegrad-native', variant: 'predictBatch', enter: native, make: (x, o) => () => predictor.predictBatch(x.t, o.t) });
  engines.push({ engine: 'tapegrad-native', variant: 'noGrad(forward)', enter: native, make: (x, o) => () => { o.last = tg.noGrad(() => model.forward(x.t)); } });
} else if (want.includes('tapegrad-native')) {
  out.engines['tapegrad-native'] = { unavailable: 'native addon not available' };
}
if (want.includes('tapegrad-js')) {
  out.engines['tapegrad-js'] = { backend: 'js' };
  engines.push({ engine: 'tapegrad-js', variant: 'predictBatch', enter: () => tg.setBackend('js'), make: (x, o) => () => predictor.predictBatch(x.t, o.t) });
}
if (want.includes('onnxruntime')) {
  try {
    const require = createRequire(import.meta.url);
    const ort = require('onnxruntime-node');
    const dir = join(here, '..', '.build');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `infer-${INFER.sizes.join('-')}.onnx`);
    tg.exportOnnx(model, file);
    const options = { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' };
    const session = await ort.InferenceSession.create(file, options);
    const [inName] = session.inputNames, [outName] = session.outputNames;
    out.engines.onnxruntime = { version: require('onnxruntime-node/package.json').version, options, file: 'bench/.build/' + file.split('/').pop() };
    // the output is pre-allocated and bound (fetches), its fastest way
    engines.push({ engine: 'onnxruntime', variant: 'run', async: true, make: (x, o) => {
      const feeds = { [inName]: new ort.Tensor('float32', x.data, [x.rows, inF]) };
      const ot = new ort.Tensor('float32', o.t.data, [x.rows, outF]);
      return () => session.run(feeds, { [outName]: ot });
    } });
  } catch (e) {
    out.engines.onnxruntime = { unavailable: `onnxruntime-node: ${e.message.split('\n')[0]}` };
  }
}

function percentile(sorted, p) {
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
}

async function inferCase() {
  const t = spec.infer;
  for (const rows of INFER.rows) {
    const r = mulberry32(1234);
    const data = new Float32Array(rows * inF);
    for (let i = 0; i < data.length; i++) data[i] = r(); // pixel-like values in [0, 1)
    const x = { t: new tg.Tensor(data, [rows, inF]), data, rows };
    const runs = engines.map((e) => {
      const o = { t: new tg.Tensor(new Float32Array(rows * outF), [rows, outF]), last: null };
      return { e, o, call: e.make(x, o), times: [], roundP50: [] };
    });
    const calls = t.calls[rows] ?? t.calls[String(rows)];
    const perRound = Math.max(1, Math.ceil(calls / t.rounds));
    // round 0 is warm-up (not recorded)
    for (let round = 0; round <= t.rounds; round++) {
      for (const run of runs) {
        run.e.enter?.();
        const n = round === 0 ? t.warmup : perRound, kept = [];
        for (let i = 0; i < n; i++) {
          const t0 = process.hrtime.bigint();
          if (run.e.async) await run.call();
          else run.call();
          kept.push(Number(process.hrtime.bigint() - t0) / 1e3);
        }
        if (round > 0) {
          run.times.push(...kept);
          run.roundP50.push(percentile(kept.sort((a, b) => a - b), 0.5));
        }
      }
    }
    // every engine's output against plain forward (the same weights and input)
    tg.setBackend(engines.some((e) => e.engine === 'tapegrad-native') ? 'native' : 'js');
    const ref = tg.noGrad(() => model.forward(x.t)).data;
    for (const { e, o, times, roundP50 } of runs) {
      const got = o.last ? o.last.data : o.t.data;
      let diff = 0;
      for (let i = 0; i < ref.length; i++) diff = Math.max(diff, Math.abs(got[i] - ref[i]));
      times.sort((a, b) => a - b);
      roundP50.sort((a, b) => a - b);
      out.rows.push({
        case: 'infer', shape: rows === 1 ? '1 row' : `${rows} rows`, engine: e.engine, variant: e.variant,
        unit: 'µs p50', higherIsBetter: false, median: percentile(times, 0.5), p50: percentile(times, 0.5),
        p90: percentile(times, 0.9), p99: percentile(times, 0.99), max: roundP50.at(-1), min: roundP50[0], worst: times.at(-1),
        repeats: times.length, rounds: t.rounds, maxAbsDiffVsForward: diff,
      });
    }
  }
}

const t0 = performance.now();
process.stderr.write(`  infer: ${engines.map((e) => `${e.engine} ${e.variant}`).join(', ')}\n`);
await inferCase();
out.seconds = (performance.now() - t0) / 1000;
out.mem = memInfo();
const cpu = process.cpuUsage();
out.cpuSeconds = (cpu.user + cpu.system) / 1e6;
emit(out);
