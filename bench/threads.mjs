// Two threads, per gemm shape of the mlp and large steps: which way of using them is fastest.
//   npm run bench:threads [-- --quick]    (after npm run build; prints one table, and the load)
// Backward (dX = g·W and dW = gᵀ·x of one layer): "1t" the two gemm calls on 1 OpenBLAS thread,
// "2t" the two calls on 2 OpenBLAS threads, "pair" one gemmPair (both at once, 1 OpenBLAS thread
// each). Forward (y = x·Wᵀ): "1t", "2t", and "split" = gemmPair on the two row halves of x and y.
// "linear": the linear kernel on 2 threads, as the step runs it (native/linear.cc picks its plan:
// output columns for mid-sized layers, each thread with its own rows of W).
// dW layout: gᵀ·x straight into dW, against xᵀ·g (the operands swapped, C transposed) + permute.
// Blocks of calls interleaved across the variants; median µs per call over the blocks.
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';

// OpenBLAS as users get it (like bench/run.mjs): without the environment's core presets, which it
// reads when the addon loads, so this re-runs itself without them.
if (process.env.OPENBLAS_CORETYPE || process.env.OPENBLAS_L2_SIZE) {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  process.exit(spawnSync(process.execPath, process.argv.slice(1), { env, stdio: 'inherit' }).status ?? 1);
}
const { nativeAddon } = await import('../dist/backend/native.js');

const A = nativeAddon();
if (!A) { console.log('threads: the native addon is not built'); process.exit(0); }
const quick = process.argv.includes('--quick');
const rnd = (n, s) => { const a = new Float32Array(n); let x = s; for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) >>> 0; a[i] = x / 2 ** 32 - 0.5; } return a; };
const med = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
const blocks = quick ? 5 : 11;

function race(flop, variants) {
  const calls = Math.max(2, Math.round((quick ? 2e7 : 6e7) / flop));
  const res = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (const [, [set, f]] of Object.entries(variants)) { set(); f(); }
  for (let b = 0; b < blocks; b++) {
    for (const [k, [set, f]] of Object.entries(variants)) {
      set();
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < calls; i++) f();
      res[k].push(Number(process.hrtime.bigint() - t0) / 1e3 / calls);
    }
  }
  return Object.fromEntries(Object.entries(res).map(([k, v]) => [k, med(v)]));
}
const t = (n) => () => A.setNumThreads(n);
const rows = [];
function report(name, dims, flop, r) {
  const best = Object.entries(r).sort((p, q) => p[1] - q[1])[0][0];
  rows.push(`| ${name} | ${dims} | ${Object.entries(r).map(([k, v]) => `${k} ${v.toFixed(1)} µs (${(flop / v / 1e3).toFixed(0)} GFLOP/s)`).join(', ')} | ${best} |`);
}

