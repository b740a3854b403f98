// Model building, training and evaluation for the CLI, usable on its own (tests call trainModel).
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, basename, extname } from 'node:path';
import { Tensor } from '../tensor.js';
import { manualSeed } from '../random.js';
import { noGrad } from '../autograd/mode.js';
import { crossEntropy } from '../ops/index.js';
import { backendInfo, getBackend, getNumThreads, setNumThreads } from '../backend/index.js';
import { Module, Sequential, Linear, ReLU, Sigmoid, Tanh } from '../nn/index.js';
import { SGD, Adam, type Optimizer } from '../optim/index.js';
import { DataLoader, TensorDataset } from '../data/index.js';
import { save, load, saveCheckpoint, loadCheckpoint, type StateDictModule } from '../io/index.js';
import { lineChartSvg, decisionBoundarySvg } from '../viz/plot.js';
import { fmt } from '../shape.js';
import { CliError, check } from './errors.js';
import { DATASETS, loadDataset, type DataSpec, type DatasetName, type Split } from './data.js';

export const ACTIVATIONS = ['relu', 'sigmoid', 'tanh'] as const;
export type Activation = (typeof ACTIVATIONS)[number];
export const OPTIMIZERS = ['sgd', 'momentum', 'adam'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

/** Everything needed to rebuild a model, stored in the model file's metadata as "tapegrad.arch". */
export interface Arch {
  inFeatures: number;
  hidden: number[];
  outFeatures: number;
  activation: Activation;
  /** Per-feature standardization applied to inputs before the first layer (CSV data). */
  normalize?: { mean: number[]; std: number[] };
}

export const META_ARCH = 'tapegrad.arch';
export const META_DATA = 'tapegrad.data';
export const META_TRAIN = 'tapegrad.train';

interface Defaults { hidden: number[]; activation: Activation; epochs: number; batchSize: number; optimizer: OptimizerName; lr: Record<OptimizerName, number> }

/** Per-dataset defaults, chosen so that a plain `tapegrad train --dataset X` works in seconds. */
export const DEFAULTS: Record<DatasetName, Defaults> = {
  // 784-128-10, SGD momentum 0.9, 10 epochs: ~96% test accuracy (Adam 1e-3 gets ~94% in as many epochs)
  mnist: { hidden: [128], activation: 'relu', epochs: 10, batchSize: 64, optimizer: 'momentum', lr: { adam: 1e-3, sgd: 0.1, momentum: 0.1 } },
  xor: { hidden: [8], activation: 'tanh', epochs: 200, batchSize: 4, optimizer: 'adam', lr: { adam: 0.05, sgd: 0.5, momentum: 0.1 } },
  spirals: { hidden: [64, 64], activation: 'relu', epochs: 60, batchSize: 32, optimizer: 'adam', lr: { adam: 0.01, sgd: 0.2, momentum: 0.05 } },
  circles: { hidden: [16], activation: 'relu', epochs: 40, batchSize: 32, optimizer: 'adam', lr: { adam: 0.01, sgd: 0.2, momentum: 0.05 } },
  csv: { hidden: [64], activation: 'relu', epochs: 50, batchSize: 32, optimizer: 'adam', lr: { adam: 0.01, sgd: 0.1, momentum: 0.02 } },
};

/** An MLP: Linear → act → ... → Linear (logits). Layers are named 0, 1, 2, ... as in PyTorch. */
export function buildMlp(arch: Arch): Sequential {
  check(Number.isInteger(arch.inFeatures) && arch.inFeatures > 0, `invalid architecture: inFeatures ${arch.inFeatures}`);
  check(Number.isInteger(arch.outFeatures) && arch.outFeatures > 0, `invalid architecture: outFeatures ${arch.outFeatures}`);
  check(Array.isArray(arch.hidden) && arch.hidden.every((h) => Number.isInteger(h) && h > 0), `invalid architecture: hidden ${JSON.stringify(arch.hidden)}`);
  const act = (): Module => {
    switch (arch.activation) {
      case 'relu': return new ReLU();
      case 'sigmoid': return new Sigmoid();
      case 'tanh': return new Tanh();
      default: throw new CliError(`invalid architecture: unknown activation '${String(arch.activation)}' (expected relu, sigmoid or tanh)`);
    }
  };
  const model = new Sequential();
  let width = arch.inFeatures;
  for (const h of arch.hidden) {
    model.append(new Linear(width, h));
    model.append(act());
    width = h;
  }
  model.append(new Linear(width, arch.outFeatures));
  return model;
}

/** "784-128-10 relu" */
export function describeArch(a: Arch): string {
  return `${[a.inFeatures, ...a.hidden, a.outFeatures].join('-')} ${a.activation}`;
}

/** Standardize x with the arch's statistics (a no-op without them). */
export function normalizeInput(x: Tensor, arch: Arch): Tensor {
  if (!arch.normalize) return x;
  const { mean, std } = arch.normalize, f = arch.inFeatures;
  const out = new Float32Array(x.size);
  for (let i = 0; i < x.size; i++) out[i] = (x.data[i] - mean[i % f]) / std[i % f];
  return new Tensor(out, x.shape.slice());
}

function featureStats(x: Tensor): { mean: number[]; std: number[] } {
  const [n, f] = x.shape;
  const mean = new Array<number>(f).fill(0), sq = new Array<number>(f).fill(0);
  for (let i = 0; i < n; i++) for (let j = 0; j < f; j++) mean[j] += x.data[i * f + j];
  for (let j = 0; j < f; j++) mean[j] /= n;
  for (let i = 0; i < n; i++) for (let j = 0; j < f; j++) sq[j] += (x.data[i * f + j] - mean[j]) ** 2;
  const std = sq.map((s) => Math.sqrt(s / n) || 1);
  return { mean, std };
}

/** Predicted classes (argmax of the logits) of the rows of x, in batches, without building a graph. */
export function predictClasses(model: Module, x: Tensor, arch?: Arch, batch = 1024): Int32Array {
  const n = x.shape[0];
  const out = new Int32Array(n);
  const wasTraining = model.training;
  model.eval();
  try {
    noGrad(() => {
      const xin = arch ? normalizeInput(x, arch) : x;
      for (let s = 0; s < n; s += batch) {
        const idx = Int32Array.from({ length: Math.min(batch, n - s) }, (_, i) => s + i);
        const logits = model.forward(xin.indexSelect(0, idx)) as Tensor;
        const c = logits.shape[1];
        for (let i = 0; i < idx.length; i++) {
          let best = 0;
          for (let j = 1; j < c; j++) if (logits.data[i * c + j] > logits.data[i * c + best]) best = j;
          out[s + i] = best;
        }
      }
    });
  } finally {
    model.train(wasTraining);
  }
  return out;
}

/** Fraction of rows whose predicted class equals y. */
export function accuracy(model: Module, x: Tensor, y: Tensor, arch?: Arch): number {
  const pred = predictClasses(model, x, arch);
  let ok = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === y.data[i]) ok++;
  return pred.length ? ok / pred.length : 0;
}

