// @tensorflow/tfjs cases in one process: node bench/cases/tfjs.mjs --backend=cpu|wasm [--threads=N] [--spec=<json>]
// The models are written with tf ops + tf.train.sgd / optimizer.minimize, the same work as the tapegrad
// and PyTorch cases: y = x·W + b with W [in, out] (tf.layers.dense's layout), softmax cross-entropy
// (mean over the batch) against one-hot labels, gradients only for the variables. Prints one JSON object.
import { performance } from 'node:perf_hooks';
import {
  parseArgs, measure, mlpData, gemmData, MLP, LARGE, XOR, XOR_X, XOR_Y, stepFlop, memInfo, emit, runCases,
} from './common.mjs';

const { args, spec } = parseArgs();
const backend = args.backend === 'wasm' ? 'wasm' : 'cpu';

// tfjs prints a hint about tfjs-node on import: keep stdout for the JSON.
const log = console.log;
console.log = (...a) => process.stderr.write(a.join(' ') + '\n');
const tf = await import('@tensorflow/tfjs');
const out = { engine: `tfjs-${backend}`, backend, pid: process.pid, node: process.version, version: tf.version.tfjs, rows: [] };
let wasm = null;
if (backend === 'wasm') {
  wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (args.threads) wasm.setThreadsCount(Number(args.threads));
}
await tf.setBackend(backend);
await tf.ready();
console.log = log;
if (tf.getBackend() !== backend) {
  out.unavailable = `tfjs backend '${backend}' did not initialize (active: ${tf.getBackend()})`;
  emit(out);
  process.exit(0);
}
if (backend === 'wasm') {
  out.threads = wasm.getThreadsCount();
  out.threadLabel = `${out.threads} (wasm${tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT') ? '' : ', no multithread support in Node'}${tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? ', SIMD' : ''})`;
} else {
  out.threads = 1;
  out.threadLabel = '1 (JS, single-threaded)';
}

function sgemmCase() {
  for (const s of spec.sgemm.shapes) {
    const a = tf.tensor2d(gemmData(s.m * s.k, 1), s.ta ? [s.k, s.m] : [s.m, s.k]);
    const b = tf.tensor2d(gemmData(s.k * s.n, 2), s.tb ? [s.n, s.k] : [s.k, s.n]);
    const flop = 2 * s.m * s.n * s.k;
    // cpu and wasm kernels run synchronously inside matMul; dispose frees the result.
    const r = measure(() => tf.matMul(a, b, s.ta, s.tb).dispose(), spec.timing, undefined, true);
    a.dispose();
    b.dispose();
    out.rows.push({ case: 'sgemm', shape: s.name, flop, unit: 'GFLOP/s', higherIsBetter: true,
      median: (r.median * flop) / 1e9, min: (r.min * flop) / 1e9, max: (r.max * flop) / 1e9,
      repeats: r.repeats, secPerCall: 1 / r.median, ...(r.capped ? { note: r.capped } : {}) });
  }
}

/** U(-1/√in, 1/√in) like PyTorch's Linear, seeded. */
function dense(i, o, seed) {
  const bound = 1 / Math.sqrt(i);
  return {
    w: tf.variable(tf.randomUniform([i, o], -bound, bound, 'float32', seed)),
    b: tf.variable(tf.randomUniform([o], -bound, bound, 'float32', seed + 1)),
  };
}

function buildMlp(cfg) {
  const layers = [];
  for (let l = 0; l + 1 < cfg.sizes.length; l++) layers.push(dense(cfg.sizes[l], cfg.sizes[l + 1], 10 * l));
  const classes = cfg.sizes[cfg.sizes.length - 1];
  const d = mlpData(cfg.batch, cfg.sizes[0], classes);
  const x = tf.tensor2d(d.x, [cfg.batch, cfg.sizes[0]]);
  const y = tf.oneHot(tf.tensor1d(d.y, 'int32'), classes).toFloat();
  const opt = tf.train.sgd(cfg.lr);
  const lossFn = () => {
    let h = x;
    layers.forEach((L, i) => {
      h = tf.add(tf.matMul(h, L.w), L.b);
      if (i + 1 < layers.length) h = tf.relu(h);
    });
    return tf.losses.softmaxCrossEntropy(y, h); // mean over the batch
  };
  let lastLoss = NaN;
  const step = () => opt.minimize(lossFn, false);
  const stepWithLoss = () => {
    const l = opt.minimize(lossFn, true);
    lastLoss = l.dataSync()[0];
    l.dispose();
    return lastLoss;
  };
  return { step, stepWithLoss };
}

function mlpCase(name, cfg) {
  const m = buildMlp(cfg);
  const loss0 = m.stepWithLoss();
  const tensors0 = tf.memory().numTensors;
  const r = measure(m.step, { ...spec.timing, maxCallTime: spec.timing.maxStepTime }, undefined, true);
  out.rows.push({ case: name, unit: 'steps/s', higherIsBetter: true, median: r.median, min: r.min, max: r.max,
    repeats: r.repeats, flopPerStep: stepFlop(cfg), loss0, lossEnd: m.stepWithLoss(),
    leakedTensors: tf.memory().numTensors - tensors0, ...(r.capped ? { note: r.capped } : {}) });
}

function xorCase() {
  const l1 = dense(2, 4, 100), l2 = dense(4, 1, 110);
  const x = tf.tensor2d(XOR_X, [4, 2]), y = tf.tensor2d(XOR_Y, [4, 1]);
  const opt = tf.train.sgd(XOR.lr);
  const lossFn = () => tf.losses.meanSquaredError(y, tf.sigmoid(tf.add(tf.matMul(tf.sigmoid(tf.add(tf.matMul(x, l1.w), l1.b)), l2.w), l2.b)));
  const first = opt.minimize(lossFn, true);
  const loss0 = first.dataSync()[0];
  first.dispose();
  const r = measure(() => opt.minimize(lossFn, false), { ...spec.timing, ...spec.xor });
  const last = opt.minimize(lossFn, true);
  out.rows.push({ case: 'xor', unit: 'µs/step', higherIsBetter: false, median: 1e6 / r.median, min: 1e6 / r.max,
    max: 1e6 / r.min, repeats: r.repeats, loss0, lossEnd: last.dataSync()[0] });
  last.dispose();
}

runCases(out, spec.cases, { sgemm: sgemmCase, mlp: () => mlpCase('mlp', MLP), large: () => mlpCase('large', LARGE), xor: xorCase });
