// Model files and checkpoints as the CLI reads them. Everything read from a file is untrusted: the
// architecture is validated and compared with the file's weights before a model is allocated, names
// go into null-prototype objects or Maps, and no output path ever comes from a file.
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { Sequential, ACTIVATIONS, mlp, mlpShapes, describeMlp, layerSpecProblem, parameterShapes, type MlpArch, type MlpActivation, type LayerSpec } from '../nn/index.js';
import { load, loadCheckpoint, readSafetensors, META_SEQUENTIAL, type StateDictModule } from '../io/index.js';
import { fmt } from '../shape.js';
import { RandomGenerator } from '../random.js';
import { CliError, check } from './errors.js';
import { DATASETS, type DataSpec, type DatasetName } from './data.js';

export const OPTIMIZERS = ['sgd', 'momentum', 'adam'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];
export const SCHEDULERS = ['cosine', 'step', 'onecycle'] as const;
export type SchedulerName = (typeof SCHEDULERS)[number];

/** Everything needed to rebuild a model trained by the CLI, stored in the model file's metadata as "tapegrad.arch". */
export interface Arch extends MlpArch {
  /** Per-feature standardization applied to inputs before the first layer (CSV data). */
  normalize?: { mean: number[]; std: number[] };
  /** Class names of a CSV's text target (class i is labels[i]). */
  labels?: string[];
  /** 'regression': one output trained with MSE (default: classification, cross-entropy). */
  task?: 'regression';
}

export const META_ARCH = 'tapegrad.arch';
export const META_DATA = 'tapegrad.data';
export const META_TRAIN = 'tapegrad.train';

/** The options after defaults (what a checkpoint records). */
export interface ResolvedOptions {
  data: DataSpec;
  hidden: number[];
  activation: MlpActivation;
  epochs: number;
  batchSize: number;
  lr: number;
  optimizer: OptimizerName;
  /** LR schedule (absent: a constant rate), saved with its state in checkpoints. */
  scheduler?: SchedulerName;
  /** Total gradient 2-norm clipped to this before every step (absent: no clipping). */
  clipGradNorm?: number;
}

export interface History {
  /** Per epoch: mean training loss (per sample), train accuracy (during the epoch), test loss and accuracy. */
  trainLoss: number[];
  trainAcc: number[];
  testLoss: number[];
  testAcc: number[];
  /** Per batch: loss (all epochs run in this process and before a resume). */
  batchLoss: number[];
}

/** An epoch stopped part-way: the batches done and the running sums, so a resume continues it exactly. */
export interface PartialEpoch { batch: number; lossSum: number; correct: number; seen: number }

/**
 * What a train checkpoint holds (its `extra`). Output paths are deliberately not part of it.
 * blasThreads: the OpenBLAS thread count of a native run. sgemm's last bits depend on it (OpenBLAS's
 * threaded driver partitions M/N and steps K differently from its serial driver), so a resumed run
 * uses the same count to stay byte-identical with an uninterrupted one. rng: the global generator's
 * state (getRngState), so dropout masks after a resume are those of an uninterrupted run.
 */
export interface TrainState { epoch: number; partial: PartialEpoch | null; history: History; options: ResolvedOptions; arch: Arch; blasThreads?: number; rng?: number[] }

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
const isNumbers = (x: unknown): x is number[] => Array.isArray(x) && x.every((v) => typeof v === 'number');

/** Why `arch` is not a valid architecture (null when it is). */
function archProblem(arch: unknown): string | null {
  if (!isObject(arch)) return 'no architecture recorded';
  const { inFeatures, hidden, outFeatures, activation, normalize, labels, task, dropout, batchnorm } = arch;
  if (!isCount(inFeatures) || !isCount(outFeatures) || !inFeatures || !outFeatures) return `bad inFeatures/outFeatures ${inFeatures}/${outFeatures}`;
  if (!Array.isArray(hidden) || !hidden.every((h) => isCount(h) && h > 0)) return `bad hidden ${JSON.stringify(hidden)}`;
  if (!ACTIVATIONS.includes(activation as MlpActivation)) return `unknown activation ${JSON.stringify(activation)}`;
  if (dropout !== undefined && !(typeof dropout === 'number' && dropout >= 0 && dropout < 1)) return `bad dropout ${JSON.stringify(dropout)} (expected a probability in [0, 1))`;
  if (batchnorm !== undefined && typeof batchnorm !== 'boolean') return `bad batchnorm ${JSON.stringify(batchnorm)}`;
  if (normalize !== undefined) {
    const n = normalize as Arch['normalize'];
    const ok = isObject(n) && isNumbers(n.mean) && isNumbers(n.std) && n.mean.length === inFeatures && n.std.length === inFeatures &&
      n.mean.every(Number.isFinite) && n.std.every((v) => Number.isFinite(v) && v > 0);
    if (!ok) return `bad input normalization (expected ${inFeatures} finite means and positive stds)`;
  }
  if (labels !== undefined && !(Array.isArray(labels) && labels.length === outFeatures && labels.every((l) => typeof l === 'string'))) return `bad labels (expected ${outFeatures} class names)`;
  if (task !== undefined && !(task === 'regression' && outFeatures === 1)) return `bad task ${JSON.stringify(task)}`;
  return null;
}

