#!/usr/bin/env node
// Checks an installed tapegrad (run from a consumer project, e.g. under qemu for linux-arm64):
// the native backend loads, a 64x48x80 gemm matches the JS backend, and 20 SGD steps of a small MLP
// on the native backend match the same steps on the JS backend. Prints one JSON line with the
// losses, so runs on two machines can be compared too; exits 1 when a check fails.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const t = await import(pathToFileURL(createRequire(join(process.cwd(), 'package.json')).resolve('tapegrad')).href);
const info = t.backendInfo();
const fail = (msg) => {
  console.error(`native-check: ${msg}`);
  process.exit(1);
};
if (info.backend !== 'native') fail(`native backend not loaded: ${info.reason}`);

function gemm(name) {
  t.setBackend(name);
  t.manualSeed(1);
  return t.matmul(t.randn([64, 80]), t.randn([80, 48])).data;
}
const [gn, gj] = [gemm('native'), gemm('js')];
let gemmErr = 0;
for (let i = 0; i < gj.length; i++) gemmErr = Math.max(gemmErr, Math.abs(gn[i] - gj[i]) / (1 + Math.abs(gj[i])));

function train(name) {
  t.setBackend(name);
  t.manualSeed(0);
  const x = t.randn([128, 32]);
  const y = t.tensor(Array.from({ length: 128 }, (_, i) => i % 4));
  const model = new t.nn.Sequential(new t.nn.Linear(32, 64), new t.nn.ReLU(), new t.nn.Linear(64, 4));
  const opt = new t.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
  const lossFn = new t.nn.CrossEntropyLoss();
  const losses = [];
  for (let step = 0; step < 20; step++) {
    opt.zeroGrad();
    const loss = lossFn.forward(model.forward(x), y);
    loss.backward();
    opt.step();
    losses.push(loss.item());
  }
  return losses;
}
const [ln, lj] = [train('native'), train('js')];
const lossErr = Math.max(...ln.map((l, i) => Math.abs(l - lj[i])));
console.log(JSON.stringify({ arch: process.arch, node: process.version, reason: info.reason, gemmErr, lossErr, losses: ln }));
if (!(gemmErr < 1e-5)) fail(`gemm differs from the JS backend by ${gemmErr}`);
if (!(lossErr < 1e-4)) fail(`20 training steps differ from the JS backend by ${lossErr}`);
if (!(ln[19] < ln[0])) fail(`the loss did not fall: ${ln[0]} -> ${ln[19]}`);
