// `tapegrad train` as a library function (tests call trainModel): resolves the options, loads the
// data, builds the MLP and trains it with fit() (lib/train), writing checkpoints, the model and charts.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, basename, extname, resolve } from 'node:path';
import { Tensor } from '../tensor.js';
import { manualSeed, getRngState, setRngState } from '../random.js';
import { crossEntropy, mseLoss } from '../ops/index.js';
import { backendInfo, getBackend, getNumThreads, setNumThreads } from '../backend/index.js';
import { mlp, describeMlp, ACTIVATIONS, type MlpActivation } from '../nn/index.js';
import { SGD, Adam, lrScheduler, type Optimizer, type LRScheduler } from '../optim/index.js';
import { DataLoader, TensorDataset, featureStats, standardize } from '../data/index.js';
import { save, loadCheckpoint, saveCheckpoint } from '../io/index.js';
import { fit, accuracy, evaluate, type BatchLogs, type EpochLogs } from '../train/index.js';
import { lineChartSvg, decisionBoundarySvg } from '../viz/plot.js';
import { CliError, check } from './errors.js';
import { loadDataset, type DatasetName, type Split } from './data.js';
import {
  readTrainCheckpoint, relativeData, OPTIMIZERS, SCHEDULERS, META_ARCH, META_DATA, META_TRAIN,
  type Arch, type History, type ResolvedOptions, type TrainState, type OptimizerName, type SchedulerName,
} from './modelfile.js';

export { ACTIVATIONS, OPTIMIZERS, SCHEDULERS };
export type Activation = MlpActivation;
export type { Arch, History, ResolvedOptions, OptimizerName, SchedulerName };

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

/** An MLP for the architecture (see nn.mlp); a CliError for an invalid one. */
export function buildMlp(arch: Arch) {
  try {
    return mlp(arch);
  } catch (e) {
    throw new CliError((e as Error).message.replace(/^mlp: /, ''));
  }
}

export const describeArch = describeMlp;

/** The model's inputs: standardized with the arch's statistics (a no-op without them). */
export function normalizeInput(x: Tensor, arch: Arch): Tensor {
  return arch.normalize ? standardize(x, arch.normalize) : x;
}

export interface TrainOptions {
  dataset?: DatasetName;
  data?: string;
  target?: string;
  delimiter?: string;
  samples?: number;
  hidden?: number[];
  activation?: Activation;
  /** Dropout probability after each hidden activation (nn.Dropout; off in eval). */
  dropout?: number;
  /** BatchNorm1d after each hidden Linear, before its activation. */
  batchnorm?: boolean;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  optimizer?: OptimizerName;
  seed?: number;
  /** Model file (safetensors); null: do not save. Default runs/<dataset or CSV name>/model.safetensors. */
  out?: string | null;
  /** Checkpoint written after every epoch; null: none. Default: <model>.checkpoint.safetensors next to the model. */
  checkpoint?: string | null;
  /**
   * Continue from this checkpoint: architecture, data, optimizer and scheduler state, the random
   * generator's state and history come from it, and dataset/data/target/samples/seed/hidden/activation/
   * dropout/batchnorm/optimizer/scheduler options that differ from it are an error (with a scheduler
   * also epochs/batchSize/lr). Output paths never come from the checkpoint: the model goes to `out`, by default next to
   * the checkpoint (x.checkpoint.safetensors → x.safetensors, else model.safetensors).
   */
  resume?: string;
  /** Metrics of every epoch as JSON lines (fit's logFile). */
  log?: string;
  /** Stop when the test loss has not improved for this many epochs (fit's earlyStopping). */
  patience?: number;
  /** LR schedule over the run (see makeScheduler); its state is saved in checkpoints. Default: constant lr. */
  scheduler?: SchedulerName;
  /** Clip the total gradient 2-norm to this before every optimizer step. */
  clipGradNorm?: number;
  /** Stop after the current batch, write a checkpoint there (always, even mid-epoch) and return. */
  signal?: AbortSignal;
}

export interface TrainHooks {
  onStart?(info: { split: Split; arch: Arch; options: ResolvedOptions; startEpoch: number; batches: number }): void;
  onProgress?(p: BatchLogs): void;
  onEpoch?(e: EpochLogs): void;
}

