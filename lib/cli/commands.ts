// The actions behind the CLI commands. Each writes its report to `out` and returns an exit code;
// user mistakes are thrown as CliError (printed as one line by main).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, extname } from 'node:path';
import { spawn } from 'node:child_process';
import { Tensor } from '../tensor.js';
import { randn } from '../creation.js';
import { manualSeed } from '../random.js';
import { crossEntropy } from '../ops/index.js';
import { backendInfo, setBackend, type BackendName } from '../backend/index.js';
import { packageRoot } from '../backend/native.js';
import { Perceptron, Softmax, LogSoftmax } from '../nn/index.js';
import { loadCsv } from '../data/index.js';
import { toDot, renderSvg } from '../viz/graph.js';
import { asciiChart, decisionBoundarySvg } from '../viz/plot.js';
import { CliError, check } from './errors.js';
import { loadDataset, type DatasetName } from './data.js';
import { trainModel, buildMlp, describeArch, normalizeInput, type TrainOptions, type Activation, type Arch } from './train.js';
import { readModel } from './modelfile.js';
import { predict, accuracy, evaluate, argmaxRows } from '../train/index.js';
import { softmax, exp, mseLoss } from '../ops/index.js';
import { progressReporter } from './progress.js';

export interface Out {
  log(s?: string): void;
}
export const stdout: Out = { log: (s = '') => { process.stdout.write(`${s}\n`); } };

const pct = (a: number): string => `${(100 * a).toFixed(2)}%`;
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

export function useBackend(name: BackendName | undefined): void {
  if (name === undefined) return;
  try {
    setBackend(name);
  } catch (e) {
    throw new CliError(`--backend ${name}: ${(e as Error).message.replace(/^setBackend\('native'\): /, '')}`);
  }
}

function backendLine(): string {
  const b = backendInfo();
  return `backend: ${b.backend} (${b.reason})`;
}