const steps = { mlp: [128, [784, 512, 256, 10]], large: [512, [784, 2048, 2048, 10]] };
for (const [net, [batch, sizes]] of Object.entries(steps)) {
  for (let l = 0; l + 1 < sizes.length; l++) {
    const inF = sizes[l], outF = sizes[l + 1], L = `${net}.L${l + 1}`;
    const x = rnd(batch * inF, 1), w = rnd(outF * inF, 2), g = rnd(batch * outF, 3);
    const y = new Float32Array(batch * outF), dx = new Float32Array(batch * inF), dw = new Float32Array(outF * inF), tw = new Float32Array(outF * inF);
    const h = batch >> 1, flop = 2 * batch * inF * outF;
    report(`${L} forward`, `${batch}×${outF}×${inF}`, flop, race(flop, {
      '1t': [t(1), () => A.gemm(false, true, batch, outF, inF, 1, x, w, 0, y)],
      '2t': [t(2), () => A.gemm(false, true, batch, outF, inF, 1, x, w, 0, y)],
      split: [t(2), () => A.gemmPair(false, true, h, outF, inF, 1, x.subarray(0, h * inF), w, 0, y.subarray(0, h * outF),
        false, true, batch - h, outF, inF, 1, x.subarray(h * inF), w, 0, y.subarray(h * outF))],
      linear: [t(2), () => A.linear(x, w, null, 'none', batch, inF, outF, y)],
    }));
    const gemmDx = () => A.gemm(false, false, batch, inF, outF, 1, g, w, 0, dx);
    const gemmDw = () => A.gemm(true, false, outF, inF, batch, 1, g, x, 0, dw);
    if (l === 0) {
      // the first layer's lone dW (no dX): "splitK" = gemmPair on the two batch-row halves, plus one add
      const rest = new Float32Array(outF * inF), ws = [outF, inF];
      report(`${L} backward dW`, `${outF}×${inF}×${batch}`, flop, race(flop, {
        '1t': [t(1), gemmDw],
        '2t': [t(2), gemmDw],
        splitK: [t(2), () => {
          A.gemmPair(true, false, outF, inF, h, 1, g.subarray(0, h * outF), x.subarray(0, h * inF), 0, dw,
            true, false, outF, inF, batch - h, 1, g.subarray(h * outF), x.subarray(h * inF), 0, rest);
          A.binary('add', dw, ws, rest, ws, dw, ws);
        }],
        linear: [t(2), () => A.linearBackward(g, null, 'none', x, w, batch, inF, outF, null, dw, 0, null, 0)],
      }));
    } else {
      report(`${L} backward dX+dW`, `2 × ${batch}·${inF}·${outF}`, 2 * flop, race(2 * flop, {
        '1t': [t(1), () => { gemmDx(); gemmDw(); }],
        '2t': [t(2), () => { gemmDx(); gemmDw(); }],
        pair: [t(2), () => A.gemmPair(false, false, batch, inF, outF, 1, g, w, 0, dx, true, false, outF, inF, batch, 1, g, x, 0, dw)],
        linear: [t(2), () => A.linearBackward(g, null, 'none', x, w, batch, inF, outF, dx, dw, 0, null, 0)],
      }));
    }
    for (const n of [1, 2]) {
      report(`${L} dW layout, ${n}t`, `${outF}×${inF}×${batch}`, flop, race(flop, {
        'gᵀ·x': [t(n), gemmDw],
        '(xᵀ·g)ᵀ': [t(n), () => { A.gemm(true, false, inF, outF, batch, 1, x, g, 0, tw); A.permute(tw, [inF, outF], [1, 0], dw); }],
      }));
    }
  }
}
// Why linear splits W by rows between the cores: an update writing lines the other core has read must
// invalidate its copies line by line. sgdStep over mlp's W1 right after a gemmPair whose helper part read
// W1 (as a row-split forward or OpenBLAS's own threads do), against one whose helper read a copy.
{
  const [B, I, O] = [128, 784, 512], x = rnd(B * I, 7), W = rnd(O * I, 8), Wc = W.slice(), g = rnd(O * I, 9);
  const y1 = new Float32Array(B * O), y2 = new Float32Array(B * O);
  const o = { lr: 1e-9, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 };
  const sgdAfter = (helperReads) => () => {
    A.gemmPair(false, true, B, O, I, 1, x, Wc, 0, y1, false, true, B, O, I, 1, x, helperReads, 0, y2);
    const t0 = process.hrtime.bigint();
    A.sgdStep(W, g, null, false, o);
    return Number(process.hrtime.bigint() - t0) / 1e3;
  };
  A.setNumThreads(2);
  const times = { shared: [], own: [] };
  for (let b = 0; b < blocks * 20; b++) { times.shared.push(sgdAfter(W)()); times.own.push(sgdAfter(Wc)()); }
  rows.push(`| sgdStep on W1 after the other core read it | ${O}×${I} | shared ${med(times.shared).toFixed(1)} µs, not shared ${med(times.own).toFixed(1)} µs | not shared |`);
}

// Whole training steps, interleaved: "2 threads" as shipped, "1 thread" the same step on one.
const tg = await import('../dist/index.js');
tg.setBackend('native');
const stepRows = [];
for (const [net, [batch, sizes]] of Object.entries(steps)) {
  if (quick && net === 'large') continue;
  tg.manualSeed(0);
  const layers = sizes.slice(1).flatMap((o, l) => [new tg.nn.Linear(sizes[l], o), ...(l + 2 < sizes.length ? [new tg.nn.ReLU()] : [])]);
  const model = new tg.nn.Sequential(...layers), opt = new tg.optim.SGD(model.parameters(), { lr: 0.01 });
  const lossFn = new tg.nn.CrossEntropyLoss(), x = tg.tensor(rnd(batch * sizes[0], 5), { shape: [batch, sizes[0]] });
  const y = Int32Array.from({ length: batch }, (_, i) => i % sizes.at(-1));
  const step = () => { const loss = lossFn.forward(model.forward(x), y); opt.zeroGrad(); loss.backward(); opt.step(); };
  const per = net === 'mlp' ? 40 : 2;
  const variants = { '2 threads': () => A.setNumThreads(2), '1 thread': () => A.setNumThreads(1) };
  const res = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (const set of Object.values(variants)) { set(); step(); }
  for (let b = 0; b < (net === 'mlp' ? blocks : 3); b++) {
    for (const [k, set] of Object.entries(variants)) {
      set(); step();
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < per; i++) step();
      res[k].push(per / (Number(process.hrtime.bigint() - t0) / 1e9));
    }
  }
  const m = Object.fromEntries(Object.entries(res).map(([k, v]) => [k, med(v)]));
  stepRows.push(`| ${net} step | ${Object.entries(m).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')} steps/s | ×${(m['2 threads'] / m['1 thread']).toFixed(2)} |`);
}
A.setNumThreads(2);
console.log(`| step | median | 2 threads / 1 thread |\n|---|---|---|\n${stepRows.join('\n')}\n`);
console.log(`| shape | m×n×k | median per call | fastest |\n|---|---|---|---|\n${rows.join('\n')}`);
console.log(`load average ${loadavg().map((v) => v.toFixed(2)).join(' ')} (2 cores); ${A.info().openblasCore} kernel`);
