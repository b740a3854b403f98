// Two threads, per gemm shape of the mlp and large steps: which way of using them is fastest.
//   node bench/threads.mjs [--quick]    (after npm run build; prints one table, and the load)
// Backward (dX = g·W and dW = gᵀ·x of one layer): "1t" the two gemm calls on 1 OpenBLAS thread,
// "2t" the two calls on 2 OpenBLAS threads, "pair" one gemmPair (both at once, 1 OpenBLAS thread
// each). Forward (y = x·Wᵀ): "1t", "2t", and "split" = gemmPair on the two row halves of x and y.
// dW layout: gᵀ·x straight into dW, against xᵀ·g (the operands swapped, C transposed) + permute.
// Blocks of calls interleaved across the variants; median µs per call over the blocks.
import { loadavg } from 'node:os';
import { nativeAddon } from '../dist/backend/native.js';

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
    }));
    const gemmDx = () => A.gemm(false, false, batch, inF, outF, 1, g, w, 0, dx);
    const gemmDw = () => A.gemm(true, false, outF, inF, batch, 1, g, x, 0, dw);
    if (l > 0) {
      report(`${L} backward dX+dW`, `2 × ${batch}·${inF}·${outF}`, 2 * flop, race(2 * flop, {
        '1t': [t(1), () => { gemmDx(); gemmDw(); }],
        '2t': [t(2), () => { gemmDx(); gemmDw(); }],
        pair: [t(2), () => A.gemmPair(false, false, batch, inF, outF, 1, g, w, 0, dx, true, false, outF, inF, batch, 1, g, x, 0, dw)],
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
A.setNumThreads(2);
console.log(`| shape | m×n×k | median per call | fastest |\n|---|---|---|---|\n${rows.join('\n')}`);
console.log(`load average ${loadavg().map((v) => v.toFixed(2)).join(' ')} (2 cores); ${A.info().openblasCore} kernel`);
