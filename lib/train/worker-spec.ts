// What trainInWorker sends to its worker, and how the worker turns it into a fit() call. Everything
// here crosses a postMessage, so a spec is plain data: the model as a Sequential architecture, an MLP
// or an ES module file exporting a factory; tensors as {data, shape} (their buffers transferred);
// the loss, optimizer and scheduler by class name with options.
import { existsSync, realpathSync, statSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Tensor, type TensorData } from '../tensor.js';
import { manualSeed } from '../random.js';
import { setBackend, type BackendName } from '../backend/index.js';
import { Sequential } from '../nn/container.js';
import { mlp, type MlpArch } from '../nn/mlp.js';
import type { LayerSpec } from '../nn/architecture.js';
import { MSELoss, BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, NLLLoss, L1Loss, SmoothL1Loss, HuberLoss, KLDivLoss } from '../nn/loss.js';
import { SGD } from '../optim/sgd.js';
import { Adam, AdamW } from '../optim/adam.js';
import { RMSprop } from '../optim/rmsprop.js';
import { Adagrad } from '../optim/adagrad.js';
import type { Optimizer } from '../optim/optimizer.js';
import { StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR } from '../optim/lr_scheduler/epoch.js';
import { OneCycleLR } from '../optim/lr_scheduler/one_cycle.js';
import { ReduceLROnPlateau } from '../optim/lr_scheduler/plateau.js';
import type { LRScheduler } from '../optim/lr_scheduler/scheduler.js';
import { TensorDataset } from '../data/dataset.js';
import { DataLoader } from '../data/dataloader.js';
import { loadCsv, type CsvOptions } from '../data/csv.js';
import type { FitModel, FitOptions } from './fit.js';
import type { MonitorOptions } from './monitor.js';

/** The model: a Sequential architecture (nn.Sequential.architecture() output), an MLP, or an ES module file exporting a factory. */
export type ModelSpec =
  | { architecture: LayerSpec[] }
  | { mlp: MlpArch }
  /** `module`: a file path (relative to the current directory) of an ES module; `export` (default 'default') names a function (options) => nn.Module. */
  | { module: string; export?: string; options?: unknown };

/** Data: [x, y] tensors (transferred to the worker), or a CSV file loaded in the worker with loadCsv (`target` required). */
export type DataSpec = readonly [Tensor, Tensor] | ({ csv: string } & CsvOptions);

/** A class by name, with the options of its constructor. */
export type Named<N extends string> = N | { name: N; options?: Record<string, unknown> };

export const LOSSES = { MSELoss, BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, NLLLoss, L1Loss, SmoothL1Loss, HuberLoss, KLDivLoss } as const;
export const OPTIMIZERS = { SGD, Adam, AdamW, RMSprop, Adagrad } as const;
export const SCHEDULERS = { StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR, OneCycleLR, ReduceLROnPlateau } as const;

export interface WorkerTrainSpec {
  model: ModelSpec;
  data: DataSpec;
  validationData?: DataSpec;
  loss: Named<keyof typeof LOSSES>;
  /** e.g. {name: 'Adam', options: {lr: 1e-3}}. */
  optimizer: Named<keyof typeof OPTIMIZERS>;
  /** Stepped once per epoch by fit (per batch for perBatch schedulers such as OneCycleLR). */
  scheduler?: Named<keyof typeof SCHEDULERS>;
  epochs?: number;
  /** Default 32. */
  batchSize?: number;
  /** Shuffle every epoch (default true), with the seed. */
  shuffle?: boolean;
  /** manualSeed(seed) before the model is built, and the DataLoader's seed. */
  seed?: number;
  /** Default: the caller's current backend. */
  backend?: BackendName;
  earlyStopping?: MonitorOptions & { patience?: number };
  keepBest?: MonitorOptions & { restore?: boolean; file?: string };
  logFile?: string;
}

/** A tensor as it crosses postMessage. */
export interface WireTensor { data: TensorData; shape: number[] }

export function toWire(t: Tensor, what: string): WireTensor {
  if (!(t instanceof Tensor)) throw new TypeError(`trainInWorker: ${what} must be a Tensor, got ${t === null ? 'null' : typeof t}`);
  return { data: t.data, shape: t.shape.slice() };
}

export const fromWire = (w: WireTensor): Tensor => new Tensor(w.data, w.shape);

/**
 * The ArrayBuffers to transfer for these arrays (each once). With `wholeOnly`, an array that is a view
 * of part of a larger buffer is first replaced by a copy of its bytes (transferring the buffer would
 * detach the caller's other data); SharedArrayBuffers are shared, never transferred.
 */
export function transferList(wires: WireTensor[], wholeOnly: boolean): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const w of wires) {
    if (!(w.data.buffer instanceof ArrayBuffer)) continue;
    if (wholeOnly && w.data.byteLength !== w.data.buffer.byteLength) w.data = w.data.slice();
    out.add(w.data.buffer as ArrayBuffer);
  }
  return [...out];
}

/** A module path made absolute, checked to be an existing .js/.mjs/.cjs/.ts file (no URLs or package names). */
export function resolveModuleFile(file: unknown): string {
  if (typeof file !== 'string' || file === '') throw new TypeError(`trainInWorker: model.module must be a file path, got ${typeof file}`);
  if (/^[a-z][a-z0-9+.-]+:/i.test(file)) throw new TypeError(`trainInWorker: model.module must be a file path, not a URL or node: specifier: ${JSON.stringify(file)}`);
  const abs = resolve(file);
  if (!existsSync(abs) || !statSync(abs).isFile()) throw new Error(`trainInWorker: model.module ${JSON.stringify(file)}: no such file (${abs})`);
  if (!['.js', '.mjs', '.cjs', '.ts', '.mts'].includes(extname(abs))) throw new Error(`trainInWorker: model.module ${abs} is not a JavaScript module (.js, .mjs, .cjs; .ts/.mts with a TypeScript loader)`);
  return realpathSync(abs);
}

