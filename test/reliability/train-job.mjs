// A small deterministic training run (test/reliability/workers.test.ts): MLP inF-hidden-hidden-classes
// with Adam on synthetic data (labels from a fixed random projection), `steps` batches, one epoch of fit().
// Run it in the main thread (trainJob) or in a worker_thread (this file as the Worker's entry, with
// workerData = the options; it posts the result back).
import { isMainThread, parentPort, workerData } from 'node:worker_threads';

export async function trainJob({ backend, seed = 42, steps = 50, inF = 32, hidden = 128, classes = 10, batch = 64 }) {
  const { default: tg } = await import('../../tools/tapegrad.mjs');
  const { nn, optim, randn, manualSeed, setBackend, getBackend, fit, TensorDataset, DataLoader, tensor } = tg;
  setBackend(backend);
  manualSeed(seed);
  const n = steps * batch;
  const x = randn([n, inF]);
  const proj = randn([inF, classes]).data;
  const labels = new Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0, bv = -Infinity;
    for (let c = 0; c < classes; c++) {
      let s = 0;
      for (let j = 0; j < inF; j++) s += x.data[i * inF + j] * proj[j * classes + c];
      if (s > bv) { bv = s; best = c; }
    }
    labels[i] = best;
  }
  const loader = new DataLoader(new TensorDataset(x, tensor(labels)), { batchSize: batch, shuffle: true, seed });
  const model = new nn.Sequential(new nn.Linear(inF, hidden), new nn.ReLU(), new nn.Linear(hidden, hidden), new nn.Tanh(), new nn.Linear(hidden, classes));
  const optimizer = new optim.Adam(model.parameters(), { lr: 1e-3 });
  const losses = [];
  const h = await fit(model, loader, { lossFn: new nn.CrossEntropyLoss(), optimizer, epochs: 1, onBatch: (b) => { losses.push(b.loss); } });
  const weights = Object.fromEntries(Object.entries(model.stateDict()).map(([k, t]) => [k, Float32Array.from(t.data)]));
  return { backend: getBackend(), steps: h.steps, losses, weights };
}

if (!isMainThread && workerData?.trainJob) {
  parentPort.postMessage(await trainJob(workerData.trainJob));
}