export interface TrainResult {
  model: ReturnType<typeof mlp>;
  arch: Arch;
  options: ResolvedOptions;
  split: Split;
  history: History;
  /** Classification: fraction correct (NaN for regression); testLoss: cross-entropy or MSE per sample. */
  testAccuracy: number;
  trainAccuracy: number;
  testLoss: number;
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
  /** Epoch after which early stopping ended training, or null. */
  stoppedEarly: number | null;
}

function makeOptimizer(name: OptimizerName, params: Tensor[], lr: number): Optimizer {
  switch (name) {
    case 'sgd': return new SGD(params, { lr });
    case 'momentum': return new SGD(params, { lr, momentum: 0.9 });
    case 'adam': return new Adam(params, { lr });
    default: throw new CliError(`unknown optimizer '${String(name)}' (expected sgd, momentum or adam)`);
  }
}

/**
 * The schedule of --scheduler over the whole run: cosine anneals --lr to 0 at the last epoch
 * (CosineAnnealingLR, tMax = epochs); step divides it by 10 every ceil(epochs / 3) epochs (StepLR);
 * onecycle steps per batch up to --lr as the peak and down to lr/25e4 (OneCycleLR; momentum or
 * Adam's beta1 cycles 0.95 → 0.85 → 0.95, plain sgd keeps momentum 0).
 */
export function makeScheduler(name: SchedulerName, opt: Optimizer, o: { epochs: number; optimizer: OptimizerName; lr: number }, stepsPerEpoch: number): LRScheduler {
  switch (name) {
    case 'cosine': return new lrScheduler.CosineAnnealingLR(opt, { tMax: o.epochs });
    case 'step': return new lrScheduler.StepLR(opt, { stepSize: Math.ceil(o.epochs / 3), gamma: 0.1 });
    case 'onecycle': return new lrScheduler.OneCycleLR(opt, { maxLr: o.lr, epochs: o.epochs, stepsPerEpoch, cycleMomentum: o.optimizer !== 'sgd' });
    default: throw new CliError(`unknown scheduler '${String(name)}' (expected ${SCHEDULERS.join(', ')})`);
  }
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
  same('--data', opts.data === undefined ? undefined : resolve(opts.data), d.data);
  same('--target', opts.target, d.target);
  same('--samples', opts.samples, d.samples);
  same('--seed', opts.seed, d.seed);
  same('--hidden', opts.hidden, r.arch.hidden);
  same('--activation', opts.activation, r.arch.activation);
  same('--dropout', opts.dropout, r.arch.dropout ?? 0);
  same('--batchnorm', opts.batchnorm, r.arch.batchnorm ?? false);
  same('--optimizer', opts.optimizer, r.options.optimizer);
  same('--scheduler', opts.scheduler, r.options.scheduler ?? 'none');
  if (r.options.scheduler) {
    // the schedule (and its saved state) was planned for these
    same('--epochs', opts.epochs, r.options.epochs);
    same('--batch-size', opts.batchSize, r.options.batchSize);
    same('--lr', opts.lr, r.options.lr);
  }
  check(!conflicts.length, `--resume ${opts.resume}: ${conflicts.join('; ')}. A resumed run keeps the checkpoint's data, architecture, optimizer and schedule; drop these options or start a new run`);
}

/** Default model path: runs/<dataset>/model.safetensors, or runs/<CSV file name>/model.safetensors. */
export function defaultOut(dataset: DatasetName, data?: string): string {
  return join('runs', dataset === 'csv' && data ? basename(data, extname(data)) || 'csv' : dataset, 'model.safetensors');
}

const stem = (file: string): string => join(dirname(file), basename(file, extname(file)));

/** `runs/x/model.safetensors` → `runs/x/model.curves.svg` */
export function curvesFileFor(modelFile: string): string {
  return `${stem(modelFile)}.curves.svg`;
}

/** The checkpoint of a model file: `runs/iris.safetensors` → `runs/iris.checkpoint.safetensors`. */
export function checkpointFileFor(modelFile: string): string {
  return `${stem(modelFile)}.checkpoint${extname(modelFile) || '.safetensors'}`;
}

/** The model file a resumed run writes by default: `x.checkpoint.safetensors` → `x.safetensors`, else model.safetensors next to it. */
function modelFileFor(checkpoint: string): string {
  const m = /^(.+)\.checkpoint(\.[^.]+)?$/.exec(basename(checkpoint));
  return join(dirname(checkpoint), m ? `${m[1]}${m[2] ?? ''}` : 'model.safetensors');
}