/** Mean cross-entropy of the model on (x, y), without a graph. */
export function meanLoss(model: Module, x: Tensor, y: Tensor, arch?: Arch, batch = 1024): number {
  const n = x.shape[0];
  let total = 0;
  noGrad(() => {
    const xin = arch ? normalizeInput(x, arch) : x;
    for (let s = 0; s < n; s += batch) {
      const idx = Int32Array.from({ length: Math.min(batch, n - s) }, (_, i) => s + i);
      total += crossEntropy(model.forward(xin.indexSelect(0, idx)) as Tensor, y.indexSelect(0, idx)).item() * idx.length;
    }
  });
  return n ? total / n : NaN;
}

export interface TrainOptions {
  dataset?: DatasetName;
  data?: string;
  target?: string;
  samples?: number;
  hidden?: number[];
  activation?: Activation;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  optimizer?: OptimizerName;
  seed?: number;
  /** Model file (safetensors); null: do not save. Default runs/<dataset>/model.safetensors. */
  out?: string | null;
  /** Checkpoint written after every epoch; null: none. Default: checkpoint.safetensors next to the model. */
  checkpoint?: string | null;
  /**
   * Continue from this checkpoint: architecture, data, optimizer state and history come from it, and
   * dataset/data/target/samples/seed/hidden/activation/optimizer options that differ from it are an
   * error. Output paths never come from the checkpoint: the model goes to `out`, by default
   * model.safetensors next to the checkpoint.
   */
  resume?: string;
  /** Stop after the current batch, write a checkpoint there (always, even mid-epoch) and return. */
  signal?: AbortSignal;
}

