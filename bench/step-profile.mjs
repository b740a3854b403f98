// Where an mlp training step's time goes, outside its gemms: node bench/step-profile.mjs [--threads=1] [--reps=400] [--p10]
// 1. Phases of the real step (forward, loss, zeroGrad, backward, step), timed around each call.
// 2. Each kernel the step runs, alone on the step's shapes through the addon (median of reps calls).
// 3. The step's gemms back to back (what the roofline times) and the step itself: the difference
//    is the fixed cost this file accounts for. Medians; the machine may be loaded (see the load line).
import os from 'node:os';
import { parseArgs, mlpData, MLP } from './cases/common.mjs';

const { args } = parseArgs();
const reps = Number(args.reps ?? 400);
const tg = await import('../dist/index.js');
const { nativeAddon, loadNative } = await import('../dist/backend/native.js');
loadNative();
const addon = nativeAddon();
if (!addon) throw new Error('step-profile needs the native addon (npm run build)');
tg.setBackend('native');
addon.setNumThreads(Number(args.threads ?? 1));

const now = () => Number(process.hrtime.bigint()) / 1e3; // µs
// On a loaded machine preemption inflates the median: every figure is also given as the 10th percentile.
const median = (xs) => { const s = xs.slice().sort((a, b) => a - b); return s[s.length >> 1]; };
const p10 = (xs) => { const s = xs.slice().sort((a, b) => a - b); return s[Math.floor(s.length / 10)]; };
const stat = args.p10 ? p10 : median;
function time(fn, n = reps) {
  for (let i = 0; i < Math.min(50, n); i++) fn();
  const xs = [];
  for (let i = 0; i < n; i++) { const t = now(); fn(); xs.push(now() - t); }
  return stat(xs);
}

const { batch: B, sizes: S } = MLP;
tg.manualSeed(0);
const model = new tg.nn.Sequential(new tg.nn.Linear(S[0], S[1]), new tg.nn.ReLU(), new tg.nn.Linear(S[1], S[2]), new tg.nn.ReLU(), new tg.nn.Linear(S[2], S[3]));
const opt = new tg.optim.SGD(model.parameters(), { lr: MLP.lr });
const lossFn = new tg.nn.CrossEntropyLoss();
const d = mlpData(B, S[0], S[3]);
const x = tg.tensor(d.x, { shape: [B, S[0]] });

// 1. phases
const phases = { forward: [], loss: [], zeroGrad: [], backward: [], step: [], total: [] };
for (let i = 0; i < reps + 50; i++) {
  const t0 = now();
  const y = model.forward(x);
  const t1 = now();
  const loss = lossFn.forward(y, d.y);
  const t2 = now();
  opt.zeroGrad();
  const t3 = now();
  loss.backward();
  const t4 = now();
  opt.step();
  const t5 = now();
  if (i < 50) continue;
  phases.forward.push(t1 - t0); phases.loss.push(t2 - t1); phases.zeroGrad.push(t3 - t2);
  phases.backward.push(t4 - t3); phases.step.push(t5 - t4); phases.total.push(t5 - t0);
}

// 1b. the same step with every addon call timed: kernel time inside the step, and what is left (JS)
const inStep = new Map();
const originals = {};
for (const k of Object.keys(addon)) {
  const f = addon[k];
  if (typeof f !== 'function' || k === 'getNumThreads') continue;
  originals[k] = f;
  addon[k] = function (...a) {
    const t = now();
    const r = f.apply(this, a);
    const key = k === 'unary' || k === 'binary' || k === 'reduce' ? `${k} ${a[0]}` : k;
    inStep.set(key, (inStep.get(key) ?? 0) + now() - t);
    return r;
  };
}
const timedSteps = [], perStep = [];
for (let i = 0; i < reps + 50; i++) {
  inStep.clear();
  const t0 = now();
  const loss = lossFn.forward(model.forward(x), d.y);
  opt.zeroGrad();
  loss.backward();
  opt.step();
  const t1 = now();
  if (i < 50) continue;
  let all = 0;
  for (const v of inStep.values()) all += v;
  perStep.push({ total: t1 - t0, kernels: new Map(inStep), all });
  timedSteps.push(t1 - t0);
}
Object.assign(addon, originals);