/**
 * Train an MLP (classifier with softmax cross-entropy, or a regressor with MSE for real-valued CSV
 * targets) with fit(). Saves the model (architecture in the metadata), a checkpoint after every epoch
 * and an SVG of the loss/accuracy curves, unless out is null. fit yields to the event loop every ~50 ms.
 */
export async function trainModel(opts: TrainOptions = {}, hooks: TrainHooks = {}): Promise<TrainResult> {
  const threads = getNumThreads(); // a resume may switch to the checkpoint's count: put it back after
  try {
    return await train(opts, hooks);
  } finally {
    if (getNumThreads() !== threads) setNumThreads(threads);
  }
}

function resolveOptions(opts: TrainOptions, resumed: TrainState | null): ResolvedOptions {
  const dataset: DatasetName = resumed?.options.data.dataset ?? opts.dataset ?? (opts.data !== undefined ? 'csv' : 'mnist');
  const def = DEFAULTS[dataset];
  check(def, `unknown dataset '${String(dataset)}'`);
  check(opts.data === undefined || dataset === 'csv', `--data ${opts.data} is a CSV file, but --dataset is ${dataset}; use --dataset csv (or leave --dataset out)`);
  const optimizer: OptimizerName = opts.optimizer ?? resumed?.options.optimizer ?? def.optimizer;
  const options: ResolvedOptions = resumed
    ? {
      ...resumed.options, epochs: opts.epochs ?? resumed.options.epochs, batchSize: opts.batchSize ?? resumed.options.batchSize, lr: opts.lr ?? resumed.options.lr, optimizer,
      ...(opts.clipGradNorm !== undefined && { clipGradNorm: opts.clipGradNorm }),
    }
    : {
      data: {
        dataset, seed: opts.seed ?? 0, ...(opts.data !== undefined && { data: resolve(opts.data) }), ...(opts.target !== undefined && { target: opts.target }),
        ...(opts.samples !== undefined && { samples: opts.samples }), ...(opts.delimiter !== undefined && { delimiter: opts.delimiter }),
      },
      hidden: opts.hidden ?? def.hidden,
      activation: opts.activation ?? def.activation,
      epochs: opts.epochs ?? def.epochs,
      batchSize: opts.batchSize ?? def.batchSize,
      lr: opts.lr ?? def.lr[optimizer],
      optimizer,
      ...(opts.scheduler !== undefined && { scheduler: opts.scheduler }),
      ...(opts.clipGradNorm !== undefined && { clipGradNorm: opts.clipGradNorm }),
    };
  check(Number.isInteger(options.epochs) && options.epochs > 0, `--epochs must be a positive integer, got ${options.epochs}`);
  check(Number.isInteger(options.batchSize) && options.batchSize > 0, `--batch-size must be a positive integer, got ${options.batchSize}`);
  check(Number.isFinite(options.lr) && options.lr > 0, `--lr must be a positive number, got ${options.lr}`);
  check(options.scheduler === undefined || SCHEDULERS.includes(options.scheduler), `unknown scheduler '${String(options.scheduler)}' (expected ${SCHEDULERS.join(', ')})`);
  check(opts.dropout === undefined || (opts.dropout >= 0 && opts.dropout < 1), `--dropout must be a probability in [0, 1), got ${opts.dropout}`);
  check(options.clipGradNorm === undefined || (Number.isFinite(options.clipGradNorm) && options.clipGradNorm > 0), `--clip-grad-norm must be a positive number, got ${options.clipGradNorm}`);
  return options;
}