/** The options after defaults (what a checkpoint records). */
export interface ResolvedOptions {
  data: DataSpec;
  hidden: number[];
  activation: Activation;
  epochs: number;
  batchSize: number;
  lr: number;
  optimizer: OptimizerName;
}

export interface History {
  /** Per epoch: mean training loss (over batches), train accuracy (running, during the epoch), test loss and accuracy. */
  trainLoss: number[];
  trainAcc: number[];
  testLoss: number[];
  testAcc: number[];
  /** Per batch: loss (all epochs run in this process and before a resume). */
  batchLoss: number[];
}

export interface ProgressInfo {
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
  /** Running means over the epoch so far. */
  loss: number;
  acc: number;
  samplesPerSec: number;
}

export interface EpochInfo {
  epoch: number;
  epochs: number;
  trainLoss: number;
  trainAcc: number;
  testLoss: number;
  testAcc: number;
  seconds: number;
  samplesPerSec: number;
}

export interface TrainHooks {
  onStart?(info: { split: Split; arch: Arch; options: ResolvedOptions; startEpoch: number; batches: number }): void;
  onProgress?(p: ProgressInfo): void;
  onEpoch?(e: EpochInfo): void;
}

export interface TrainResult {
  model: Sequential;
  arch: Arch;
  options: ResolvedOptions;
  split: Split;
  history: History;
  testAccuracy: number;
  trainAccuracy: number;
  /** Wall time of the training loop in this process (s), and total including data loading. */
  trainSeconds: number;
  totalSeconds: number;
  samplesPerSec: number;
  backend: string;
  outFile: string | null;
  checkpointFile: string | null;
  curvesFile: string | null;
  /** Decision regions over the test points, for 2-feature data. */
  boundaryFile: string | null;
  /** Set when the signal stopped training: where it stopped (the checkpoint resumes from there). */
  interrupted: { epoch: number; batch: number } | null;
}

/** An epoch stopped part-way: the batches done and the running sums, so a resume continues it exactly. */
interface PartialEpoch { batch: number; lossSum: number; correct: number; seen: number }

function makeOptimizer(name: OptimizerName, params: Tensor[], lr: number): Optimizer {
  switch (name) {
    case 'sgd': return new SGD(params, { lr });
    case 'momentum': return new SGD(params, { lr, momentum: 0.9 });
    case 'adam': return new Adam(params, { lr });
    default: throw new CliError(`unknown optimizer '${String(name)}' (expected sgd, momentum or adam)`);
  }
}

/**
 * What a train checkpoint holds (its `extra`). Output paths are deliberately not part of it.
 * blasThreads: the OpenBLAS thread count of a native run. sgemm's last bits depend on it (OpenBLAS's
 * threaded driver partitions M/N and steps K differently from its serial driver), so a resumed run
 * uses the same count to stay byte-identical with an uninterrupted one.
 */
interface TrainState { epoch: number; partial: PartialEpoch | null; history: History; options: ResolvedOptions; arch: Arch; blasThreads?: number }

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
const isNumbers = (x: unknown): x is number[] => Array.isArray(x) && x.every((v) => typeof v === 'number');