/** A module that only records the shapes loaded into it: reads a file's weights without a model. */
function shapeProbe(shapes: Map<string, number[]>): StateDictModule {
  return { stateDict: () => ({}), loadStateDict: (sd) => { for (const [k, t] of Object.entries(sd)) shapes.set(k, t.shape); } };
}

/** The weights must be exactly those of `want`, checked before anything is allocated. */
function checkShapes(want: Map<string, number[]>, shapes: Map<string, number[]>, what: string, bad: (what: string) => never): void {
  for (const [k, shape] of want) {
    const got = shapes.get(k);
    if (!got || got.join() !== shape.join()) bad(`architecture ${what} needs '${k}' of shape ${fmt(shape)}, the weights have ${got ? fmt(got) : 'none'}`);
  }
  for (const k of shapes.keys()) if (!want.has(k)) bad(`unexpected weight '${k}' for architecture ${what}`);
}

/** The architecture must be valid and match the file's weights exactly, checked before mlp() allocates it. */
function checkArch(arch: unknown, shapes: Map<string, number[]>, bad: (what: string) => never): asserts arch is Arch {
  const wrong = archProblem(arch);
  if (wrong) bad(wrong);
  checkShapes(mlpShapes(arch as Arch), shapes, describeMlp(arch as Arch), bad);
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
  const { arch, options, epoch, partial, history, blasThreads, rng } = extra as Record<string, unknown>;
  if (blasThreads !== undefined && !(isCount(blasThreads) && blasThreads >= 1 && blasThreads <= 1024)) bad(`bad blasThreads ${JSON.stringify(blasThreads)}`);
  if (rng !== undefined) {
    try {
      new RandomGenerator(0).setState(rng as number[]);
    } catch {
      bad(`bad rng state ${JSON.stringify(rng)?.slice(0, 80)}`);
    }
  }
  checkArch(arch, shapes, bad);
  const a = arch, o = options as ResolvedOptions;
  if (o.activation !== a.activation || !isNumbers(o.hidden) || o.hidden.join() !== a.hidden.join()) {
    bad(`the architecture ${describeMlp(a)} disagrees with the recorded options (hidden ${JSON.stringify(o.hidden)}, activation ${JSON.stringify(o.activation)})`);
  }
  if (!isObject(o.data) || !DATASETS.includes(o.data.dataset as DatasetName) || !isCount(o.data.seed)) bad(`bad data ${JSON.stringify(o.data)}`);
  if (o.data.data !== undefined && typeof o.data.data !== 'string') bad('bad data file');
  if (!isCount(o.epochs) || !o.epochs || !isCount(o.batchSize) || !o.batchSize) bad(`bad epochs/batchSize ${o.epochs}/${o.batchSize}`);
  if (!(typeof o.lr === 'number' && Number.isFinite(o.lr) && o.lr > 0)) bad(`bad lr ${o.lr}`);
  if (!OPTIMIZERS.includes(o.optimizer)) bad(`unknown optimizer ${JSON.stringify(o.optimizer)}`);
  if (o.scheduler !== undefined && !SCHEDULERS.includes(o.scheduler)) bad(`unknown scheduler ${JSON.stringify(o.scheduler)}`);
  if (o.clipGradNorm !== undefined && !(typeof o.clipGradNorm === 'number' && Number.isFinite(o.clipGradNorm) && o.clipGradNorm > 0)) bad(`bad clipGradNorm ${o.clipGradNorm}`);
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
  const state = { epoch: epoch as number, partial: p, history: h, options: { ...o, data: resolveData(o.data, file) }, arch: a };
  return { ...state, ...(blasThreads !== undefined && { blasThreads: blasThreads as number }), ...(rng !== undefined && { rng: rng as number[] }) };
}