// 2. kernels alone, on the step's shapes
const f32 = (n, v = 0.5) => new Float32Array(n).fill(v);
const rows = [];
const row = (what, us, per = 1) => rows.push({ what, us: us * per, per });
const gemms = [];
for (let l = 0; l + 1 < S.length; l++) {
  const i = S[l], o = S[l + 1];
  const xa = f32(B * i), w = f32(o * i), y = f32(B * o), gw = f32(o * i), dx = f32(B * i);
  gemms.push(time(() => addon.gemm(false, true, B, o, i, 1, xa, w, 1, y)));
  gemms.push(time(() => addon.gemm(true, false, o, i, B, 1, y, xa, 1, gw)));
  if (l > 0) gemms.push(time(() => addon.gemm(false, false, B, i, o, 1, y, w, 0, dx)));
}
const acts = [B * S[1], B * S[2]];
for (const n of acts) row(`new Float32Array(${n}) (V8 zero-fill + GC)`, time(() => new Float32Array(n)), 1);
for (let l = 1; l < S.length; l++) {
  const o = S[l], bias = f32(o), out = f32(B * o);
  row(`bias rows copied into out [${B},${o}]`, time(() => { for (let r = 0; r < B; r++) out.set(bias, r * o); }));
}
for (const n of acts) {
  const a = f32(n), g = f32(n), o = f32(n);
  row(`relu in place [${n}]`, time(() => addon.unary('relu', a, a)));
  row(`reluGrad [${n}]`, time(() => addon.binary('reluGrad', a, [n], g, [n], o, [n])));
}
for (let l = 1; l < S.length; l++) {
  const o = S[l], g = f32(B * o), db = f32(o);
  row(`bias grad: column sums [${B},${o}]`, time(() => addon.reduce('sum', g, 1, B, o, db)));
}
{
  const logits = f32(B * S[3]), probs = f32(B * S[3]), dl = f32(B * S[3]);
  const labels = Int32Array.from(d.y);
  row('crossEntropy fwd [128,10]', time(() => addon.crossEntropy(logits, labels, B, S[3], probs)));
  row('crossEntropy bwd [128,10]', time(() => addon.crossEntropyBackward(probs, labels, B, S[3], 1 / B, dl)));
}
{
  const o = { lr: 0.01, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 };
  let total = 0;
  for (const p of model.parameters()) {
    const pd = p.data.slice(), gd = f32(p.size, 0);
    total += time(() => addon.sgdStep(pd, gd, null, false, o));
  }
  row('sgdStep, 6 calls, 535,818 params', total);
  const p1 = f32(10), g1 = f32(10, 0);
  row('sgdStep on 10 floats (fixed cost of one call)', time(() => addon.sgdStep(p1, g1, null, false, o)));
  row('unary relu on 10 floats (fixed cost of one call)', time(() => addon.unary('relu', p1, p1)));
}

const gemmSum = gemms.reduce((a, b) => a + b, 0);
const step = stat(phases.total);
const kernelSum = rows.filter((r) => !r.what.includes('fixed cost')).reduce((a, r) => a + r.us, 0);
const load = os.loadavg().map((v) => v.toFixed(2)).join(' ');
console.log(`mlp ${S.join('-')} batch ${B}, ${addon.getNumThreads()} OpenBLAS thread(s), ${reps} reps, load ${load}`);
console.log(`step ${step.toFixed(0)} µs (${(1e6 / step).toFixed(1)} steps/s); its ${gemms.length} gemms alone ${gemmSum.toFixed(0)} µs (${(1e6 / gemmSum).toFixed(1)} steps/s, ${(100 * gemmSum / step).toFixed(1)}%); rest ${(step - gemmSum).toFixed(0)} µs`);
console.log(`phases (${args.p10 ? '10th percentile' : 'median'} µs): ` + Object.entries(phases).map(([k, v]) => `${k} ${stat(v).toFixed(0)}`).join(', '));
// the fastest quarter of the timed steps (least disturbed by other processes), medians over them
const calm = perStep.sort((a, b) => a.total - b.total).slice(0, Math.max(1, perStep.length >> 2));
const keyMed = (f) => median(calm.map(f));
console.log(`addon calls inside the step (fastest quarter of ${perStep.length} steps, median µs/step; timer adds ~0.1 µs per call), step ${keyMed((s) => s.total).toFixed(0)} µs:`);
console.log('  ' + [...calm[0].kernels.keys()].map((k) => `${k} ${keyMed((s) => s.kernels.get(k) ?? 0).toFixed(1)}`).join(', ') +
  `; all addon calls ${keyMed((s) => s.all).toFixed(0)}, JS outside the addon ${keyMed((s) => s.total - s.all).toFixed(0)}`);
console.log('| non-gemm work | µs/step |\n|---|---|');
for (const r of rows) console.log(`| ${r.what} | ${r.us.toFixed(1)} |`);
console.log(`| sum of the kernels above | ${kernelSum.toFixed(0)} |`);
console.log(`| JS bookkeeping and the rest (step - gemms - kernels) | ${(step - gemmSum - kernelSum).toFixed(0)} |`);