/** Why `arch` is not a valid architecture (null when it is). */
function archProblem(arch: unknown): string | null {
  if (!isObject(arch)) return 'no architecture recorded';
  const { inFeatures, hidden, outFeatures, activation, normalize } = arch;
  if (!isCount(inFeatures) || !isCount(outFeatures) || !inFeatures || !outFeatures) return `bad inFeatures/outFeatures ${inFeatures}/${outFeatures}`;
  if (!Array.isArray(hidden) || !hidden.every((h) => isCount(h) && h > 0)) return `bad hidden ${JSON.stringify(hidden)}`;
  if (!ACTIVATIONS.includes(activation as Activation)) return `unknown activation ${JSON.stringify(activation)}`;
  if (normalize !== undefined) {
    const n = normalize as Arch['normalize'];
    const ok = isObject(n) && isNumbers(n.mean) && isNumbers(n.std) && n.mean.length === inFeatures && n.std.length === inFeatures &&
      n.mean.every(Number.isFinite) && n.std.every((v) => Number.isFinite(v) && v > 0);
    if (!ok) return `bad input normalization (expected ${inFeatures} finite means and positive stds)`;
  }
  return null;
}

/** Parameter shapes of buildMlp(arch), by stateDict name, computed without allocating the model. */
function mlpShapes(arch: Arch): Map<string, number[]> {
  const widths = [arch.inFeatures, ...arch.hidden, arch.outFeatures], shapes = new Map<string, number[]>();
  for (let i = 0; i + 1 < widths.length; i++) {
    shapes.set(`${2 * i}.weight`, [widths[i + 1], widths[i]]);
    shapes.set(`${2 * i}.bias`, [widths[i + 1]]);
  }
  return shapes;
}

/** A module that only records the shapes loaded into it: reads a file's weights without a model. */
function shapeProbe(shapes: Map<string, number[]>): StateDictModule {
  return { stateDict: () => ({}), loadStateDict: (sd) => { for (const [k, t] of Object.entries(sd)) shapes.set(k, t.shape); } };
}

/** The architecture must be valid and match the file's weights exactly, checked before buildMlp allocates it. */
function checkArch(arch: unknown, shapes: Map<string, number[]>, bad: (what: string) => never): asserts arch is Arch {
  const wrong = archProblem(arch);
  if (wrong) bad(wrong);
  const a = arch as Arch, want = mlpShapes(a);
  for (const [k, shape] of want) {
    const got = shapes.get(k);
    if (!got || got.join() !== shape.join()) bad(`architecture ${describeArch(a)} needs '${k}' of shape ${fmt(shape)}, the weights have ${got ? fmt(got) : 'none'}`);
  }
  for (const k of shapes.keys()) if (!want.has(k)) bad(`unexpected weight '${k}' for architecture ${describeArch(a)}`);
}

/**
 * Read a train checkpoint's state and validate all of it before anything is built from it: the
 * architecture against its own weights and recorded options, the epoch and partial-epoch counters
 * against the options and history. (loadCheckpoint has already checked the file's digest.)
 */
