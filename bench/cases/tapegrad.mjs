// tapegrad cases in one process: node bench/cases/tapegrad.mjs --backend=native|js --threads=N [--spec=<json>]
//   [--soak=STEPS] (mlp steps with RSS at intervals instead of the cases). Prints one JSON object.
import { performance } from 'node:perf_hooks';
import {
  parseArgs, measure, mlpData, gemmData, MLP, LARGE, XOR, XOR_X, XOR_Y, stepFlop, memInfo, emit, runCases,
} from './common.mjs';
import { countTypedArrays } from '../../tools/count-allocations.mjs';

const { args, spec } = parseArgs();
const backend = args.backend === 'js' ? 'js' : 'native';
const threads = args.threads ? Number(args.threads) : null;

const tg = await import('../../dist/index.js');
const { nativeAddon, loadNative } = await import('../../dist/backend/native.js');
const { jsBackend } = await import('../../dist/backend/js.js');

const out = { engine: `tapegrad-${backend}`, backend, pid: process.pid, node: process.version, rows: [] };

let addon = null;
if (backend === 'native') {
  const r = loadNative();
  addon = nativeAddon();
  if (!addon) {
    out.unavailable = `native backend unavailable: ${r.reason}`;
    emit(out);
    process.exit(0);
  }
  tg.setBackend('native');
  if (threads) addon.setNumThreads(threads);
  out.threads = addon.getNumThreads();
  out.threadLabel = `${out.threads} (OpenBLAS)`;
  out.openblas = addon.info();
} else {
  tg.setBackend('js');
  out.threads = 1;
  out.threadLabel = '1 (JS)';
}
out.backendInfo = tg.backendInfo();

function sgemmCase() {
  const gemm = backend === 'native'
    ? (s, a, b, c) => addon.gemm(s.ta, s.tb, s.m, s.n, s.k, 1, a, b, 0, c)
    : (s, a, b, c) => jsBackend.gemm(s.ta, s.tb, s.m, s.n, s.k, 1, a, b, 0, c);
  for (const s of spec.sgemm.shapes) {
    const a = gemmData(s.m * s.k, 1), b = gemmData(s.k * s.n, 2), c = new Float32Array(s.m * s.n);
    const flop = 2 * s.m * s.n * s.k;
    const r = measure(() => gemm(s, a, b, c), spec.timing, undefined, true);
    out.rows.push({ case: 'sgemm', shape: s.name, flop, unit: 'GFLOP/s', higherIsBetter: true,
      median: (r.median * flop) / 1e9, min: (r.min * flop) / 1e9, max: (r.max * flop) / 1e9,
      repeats: r.repeats, secPerCall: 1 / r.median, ...(r.capped ? { note: r.capped } : {}) });
  }
}

function buildMlp(cfg) {
  tg.manualSeed(0);
  const layers = [];
  for (let l = 0; l + 1 < cfg.sizes.length; l++) {
    layers.push(new tg.nn.Linear(cfg.sizes[l], cfg.sizes[l + 1]));
    if (l + 2 < cfg.sizes.length) layers.push(new tg.nn.ReLU());
  }
  const model = new tg.nn.Sequential(...layers);
  const opt = new tg.optim.SGD(model.parameters(), { lr: cfg.lr });
  const lossFn = new tg.nn.CrossEntropyLoss();
  const classes = cfg.sizes[cfg.sizes.length - 1];
  const d = mlpData(cfg.batch, cfg.sizes[0], classes);
  const x = tg.tensor(d.x, { shape: [cfg.batch, cfg.sizes[0]] });
  let last = null;
  const step = () => {
    const loss = lossFn.forward(model.forward(x), d.y);
    opt.zeroGrad();
    loss.backward();
    opt.step();
    last = loss;
  };
  return { step, loss: () => last.item() };
}

function mlpCase(name, cfg) {
  const m = buildMlp(cfg);
  m.step();
  const loss0 = m.loss();
  const r = measure(m.step, { ...spec.timing, maxCallTime: spec.timing.maxStepTime }, undefined, true);
  out.rows.push({ case: name, unit: 'steps/s', higherIsBetter: true, median: r.median, min: r.min, max: r.max,
    repeats: r.repeats, flopPerStep: stepFlop(cfg), loss0, lossEnd: m.loss(), ...(r.capped ? { note: r.capped } : {}) });
}

function xorCase() {
  tg.manualSeed(0);
  const model = new tg.nn.Sequential(new tg.nn.Linear(2, 4), new tg.nn.Sigmoid(), new tg.nn.Linear(4, 1), new tg.nn.Sigmoid());
  const opt = new tg.optim.SGD(model.parameters(), { lr: XOR.lr });
  const lossFn = new tg.nn.MSELoss();
  const x = tg.tensor(XOR_X, { shape: [4, 2] }), y = tg.tensor(XOR_Y, { shape: [4, 1] });
  let last = null;
  const step = () => {
    const loss = lossFn.forward(model.forward(x), y);
    opt.zeroGrad();
    loss.backward();
    opt.step();
    last = loss;
  };
  step();
  const loss0 = last.item();
  const r = measure(step, { ...spec.timing, ...spec.xor });
  out.rows.push({ case: 'xor', unit: 'µs/step', higherIsBetter: false, median: 1e6 / r.median, min: 1e6 / r.max,
    max: 1e6 / r.min, repeats: r.repeats, loss0, lossEnd: last.item() });
}

function soak(steps) {
  // RSS at intervals over `steps` mlp steps, then typed-array allocations per step counted with
  // counting subclasses of the typed-array globals (tapegrad allocates with `new Float32Array(n)`).
  const m = buildMlp(MLP);
  const every = Math.max(1, Math.floor(steps / 20));
  const samples = [];
  const t0 = performance.now();
  samples.push({ step: 0, ms: 0, ...memInfo() });
  for (let i = 1; i <= steps; i++) {
    m.step();
    if (i % every === 0 || i === steps) {
      samples.push({ step: i, ms: performance.now() - t0, ...memInfo() });
      process.stderr.write(`soak ${out.engine} step ${i}: rss ${(samples.at(-1).rss / 2 ** 20).toFixed(1)} MiB\n`);
    }
  }
  out.soak = { steps, samples, lossEnd: m.loss() };
  const probe = 100;
  const p0 = performance.now();
  const counts = countTypedArrays(() => { for (let i = 0; i < probe; i++) m.step(); });
  const probeMs = (performance.now() - p0) / probe;
  out.soak.allocPerStep = { typedArrays: counts.typedArrays / probe, bytes: counts.bytes / probe,
    msPerStepDuringCount: probeMs, msPerStepBefore: out.soak.samples.at(-1).ms / steps,
    method: 'counting subclasses of Float32Array/Float64Array/Int32Array on globalThis for 100 steps; JS objects not counted' };
}

const cases = { sgemm: sgemmCase, mlp: () => mlpCase('mlp', MLP), large: () => mlpCase('large', LARGE), xor: xorCase };
if (args.soak) soak(Number(args.soak) > 1 ? Number(args.soak) : 10000);
runCases(out, args.soak ? [] : spec.cases, cases);