async function train(opts: TrainOptions, hooks: TrainHooks): Promise<TrainResult> {
  const t0 = performance.now();
  const resumed = opts.resume ? readTrainCheckpoint(opts.resume) : null;
  if (resumed) checkResumeOptions(opts, resumed);
  if (resumed?.blasThreads && getBackend() === 'native' && getNumThreads() !== resumed.blasThreads) setNumThreads(resumed.blasThreads);
  const blas = getBackend() === 'native' ? { blasThreads: getNumThreads() } : {};
  const options = resolveOptions(opts, resumed);
  const dataset = options.data.dataset;

  const split = await loadDataset(options.data, resumed?.arch.labels ? { labels: resumed.arch.labels } : {});
  const regression = split.task === 'regression';
  const arch: Arch = resumed?.arch ?? {
    inFeatures: split.inFeatures,
    hidden: options.hidden,
    outFeatures: split.numClasses,
    activation: options.activation,
    ...(opts.dropout && { dropout: opts.dropout }),
    ...(opts.batchnorm && { batchnorm: true }),
    ...(dataset === 'csv' && { normalize: featureStats(split.xTrain) }),
    ...(split.labels && { labels: split.labels }),
    ...(regression && { task: 'regression' as const }),
  };
  check(arch.inFeatures === split.inFeatures, `the data has ${split.inFeatures} features but the model expects ${arch.inFeatures}`);
  check(arch.outFeatures === split.numClasses, `the data has ${split.numClasses} classes but the model predicts ${arch.outFeatures}`);

  manualSeed(options.data.seed);
  const model = buildMlp(arch);
  const opt = makeOptimizer(options.optimizer, model.parameters(), options.lr);
  const history: History = resumed?.history ?? { trainLoss: [], trainAcc: [], testLoss: [], testAcc: [], batchLoss: [] };
  const startEpoch = resumed ? resumed.epoch : 0;

  // Output paths come only from the options, or from defaults next to the checkpoint resumed from.
  const outFile = opts.out === null ? null : opts.out ?? (opts.resume ? modelFileFor(opts.resume) : defaultOut(dataset, options.data.data));
  // checkpoints go next to the model (or keep updating the one resumed from); none when nothing is saved
  let checkpointFile: string | null = null;
  if (opts.checkpoint !== null && (opts.checkpoint !== undefined || outFile !== null)) {
    checkpointFile = opts.checkpoint ?? opts.resume ?? checkpointFileFor(outFile!);
  }
  for (const f of [outFile, checkpointFile, opts.log]) if (f) mkdirSync(dirname(f), { recursive: true });
  const checkpoint = (extra: Record<string, unknown>): void => {
    if (checkpointFile) saveCheckpoint(checkpointFile, { model, optimizer: opt, ...(scheduler && { scheduler }), extra: { ...extra, arch, options: { ...options, data: relativeData(options.data, checkpointFile) }, history, rng: getRngState(), ...blas } });
  };

  // regression targets are [n, 1], like the model's output
  const target = (y: Tensor): Tensor => (regression ? y.reshape([y.shape[0], 1]) : y);
  const ds = new TensorDataset(normalizeInput(split.xTrain, arch), target(split.yTrain));
  const test: [Tensor, Tensor] = [normalizeInput(split.xTest, arch), target(split.yTest)];
  // BatchNorm1d cannot train on a batch of one row (PyTorch raises too): drop such a last batch
  const dropLast = arch.batchnorm === true && ds.length % options.batchSize === 1;
  const batches = dropLast ? Math.floor(ds.length / options.batchSize) : Math.ceil(ds.length / options.batchSize);
  check(batches > 0, `--batchnorm needs at least 2 training rows per batch, but the data has ${ds.length} training row`);
  if (resumed?.partial) {
    check(options.batchSize === resumed.options.batchSize, `--batch-size ${options.batchSize} differs from the checkpoint's ${resumed.options.batchSize}, which stopped mid-epoch; resume with the same batch size`);
    check(resumed.partial.batch < batches, `${opts.resume}: invalid checkpoint: partial epoch stopped after batch ${resumed.partial.batch} of ${batches}`);
  }
  // built before the checkpoint is loaded: a scheduler's constructor sets the rate (and OneCycleLR the momentum)
  const scheduler = options.scheduler ? makeScheduler(options.scheduler, opt, options, batches) : null;
  if (resumed) {
    loadCheckpoint(opts.resume!, { model, optimizer: opt, ...(scheduler && { scheduler }) });
    if (!scheduler) opt.lr = options.lr;
    if (resumed.rng) setRngState(resumed.rng);
  }
  hooks.onStart?.({ split, arch, options, startEpoch, batches });

  const tTrain = performance.now();
  const lossFn = regression ? (o: Tensor, y: Tensor) => mseLoss(o, y) : (o: Tensor, y: Tensor) => crossEntropy(o, y);
  const h = await fit(model, (epoch) => new DataLoader(ds, { batchSize: options.batchSize, shuffle: true, dropLast, seed: options.data.seed * 100003 + epoch }), {
    lossFn, optimizer: opt, epochs: options.epochs, initialEpoch: startEpoch, resume: resumed?.partial ?? null,
    validationData: test, yieldEveryMs: 50, ...(opts.signal && { signal: opts.signal }),
    ...(opts.log && { logFile: opts.log }),
    ...(opts.patience !== undefined && { earlyStopping: { monitor: 'valLoss', patience: opts.patience } }),
    ...(scheduler && { scheduler }), ...(options.clipGradNorm !== undefined && { clipGradNorm: options.clipGradNorm }),
    onBatchEnd(b) {
      history.batchLoss.push(b.loss);
      hooks.onProgress?.(b);
    },
    onEpochEnd(e) {
      check(Number.isFinite(e.loss), `training diverged in epoch ${e.epoch} (loss is ${e.loss}); try a smaller --lr`);
      history.trainLoss.push(e.loss);
      history.trainAcc.push(e.accuracy ?? NaN);
      history.testLoss.push(e.valLoss ?? NaN);
      history.testAcc.push(e.valAccuracy ?? NaN);
      // After every epoch, as --help says: what a checkpoint holds never depends on timing (2 ms for
      // xor's 2-8-2, 11 ms for 784-128-10 with momentum, fsync included).
      checkpoint({ epoch: e.epoch });
      hooks.onEpoch?.(e);
    },
  });
  const done = startEpoch + h.epochs.length;
  let interrupted: TrainResult['interrupted'] = null;
  if (h.aborted) {
    interrupted = h.partial ? { epoch: done + 1, batch: h.partial.batch } : { epoch: done, batch: batches };
    if (h.partial) checkpoint({ epoch: done, partial: h.partial });
  }
  const trainSeconds = (performance.now() - tTrain) / 1000;
  const testAccuracy = regression ? NaN : accuracy(model, test[0], test[1]);
  const trainAccuracy = regression ? NaN : accuracy(model, ds.tensors[0], ds.tensors[1]);
  const testLoss = evaluate(model, test, lossFn).loss;
  const info = backendInfo();
  const backend = `${info.backend} (${info.threads} thread${info.threads === 1 ? '' : 's'})`;

  let curvesFile: string | null = null, boundaryFile: string | null = null;
  model.eval();
  if (outFile && !interrupted) {
    save(model, outFile, {
      metadata: {
        [META_ARCH]: JSON.stringify(arch),
        [META_DATA]: JSON.stringify(relativeData(options.data, outFile)),
        [META_TRAIN]: JSON.stringify({
          epochs: options.epochs, batchSize: options.batchSize, lr: options.lr, optimizer: options.optimizer,
          ...(options.scheduler && { scheduler: options.scheduler }), ...(options.clipGradNorm !== undefined && { clipGradNorm: options.clipGradNorm }),
          testAccuracy, trainAccuracy, testLoss, backend: info.backend,
        }),
      },
    });
    curvesFile = curvesFileFor(outFile);
    writeFileSync(curvesFile, curvesSvg(history, `${dataset} ${describeArch(arch)}`, regression));
    if (arch.inFeatures === 2 && !regression) {
      boundaryFile = `${stem(outFile)}.boundary.svg`;
      const pts = split.xTest.shape[0] >= 4 ? split.xTest : split.xTrain;
      const labels = pts === split.xTest ? split.yTest : split.yTrain;
      writeFileSync(boundaryFile, decisionBoundarySvg(
        (x) => model.forward(normalizeInput(x, arch)) as Tensor, pts, labels,
        { title: `${dataset} ${describeArch(arch)}: test accuracy ${(100 * testAccuracy).toFixed(1)}%` },
      ));
    }
  }
  return {
    model, arch, options, split, history, testAccuracy, trainAccuracy, testLoss,
    trainSeconds, totalSeconds: (performance.now() - t0) / 1000,
    samplesPerSec: h.epochs.reduce((s, e) => s + e.samples, 0) / (trainSeconds || 1e-9), backend,
    outFile: interrupted ? null : outFile, checkpointFile, curvesFile, boundaryFile, interrupted, stoppedEarly: h.stoppedEarly,
  };
}

/** Loss and accuracy per epoch as one SVG with two panels. */
export function curvesSvg(h: History, title: string, regression = false): string {
  const W = 640, H = 360;
  const loss = lineChartSvg([{ name: 'train loss', values: h.trainLoss }, { name: 'test loss', values: h.testLoss }],
    { title: `${title}: loss`, xLabel: 'epoch', yLabel: regression ? 'mean squared error' : 'cross-entropy', width: W, height: H });
  if (regression) return loss;
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