export function readTrainCheckpoint(file: string): TrainState {
  check(existsSync(file), `checkpoint not found: ${file}`);
  const shapes = new Map<string, number[]>();
  const extra: unknown = loadCheckpoint(file, { model: shapeProbe(shapes), strict: false });
  const bad = (what: string): never => { throw new CliError(`${file}: invalid checkpoint: ${what}`); };
  if (!isObject(extra) || !isObject(extra.options) || !('arch' in extra)) bad('no architecture recorded (not written by tapegrad train)');
  const { arch, options, epoch, partial, history, blasThreads } = extra as Record<string, unknown>;
  if (blasThreads !== undefined && !(isCount(blasThreads) && blasThreads >= 1 && blasThreads <= 1024)) bad(`bad blasThreads ${JSON.stringify(blasThreads)}`);
  checkArch(arch, shapes, bad);
  const a = arch, o = options as ResolvedOptions;
  if (o.activation !== a.activation || !isNumbers(o.hidden) || o.hidden.join() !== a.hidden.join()) {
    bad(`the architecture ${describeArch(a)} disagrees with the recorded options (hidden ${JSON.stringify(o.hidden)}, activation ${JSON.stringify(o.activation)})`);
  }
  if (!isObject(o.data) || !DATASETS.includes(o.data.dataset as DatasetName) || !isCount(o.data.seed)) bad(`bad data ${JSON.stringify(o.data)}`);
  if (!isCount(o.epochs) || !o.epochs || !isCount(o.batchSize) || !o.batchSize) bad(`bad epochs/batchSize ${o.epochs}/${o.batchSize}`);
  if (!(typeof o.lr === 'number' && Number.isFinite(o.lr) && o.lr > 0)) bad(`bad lr ${o.lr}`);
  if (!OPTIMIZERS.includes(o.optimizer)) bad(`unknown optimizer ${JSON.stringify(o.optimizer)}`);
  if (!isCount(epoch) || epoch > o.epochs) bad(`epoch ${JSON.stringify(epoch)} is not an integer in [0, ${o.epochs}]`);
  const h = history as History;
  const perEpoch = ['trainLoss', 'trainAcc', 'testLoss', 'testAcc'] as const;
  if (!isObject(h) || !isNumbers(h.batchLoss) || !perEpoch.every((k) => isNumbers(h[k]) && h[k].length === epoch)) {
    bad(`history does not hold ${epoch} epochs of numbers`);
  }
  let p: PartialEpoch | null = null;
  if (partial !== undefined && partial !== null) {
    p = partial as PartialEpoch;
    const ok = isObject(p) && isCount(p.batch) && p.batch > 0 && isCount(p.seen) && isCount(p.correct) && p.correct <= p.seen &&
      p.seen === p.batch * o.batchSize && typeof p.lossSum === 'number' && Number.isFinite(p.lossSum) && (epoch as number) < o.epochs;
    if (!ok) bad(`partial epoch ${JSON.stringify(partial)} is inconsistent (batch >= 1, seen = batch * batchSize ${o.batchSize}, correct <= seen, epoch < epochs)`);
  }
  return { epoch: epoch as number, partial: p, history: h, options: o, arch: a, ...(blasThreads !== undefined && { blasThreads: blasThreads as number }) };
}

/** Options given with --resume must agree with the checkpoint (PyTorch users expect an error, not a silent override). */
function checkResumeOptions(opts: TrainOptions, r: TrainState): void {
  const conflicts: string[] = [];
  const same = (flag: string, given: unknown, recorded: unknown): void => {
    const show = (v: unknown): string => (Array.isArray(v) ? v.join(',') || 'none' : String(v));
    if (given !== undefined && show(given) !== show(recorded)) conflicts.push(`${flag} ${show(given)} (the checkpoint has ${show(recorded)})`);
  };
  const d = r.options.data;
  same('--dataset', opts.dataset, d.dataset);
  same('--data', opts.data, d.data);
  same('--target', opts.target, d.target);
  same('--samples', opts.samples, d.samples);
  same('--seed', opts.seed, d.seed);
  same('--hidden', opts.hidden, r.arch.hidden);
  same('--activation', opts.activation, r.arch.activation);
  same('--optimizer', opts.optimizer, r.options.optimizer);
  check(!conflicts.length, `--resume ${opts.resume}: ${conflicts.join('; ')}. A resumed run keeps the checkpoint's data, architecture and optimizer; drop these options or start a new run`);
}

/** The metadata of a model file, read without knowing the architecture. */
export function readModelMetadata(file: string): Record<string, string> {
  check(existsSync(file), `model file not found: ${file}`);
  return load(new Sequential(), file, { strict: false });
}

function parseJson<T>(file: string, key: string, s: string | undefined): T {
  check(s !== undefined, `${file} has no "${key}" metadata: it was not written by tapegrad train`);
  try {
    return JSON.parse(s) as T;
  } catch {
    throw new CliError(`${file}: "${key}" metadata is not valid JSON`);
  }
}

/** Rebuild a model written by trainModel (architecture from the metadata) and load its weights. */
export function readModel(file: string): { model: Sequential; arch: Arch; data: DataSpec | null; meta: Record<string, string> } {
  check(existsSync(file), `model file not found: ${file}`);
  const shapes = new Map<string, number[]>();
  const meta = load(shapeProbe(shapes), file, { strict: false });
  const arch: unknown = parseJson<Arch>(file, META_ARCH, meta[META_ARCH]);
  checkArch(arch, shapes, (what) => { throw new CliError(`${file}: invalid model file: ${what}`); });
  const model = buildMlp(arch);
  load(model, file);
  model.eval();
  const data = meta[META_DATA] ? parseJson<DataSpec>(file, META_DATA, meta[META_DATA]) : null;
  return { model, arch, data, meta };
}