/** What a spec's model must be (an nn.Module is). */
export type TrainableModel = FitModel & { stateDict(): Record<string, Tensor>; loadStateDict(sd: Record<string, Tensor>): unknown; parameters(): Tensor[] };

/** Build the model of a spec (module paths must be resolved already). */
export async function buildModel(spec: ModelSpec): Promise<TrainableModel> {
  if (!spec || typeof spec !== 'object') throw new TypeError('trainInWorker: spec.model must be {architecture}, {mlp} or {module}');
  if ('architecture' in spec) return Sequential.fromArchitecture(spec.architecture);
  if ('mlp' in spec) return mlp(spec.mlp);
  if (!('module' in spec)) throw new TypeError(`trainInWorker: spec.model must have architecture, mlp or module, got keys ${Object.keys(spec).join(', ') || '(none)'}`);
  const name = spec.export ?? 'default';
  const mod = (await import(pathToFileURL(spec.module).href)) as Record<string, unknown>;
  const factory = mod[name];
  if (typeof factory !== 'function') throw new TypeError(`trainInWorker: ${spec.module} has no function export '${name}' (the model factory)`);
  const model = await (factory as (o: unknown) => unknown)(spec.options);
  const m = model as { forward?: unknown; parameters?: unknown; stateDict?: unknown; loadStateDict?: unknown };
  if (!m || typeof m.forward !== 'function' || typeof m.parameters !== 'function' || typeof m.stateDict !== 'function' || typeof m.loadStateDict !== 'function') {
    throw new TypeError(`trainInWorker: the factory '${name}' of ${spec.module} must return an nn.Module, got ${model === null ? 'null' : typeof model}`);
  }
  return model as TrainableModel;
}

function byName<T>(table: Record<string, T>, spec: unknown, what: string): { ctor: T; options: Record<string, unknown> | undefined } {
  const s = typeof spec === 'string' ? { name: spec } : (spec as { name?: unknown; options?: Record<string, unknown> } | null);
  const name = s?.name;
  if (typeof name !== 'string' || !Object.hasOwn(table, name)) {
    throw new RangeError(`trainInWorker: unknown ${what} ${JSON.stringify(name ?? spec)} (known: ${Object.keys(table).join(', ')})`);
  }
  return { ctor: table[name], options: s!.options };
}

/** The [x, y] of a data spec on the worker's side: wire tensors, or {csv, ...} read with loadCsv. */
export type WireData = [WireTensor, WireTensor] | ({ csv: string } & CsvOptions);

function dataOf(d: WireData, what: string): [Tensor, Tensor] {
  if (Array.isArray(d)) return [fromWire(d[0]), fromWire(d[1])];
  const { csv, ...opts } = d as { csv: string } & CsvOptions;
  const c = loadCsv(csv, opts);
  if (!c.y) throw new Error(`trainInWorker: ${what} ${csv} has no target column (set target)`);
  return [c.x, c.y];
}

/** A spec after the main thread's checks: paths absolute, tensors as wire tensors. */
export type WireSpec = Omit<WorkerTrainSpec, 'data' | 'validationData'> & { data: WireData; validationData?: WireData };

/** Everything fit needs, built from a spec in this thread (the worker) with its seed and backend. */
export async function buildTraining(spec: WireSpec): Promise<{
  model: TrainableModel; loader: DataLoader; optimizer: Optimizer; scheduler: LRScheduler | null;
  fitOptions: Omit<FitOptions, 'signal' | 'onBatchEnd' | 'onEpochEnd'>;
}> {
  if (spec.backend) setBackend(spec.backend);
  if (spec.seed !== undefined) manualSeed(spec.seed);
  const model = await buildModel(spec.model);
  const [x, y] = dataOf(spec.data, 'data');
  const loader = new DataLoader(new TensorDataset(x, y), { batchSize: spec.batchSize ?? 32, shuffle: spec.shuffle ?? true, seed: spec.seed });
  const loss = byName(LOSSES, spec.loss, 'loss');
  const opt = byName(OPTIMIZERS, spec.optimizer, 'optimizer');
  const optimizer = new (opt.ctor as new (p: Tensor[], o: unknown) => Optimizer)(model.parameters(), opt.options ?? {});
  let scheduler: LRScheduler | null = null;
  if (spec.scheduler !== undefined) {
    const s = byName(SCHEDULERS, spec.scheduler, 'scheduler');
    scheduler = new (s.ctor as new (o: Optimizer, opts: unknown) => LRScheduler)(optimizer, s.options ?? {});
  }
  const fitOptions: Omit<FitOptions, 'signal' | 'onBatchEnd' | 'onEpochEnd'> = {
    lossFn: new (loss.ctor as new (o?: unknown) => CrossEntropyLoss)(loss.options),
    optimizer,
    epochs: spec.epochs ?? 1,
    ...(spec.validationData !== undefined && { validationData: dataOf(spec.validationData, 'validationData') }),
    ...(scheduler && { scheduler }),
    ...(spec.earlyStopping && { earlyStopping: spec.earlyStopping }),
    ...(spec.keepBest && { keepBest: spec.keepBest }),
    ...(spec.logFile && { logFile: spec.logFile }),
  };
  return { model, loader, optimizer, scheduler, fitOptions };
}