// ------------------------------------------------------------------------------------------ train
export async function trainCommand(opts: TrainOptions & { backend?: BackendName; quiet?: boolean }, out: Out = stdout): Promise<number> {
  useBackend(opts.backend);
  const reporter = progressReporter({ quiet: opts.quiet });
  const t0 = performance.now();
  // Ctrl-C or SIGTERM (docker stop): finish the current batch, write a checkpoint there and exit
  // 130 / 143 (128 + signal number, as a shell reports it); a second signal kills at once.
  const stop = new AbortController();
  let exitCode = 130;
  const onSignal = (sig: NodeJS.Signals): void => {
    for (const s of SIGNALS) process.off(s, onSignal);
    exitCode = sig === 'SIGTERM' ? 143 : 130;
    stop.abort();
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  let result;
  try {
    result = await trainModel({ ...opts, signal: stop.signal }, {
      onStart(info) {
        const { split, arch, options, startEpoch } = info;
        out.log(`dataset: ${split.description}`);
        out.log(`model: ${describeArch(arch)}${arch.task ? ' regression' : ''} (${buildMlp(arch).numParameters()} parameters), ${options.optimizer} lr ${options.lr}${options.scheduler ? ` (${options.scheduler} schedule)` : ''}${options.clipGradNorm !== undefined ? `, grad norm clipped to ${options.clipGradNorm}` : ''}, batch ${options.batchSize}, ${options.epochs} epochs, seed ${options.data.seed}`);
        if (startEpoch > 0) out.log(`resuming after epoch ${startEpoch} from ${opts.resume}`);
        out.log(backendLine());
        reporter.onStart?.(info);
      },
      onProgress: reporter.onProgress,
      onEpoch: reporter.onEpoch,
    });
  } finally {
    for (const s of SIGNALS) process.off(s, onSignal);
    reporter.finish();
  }
  if (result.interrupted) {
    const { epoch, batch } = result.interrupted;
    out.log(`interrupted in epoch ${epoch} after batch ${batch}`);
    if (result.checkpointFile) out.log(`checkpoint: ${result.checkpointFile} (continue with: tapegrad train --resume ${result.checkpointFile})`);
    return exitCode;
  }
  const seconds = (performance.now() - t0) / 1000;
  const h = result.history;
  if (!opts.quiet && h.batchLoss.length > 1) {
    out.log('');
    out.log('training loss (per batch, averaged to fit)');
    out.log(asciiChart(h.batchLoss, { height: 8 }));
    if (h.testAcc.length > 1) {
      out.log('test accuracy % (per epoch)');
      out.log(asciiChart(h.testAcc.map((a) => 100 * a), { height: 6, decimals: 2 }));
    }
  }
  out.log('');
  if (result.stoppedEarly !== null) out.log(`early stopping after epoch ${result.stoppedEarly} (test loss did not improve for ${opts.patience} epochs)`);
  if (result.arch.task) out.log(`test MSE: ${result.testLoss.toPrecision(5)} (${result.split.yTest.size} samples)`);
  else out.log(`test accuracy: ${pct(result.testAccuracy)} (${result.split.yTest.size} samples; train ${pct(result.trainAccuracy)})`);
  out.log(`time: ${seconds.toFixed(1)}s total, ${result.trainSeconds.toFixed(1)}s training, ${Math.round(result.samplesPerSec)} samples/s`);
  out.log(`backend: ${result.backend}`);
  if (result.outFile) out.log(`model: ${result.outFile}`);
  if (result.checkpointFile) out.log(`checkpoint: ${result.checkpointFile}`);
  if (result.curvesFile) out.log(`curves: ${result.curvesFile}`);
  if (opts.log) out.log(`metrics: ${opts.log} (one JSON line per epoch)`);
  if (result.boundaryFile) out.log(`decision boundary: ${result.boundaryFile}`);
  return 0;
}

// ------------------------------------------------------------------------------------------ eval / predict
export interface EvalOptions {
  model: string;
  dataset?: DatasetName;
  data?: string;
  target?: string;
  delimiter?: string;
  seed?: number;
  samples?: number;
  backend?: BackendName;
}

export async function evalCommand(opts: EvalOptions, out: Out = stdout): Promise<number> {
  useBackend(opts.backend);
  const { model, arch, data, description } = readModel(opts.model);
  const dataset = opts.dataset ?? (opts.data !== undefined ? 'csv' : data?.dataset);
  check(dataset, `${opts.model} does not record its dataset; pass --dataset (or --data file.csv)`);
  const same = data && data.dataset === dataset ? data : null;
  const pick = <K extends 'data' | 'target' | 'samples' | 'delimiter'>(k: K) => {
    const v = opts[k] ?? same?.[k];
    return v === undefined ? {} : { [k]: v };
  };
  const split = await loadDataset({ dataset, seed: opts.seed ?? same?.seed ?? 0, ...pick('data'), ...pick('target'), ...pick('samples'), ...pick('delimiter') }, arch?.labels ? { labels: arch.labels } : {});
  const inFeatures = arch?.inFeatures ?? split.inFeatures;
  check(split.inFeatures === inFeatures, `${opts.model} expects ${inFeatures} input features but ${dataset} has ${split.inFeatures}`);
  const x = arch ? normalizeInput(split.xTest, arch) : split.xTest;
  out.log(`model: ${opts.model} (${description})`);
  out.log(`dataset: ${split.description}`);
  if (arch?.task || split.task) {
    out.log(`test MSE: ${evaluate(model, [x, split.yTest.reshape([split.yTest.size, 1])], mseLoss).loss.toPrecision(5)} (${split.yTest.size} samples)`);
  } else {
    out.log(`test accuracy: ${pct(accuracy(model, x, split.yTest))} (${split.yTest.size} samples)`);
  }
  out.log(backendLine());
  return 0;
}

export interface PredictOptions {
  model: string;
  input: string;
  /** true / false, or 'auto' (default): a header when the first row has text over numbers. */
  header?: boolean | 'auto';
  delimiter?: string;
  json?: boolean;
  backend?: BackendName;
}

const csvCell = (s: string): string => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/** One line per input row: class, label and probabilities (CSV, or JSON lines with --json); a regression model prints its value. */
export async function predictCommand(opts: PredictOptions, out: Out = stdout): Promise<number> {
  useBackend(opts.backend);
  const { model, arch, inFeatures } = readModel(opts.model);
  check(existsSync(opts.input), `input file not found: ${opts.input}`);
  let { x } = loadCsv(opts.input, { header: opts.header ?? 'auto', ...(opts.delimiter !== undefined && { delimiter: opts.delimiter }) });
  const want = inFeatures ?? x.shape[1];
  check(x.shape[1] === want, `${opts.input} has ${x.shape[1]} columns but the model expects ${want} features (give one row per sample, without a target column)`);
  if (arch) x = normalizeInput(x, arch);
  const y = predict(model, x);
  const n = x.shape[0], c = y.size / Math.max(1, n);
  if (arch?.task || c === 1) {
    if (!opts.json) out.log('value');
    for (let i = 0; i < n; i++) out.log(opts.json ? JSON.stringify({ value: y.data[i] }) : String(y.data[i]));
    return 0;
  }
  // a model that ends in Softmax / LogSoftmax already gives (log-)probabilities
  const last = model.length ? model.at(-1) : null;
  const probs = last instanceof Softmax ? y : last instanceof LogSoftmax ? exp(y) : softmax(y, 1), cls = argmaxRows(y);
  const names = arch?.labels ?? Array.from({ length: c }, (_, k) => String(k));
  const row = (i: number): number[] => Array.from(probs.data.subarray(i * c, (i + 1) * c), (p) => Number(p.toPrecision(6)));
  if (!opts.json) out.log(['class', 'label', ...names.map((l) => `p_${l}`)].map(csvCell).join(','));
  for (let i = 0; i < n; i++) {
    if (opts.json) {
      const p: Record<string, number> = {};
      row(i).forEach((v, k) => { p[names[k]] = v; });
      out.log(JSON.stringify({ class: cls[i], label: names[cls[i]], probabilities: p }));
    } else {
      out.log([String(cls[i]), csvCell(names[cls[i]]), ...row(i).map(String)].join(','));
    }
  }
  return 0;
}

// ------------------------------------------------------------------------------------------ perceptron
export const GATES = {
  and: [0, 0, 0, 1],
  or: [0, 1, 1, 1],
  nand: [1, 1, 1, 0],
  xor: [0, 1, 1, 0],
} as const;
export type Gate = keyof typeof GATES;

export async function perceptronCommand(opts: { dataset: Gate; lr?: number; maxEpochs?: number; out?: string }, out: Out = stdout): Promise<number> {
  const ys = GATES[opts.dataset];
  check(ys, `unknown dataset '${opts.dataset}' (expected ${Object.keys(GATES).join(', ')})`);
  const x = new Tensor(Float32Array.from([0, 0, 0, 1, 1, 0, 1, 1]), [4, 2]);
  const y = new Tensor(Float32Array.from(ys), [4]);
  const p = new Perceptron(2, { lr: opts.lr ?? 1, maxEpochs: opts.maxEpochs ?? 20 });
  const name = opts.dataset.toUpperCase();
  out.log(`Rosenblatt perceptron on ${name}: targets ${ys.join(' ')} for inputs (0,0) (0,1) (1,0) (1,1); lr ${p.lr}, at most ${p.maxEpochs} epochs`);
  const r = p.fit(x, y);
  out.log('epoch  errors');
  r.errors.forEach((e, i) => out.log(`${String(i + 1).padStart(5)}  ${String(e).padStart(6)}`));
  const w = Array.from(p.weight.data), b = p.bias.data[0];
  const acc = p.score(x, y);
  if (r.converged) {
    out.log(`converged after ${r.epochs} epoch${r.epochs === 1 ? '' : 's'}: w = [${w.join(', ')}], b = ${b}; all 4 points classified correctly`);
  } else {
    out.log(`did not converge in ${r.epochs} epochs (errors per epoch never reach 0): w = [${w.join(', ')}], b = ${b}, accuracy ${pct(acc)}`);
    if (opts.dataset === 'xor') out.log('XOR is not linearly separable: no line puts (0,1), (1,0) on one side and (0,0), (1,1) on the other (Minsky & Papert, 1969).');
  }
  if (r.errors.length > 1) {
    out.log('errors per epoch');
    out.log(asciiChart(r.errors, { height: Math.max(1, Math.max(...r.errors) - Math.min(...r.errors)), decimals: 0 }));
  }
  const file = opts.out ?? join('runs', 'perceptron', `${opts.dataset}.svg`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, decisionBoundarySvg((t) => p.predict(t), x, y, {
    title: `perceptron on ${name}: ${r.converged ? `converged in ${r.epochs} epochs` : `not converged after ${r.epochs} epochs`}`,
  }));
  out.log(`decision boundary: ${file}`);
  return 0;
}

// ------------------------------------------------------------------------------------------ graph
export async function graphCommand(
  opts: { hidden?: number[]; activation?: Activation; inFeatures?: number; classes?: number; batchSize?: number; out?: string; seed?: number },
  out: Out = stdout,
): Promise<number> {
  const file = opts.out ?? join('runs', 'graph', 'mlp.svg');
  const ext = extname(file).toLowerCase();
  check(ext === '.svg' || ext === '.dot', `--out must end in .svg or .dot, got ${file}`);
  const arch: Arch = { inFeatures: opts.inFeatures ?? 784, hidden: opts.hidden ?? [128], outFeatures: opts.classes ?? 10, activation: opts.activation ?? 'relu' };
  manualSeed(opts.seed ?? 0);
  const model = buildMlp(arch);
  const batch = opts.batchSize ?? 4;
  const x = randn([batch, arch.inFeatures]);
  const labels = Int32Array.from({ length: batch }, (_, i) => i % arch.outFeatures);
  const loss = crossEntropy(model.forward(x) as Tensor, labels);
  const dot = toDot(loss, { params: model.namedParameters(), title: `${describeArch(arch)} MLP, cross-entropy on a batch of ${batch}` });
  const dotFile = ext === '.dot' ? file : file.slice(0, -ext.length) + '.dot';
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(dotFile, dot);
  out.log(`model: ${describeArch(arch)}, loss ${loss.item().toFixed(4)} (gradFn ${loss.gradFn?.name})`);
  const ops = (dot.match(/style="rounded,filled"/g) ?? []).length;
  out.log(`graph: ${ops} ops, ${model.parameters().length} parameters`);
  out.log(`dot: ${dotFile}`);
  if (ext === '.svg') {
    writeFileSync(file, await renderSvg(dot));
    out.log(`svg: ${file}`);
  }
  return 0;
}

// ------------------------------------------------------------------------------------------ bench
export async function benchCommand(args: string[], out: Out = stdout): Promise<number> {
  const script = join(packageRoot(), 'bench', 'run.mjs');
  if (!existsSync(script)) {
    throw new CliError(`no benchmark script at ${script} (bench/run.mjs is not part of this checkout yet)`);
  }
  out.log(`running ${script}${args.length ? ` ${args.join(' ')}` : ''}`);
  return await new Promise<number>((done, fail) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: 'inherit', cwd: packageRoot() });
    child.on('error', (e) => fail(new CliError(`cannot run ${script}: ${e.message}`)));
    child.on('exit', (code, signal) => done(code ?? (signal ? 1 : 0)));
  });
}