/** Default model path for a dataset. */
export function defaultOut(dataset: DatasetName): string {
  return join('runs', dataset, 'model.safetensors');
}

/** `runs/x/model.safetensors` → `runs/x/model.curves.svg` */
export function curvesFileFor(modelFile: string): string {
  return join(dirname(modelFile), `${basename(modelFile, extname(modelFile))}.curves.svg`);
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * Train an MLP classifier with softmax cross-entropy. Saves the model (with its architecture in the
 * metadata), a checkpoint after every epoch and an SVG of the loss/accuracy curves, unless out is null.
 * Yields to the event loop every ~50 ms, so timers (a progress bar, a server) keep running.
 */
export async function trainModel(opts: TrainOptions = {}, hooks: TrainHooks = {}): Promise<TrainResult> {
  const threads = getNumThreads(); // a resume may switch to the checkpoint's count: put it back after
  try {
    return await train(opts, hooks);
  } finally {
    if (getNumThreads() !== threads) setNumThreads(threads);
  }
}

async function train(opts: TrainOptions, hooks: TrainHooks): Promise<TrainResult> {
  const t0 = performance.now();
  const resumed = opts.resume ? readTrainCheckpoint(opts.resume) : null;
  if (resumed) checkResumeOptions(opts, resumed);
  if (resumed?.blasThreads && getBackend() === 'native' && getNumThreads() !== resumed.blasThreads) setNumThreads(resumed.blasThreads);
  const blas = getBackend() === 'native' ? { blasThreads: getNumThreads() } : {};
  const dataset: DatasetName = resumed?.options.data.dataset ?? opts.dataset ?? 'mnist';
  const def = DEFAULTS[dataset];
  check(def, `unknown dataset '${String(dataset)}'`);
  const optimizer: OptimizerName = opts.optimizer ?? resumed?.options.optimizer ?? def.optimizer;
  const options: ResolvedOptions = resumed
    ? {
      ...resumed.options,
      epochs: opts.epochs ?? resumed.options.epochs,
      batchSize: opts.batchSize ?? resumed.options.batchSize,
      lr: opts.lr ?? resumed.options.lr,
      optimizer,
    }
    : {
      data: { dataset, seed: opts.seed ?? 0, ...(opts.data !== undefined && { data: opts.data }), ...(opts.target !== undefined && { target: opts.target }), ...(opts.samples !== undefined && { samples: opts.samples }) },
      hidden: opts.hidden ?? def.hidden,
      activation: opts.activation ?? def.activation,
      epochs: opts.epochs ?? def.epochs,
      batchSize: opts.batchSize ?? def.batchSize,
      lr: opts.lr ?? def.lr[optimizer],
      optimizer,
    };
  check(Number.isInteger(options.epochs) && options.epochs > 0, `--epochs must be a positive integer, got ${options.epochs}`);
  check(Number.isInteger(options.batchSize) && options.batchSize > 0, `--batch-size must be a positive integer, got ${options.batchSize}`);
  check(Number.isFinite(options.lr) && options.lr > 0, `--lr must be a positive number, got ${options.lr}`);

  const split = await loadDataset(options.data);
  const arch: Arch = resumed?.arch ?? {
    inFeatures: split.inFeatures,
    hidden: options.hidden,
    outFeatures: split.numClasses,
    activation: options.activation,
    ...(dataset === 'csv' && { normalize: featureStats(split.xTrain) }),
  };
  check(arch.inFeatures === split.inFeatures, `the data has ${split.inFeatures} features but the model expects ${arch.inFeatures}`);
  check(arch.outFeatures === split.numClasses, `the data has ${split.numClasses} classes but the model predicts ${arch.outFeatures}`);

  manualSeed(options.data.seed);
  const model = buildMlp(arch);
  const opt = makeOptimizer(optimizer, model.parameters(), options.lr);
  const history: History = resumed?.history ?? { trainLoss: [], trainAcc: [], testLoss: [], testAcc: [], batchLoss: [] };
  if (resumed) {
    loadCheckpoint(opts.resume!, { model, optimizer: opt });
    opt.lr = options.lr;
  }
  const startEpoch = resumed ? resumed.epoch : 0;

  // Output paths come only from the options, or from defaults next to the checkpoint resumed from.
  const outFile = opts.out === null ? null : opts.out ?? (opts.resume ? join(dirname(opts.resume), 'model.safetensors') : defaultOut(dataset));
  // checkpoints go next to the model (or keep updating the one resumed from); none when nothing is saved
  let checkpointFile: string | null = null;
  if (opts.checkpoint !== null && (opts.checkpoint !== undefined || outFile !== null)) {
    checkpointFile = opts.checkpoint ?? opts.resume ?? join(dirname(outFile!), 'checkpoint.safetensors');
  }
  for (const f of [outFile, checkpointFile]) if (f) mkdirSync(dirname(f), { recursive: true });

  const xTrain = normalizeInput(split.xTrain, arch);
  const ds = new TensorDataset(xTrain, split.yTrain);
  const batches = Math.ceil(ds.length / options.batchSize);
  if (resumed?.partial) {
    check(options.batchSize === resumed.options.batchSize, `--batch-size ${options.batchSize} differs from the checkpoint's ${resumed.options.batchSize}, which stopped mid-epoch; resume with the same batch size`);
    check(resumed.partial.batch < batches, `${opts.resume}: invalid checkpoint: partial epoch stopped after batch ${resumed.partial.batch} of ${batches}`);
  }
  hooks.onStart?.({ split, arch, options, startEpoch, batches });

  const tTrain = performance.now();
  let samples = 0;
  let interrupted: TrainResult['interrupted'] = null;
  let partial = resumed?.partial ?? null;
  let lastYield = performance.now();
  for (let epoch = startEpoch; epoch < options.epochs; epoch++) {
    const te = performance.now();
    // one loader per epoch, seeded by (seed, epoch): a resumed run sees the same batches
    const loader = new DataLoader(ds, { batchSize: options.batchSize, shuffle: true, seed: options.data.seed * 100003 + epoch });
    model.train();
    let lossSum = 0, correct = 0, seen = 0, b = 0;
    if (partial) ({ lossSum, correct, seen } = partial);
    for (const [x, y] of loader) {
      if (partial && b < partial.batch) { b++; continue; } // done before the interruption: same order, skipped
      const logits = model.forward(x) as Tensor;
      const loss = crossEntropy(logits, y);
      opt.zeroGrad();
      loss.backward();
      opt.step();
      const l = loss.item(), n = x.shape[0], c = logits.shape[1];
      for (let i = 0; i < n; i++) {
        let best = 0;
        for (let j = 1; j < c; j++) if (logits.data[i * c + j] > logits.data[i * c + best]) best = j;
        if (best === y.data[i]) correct++;
      }
      lossSum += l * n; seen += n; samples += n; b++;
      history.batchLoss.push(l);
      const now = performance.now();
      hooks.onProgress?.({
        epoch: epoch + 1, epochs: options.epochs, batch: b, batches,
        loss: lossSum / seen, acc: correct / seen, samplesPerSec: seen / ((now - te) / 1000 || 1e-9),
      });
      if (now - lastYield > 50) { await tick(); lastYield = performance.now(); }
      if (opts.signal?.aborted) break;
    }
    partial = null;
    if (opts.signal?.aborted && b < batches) {
      interrupted = { epoch: epoch + 1, batch: b };
      if (checkpointFile) {
        saveCheckpoint(checkpointFile, {
          model, optimizer: opt,
          extra: { epoch, partial: { batch: b, lossSum, correct, seen }, arch, options, history, ...blas },
        });
      }
      break;
    }
    check(Number.isFinite(lossSum), `training diverged in epoch ${epoch + 1} (loss is ${lossSum / seen}); try a smaller --lr`);
    const testLoss = meanLoss(model, split.xTest, split.yTest, arch);
    const testAcc = accuracy(model, split.xTest, split.yTest, arch);
    history.trainLoss.push(lossSum / seen);
    history.trainAcc.push(correct / seen);
    history.testLoss.push(testLoss);
    history.testAcc.push(testAcc);
    const seconds = (performance.now() - te) / 1000;
    // After every epoch, as --help says: what a checkpoint holds never depends on timing (2 ms for
    // xor's 2-8-2, 11 ms for 784-128-10 with momentum, fsync included).
    if (checkpointFile) saveCheckpoint(checkpointFile, { model, optimizer: opt, extra: { epoch: epoch + 1, arch, options, history, ...blas } });
    hooks.onEpoch?.({
      epoch: epoch + 1, epochs: options.epochs, trainLoss: lossSum / seen, trainAcc: correct / seen,
      testLoss, testAcc, seconds, samplesPerSec: seen / seconds,
    });
    if (opts.signal?.aborted) {
      interrupted = { epoch: epoch + 1, batch: b };
      break;
    }
  }
  const trainSeconds = (performance.now() - tTrain) / 1000;
  const testAccuracy = accuracy(model, split.xTest, split.yTest, arch);
  const trainAccuracy = accuracy(model, split.xTrain, split.yTrain, arch);
  const info = backendInfo();
  const backend = `${info.backend} (${info.threads} thread${info.threads === 1 ? '' : 's'})`;

  let curvesFile: string | null = null, boundaryFile: string | null = null;
  model.eval();
  if (outFile && !interrupted) {
    save(model, outFile, {
      metadata: {
        [META_ARCH]: JSON.stringify(arch),
        [META_DATA]: JSON.stringify(options.data),
        [META_TRAIN]: JSON.stringify({
          epochs: options.epochs, batchSize: options.batchSize, lr: options.lr, optimizer: options.optimizer,
          testAccuracy, trainAccuracy, backend: info.backend,
        }),
      },
    });
    curvesFile = curvesFileFor(outFile);
    writeFileSync(curvesFile, curvesSvg(history, `${dataset} ${describeArch(arch)}`));
    if (arch.inFeatures === 2) {
      boundaryFile = join(dirname(outFile), `${basename(outFile, extname(outFile))}.boundary.svg`);
      const pts = split.xTest.shape[0] >= 4 ? split.xTest : split.xTrain;
      const labels = pts === split.xTest ? split.yTest : split.yTrain;
      writeFileSync(boundaryFile, decisionBoundarySvg(
        (x) => model.forward(normalizeInput(x, arch)) as Tensor, pts, labels,
        { title: `${dataset} ${describeArch(arch)}: test accuracy ${(100 * testAccuracy).toFixed(1)}%` },
      ));
    }
  }
  return {
    model, arch, options, split, history, testAccuracy, trainAccuracy,
    trainSeconds, totalSeconds: (performance.now() - t0) / 1000,
    samplesPerSec: samples / (trainSeconds || 1e-9), backend, outFile: interrupted ? null : outFile, checkpointFile, curvesFile, boundaryFile,
    interrupted,
  };
}

/** Loss and accuracy per epoch as one SVG with two panels. */
export function curvesSvg(h: History, title: string): string {
  const W = 640, H = 360;
  const loss = lineChartSvg([{ name: 'train loss', values: h.trainLoss }, { name: 'test loss', values: h.testLoss }],
    { title: `${title}: loss`, xLabel: 'epoch', yLabel: 'cross-entropy', width: W, height: H });
  const acc = lineChartSvg([{ name: 'train acc', values: h.trainAcc.map((a) => 100 * a) }, { name: 'test acc', values: h.testAcc.map((a) => 100 * a) }],
    { title: `${title}: accuracy`, xLabel: 'epoch', yLabel: 'accuracy (%)', width: W, height: H });
  const nest = (svg: string, y: number): string => svg.replace('<svg xmlns="http://www.w3.org/2000/svg" ', `<svg x="0" y="${y}" `);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${2 * H}" viewBox="0 0 ${W} ${2 * H}">`,
    nest(loss, 0).trimEnd(),
    nest(acc, H).trimEnd(),
    '</svg>',
    '',
  ].join('\n');
}