/** A data spec with its CSV path relative to the directory of `file` (model or checkpoint), as recorded there. */
export function relativeData(spec: DataSpec, file: string): DataSpec {
  return spec.data === undefined ? spec : { ...spec, data: relative(dirname(resolve(file)), resolve(spec.data)) };
}

/** The reverse of relativeData: a recorded path resolved against the directory of the file it was read from. */
export function resolveData(spec: DataSpec, file: string): DataSpec {
  return spec.data === undefined || isAbsolute(spec.data) ? spec : { ...spec, data: resolve(dirname(resolve(file)), spec.data) };
}

function parseJson(file: string, key: string, s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    throw new CliError(`${file}: "${key}" metadata is not valid JSON`);
  }
}

export interface ModelFile {
  model: Sequential;
  /** The CLI's architecture (normalization, class names), or null for a plain Sequential file. */
  arch: Arch | null;
  data: DataSpec | null;
  /** e.g. "2-8-2 tanh" or "Linear(4, 3) ReLU Linear(3, 2)". */
  description: string;
  inFeatures: number | null;
}

/**
 * Rebuild the model of any tapegrad file: a model written by `tapegrad train` or by save() of a
 * Sequential, or a checkpoint of either. The architecture comes from the metadata and is checked
 * against the weights before the model is allocated.
 */
export function readModel(file: string): ModelFile {
  check(existsSync(file), `model file not found: ${file}`);
  const bad = (what: string): never => { throw new CliError(`${file}: invalid model file: ${what}`); };
  const { metadata } = readSafetensors(file);
  const isCheckpoint = metadata['tapegrad.checkpoint'] !== undefined;
  const shapes = new Map<string, number[]>();
  let extra: Record<string, unknown> | undefined;
  const readInto = (m: StateDictModule): void => {
    if (isCheckpoint) extra = loadCheckpoint(file, { model: m, strict: m !== probe }) as Record<string, unknown> | undefined;
    else load(m, file, { strict: m !== probe });
  };
  const probe = shapeProbe(shapes);
  readInto(probe);
  let arch: unknown = isCheckpoint ? (isObject(extra) ? extra.arch : undefined) : metadata[META_ARCH] !== undefined ? parseJson(file, META_ARCH, metadata[META_ARCH]) : undefined;
  let model: Sequential, description: string, inFeatures: number | null;
  if (arch !== undefined) {
    checkArch(arch, shapes, bad);
    model = mlp(arch);
    description = describeMlp(arch);
    inFeatures = arch.inFeatures;
  } else if (metadata[META_SEQUENTIAL] !== undefined) {
    const spec = parseJson(file, META_SEQUENTIAL, metadata[META_SEQUENTIAL]);
    const wrong = layerSpecProblem(spec);
    if (wrong) bad(wrong);
    const layers = spec as LayerSpec[];
    checkShapes(parameterShapes(layers), shapes, 'of the file', bad);
    model = Sequential.fromArchitecture(layers);
    description = layers.map((l) => (l.type === 'Linear' ? `Linear(${l.inFeatures}, ${l.outFeatures})` : l.type)).join(' ');
    const first = layers.find((l) => l.type === 'Linear');
    inFeatures = first && first.type === 'Linear' && layers[0].type !== 'Flatten' ? first.inFeatures : null;
    arch = null;
  } else {
    throw new CliError(`${file} records no architecture (neither "${META_ARCH}" nor "${META_SEQUENTIAL}" metadata): save a Sequential with save(), or train with tapegrad train`);
  }
  readInto(model);
  model.eval();
  let data: DataSpec | null = null;
  const rawData = isCheckpoint ? (isObject(extra) && isObject(extra.options) ? extra.options.data : undefined) : metadata[META_DATA] !== undefined ? parseJson(file, META_DATA, metadata[META_DATA]) : undefined;
  if (isObject(rawData) && DATASETS.includes(rawData.dataset as DatasetName) && isCount(rawData.seed) && (rawData.data === undefined || typeof rawData.data === 'string')) {
    data = resolveData(rawData as unknown as DataSpec, file);
  }
  return { model, arch: arch as Arch | null, data, description, inFeatures };
}
