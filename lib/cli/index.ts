// The `tapegrad` command line (bin/tapegrad.js calls main). Built on commander: every command has --help.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { DATASETS } from './data.js';
import { ACTIVATIONS, OPTIMIZERS, SCHEDULERS, DEFAULTS } from './train.js';
import {
  trainCommand, evalCommand, predictCommand, perceptronCommand, graphCommand, benchCommand, GATES,
} from './commands.js';
import { registerExport } from './export.js';

export { CliError } from './errors.js';
export * from './train.js';
export { readModel, readTrainCheckpoint, META_ARCH, META_DATA, META_TRAIN, type ModelFile } from './modelfile.js';
export { loadDataset, DATASETS, type DataSpec, type DatasetName, type Split } from './data.js';

// ------------------------------------------------------------------ option value parsers
function positiveInt(what: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\s*\d+\s*$/.test(v) || !Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${what} must be a positive integer.`);
    return n;
  };
}

function nonNegativeInt(what: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`${what} must be a non-negative integer.`);
    return n;
  };
}

function probability(what: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !(n >= 0 && n < 1)) throw new InvalidArgumentError(`${what} must be a probability in [0, 1).`);
    return n;
  };
}

function positiveNumber(what: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a positive number.`);
    return n;
  };
}

/** "256,128" → [256, 128]; "" or "none" → [] (a linear model). */
function layerList(v: string): number[] {
  if (v.trim() === '' || v.trim().toLowerCase() === 'none') return [];
  const parts = v.split(',').map((s) => s.trim());
  if (parts.some((p) => !/^\d+$/.test(p) || Number(p) < 1)) throw new InvalidArgumentError('expected comma-separated positive layer widths, e.g. 256,128.');
  return parts.map(Number);
}

const backendOption = (): Option => new Option('--backend <name>', 'kernels to use (default: native when the addon loads, else js)').choices(['js', 'native']);
const datasetOption = (desc: string): Option => new Option('--dataset <name>', desc).choices([...DATASETS]);

function defaultsHelp(): string {
  const rows = Object.entries(DEFAULTS).map(([k, d]) =>
    `  ${k.padEnd(8)} hidden ${d.hidden.join(',').padEnd(6)} ${d.activation.padEnd(5)} ${d.optimizer.padEnd(8)} lr ${String(d.lr[d.optimizer]).padEnd(6)} batch ${String(d.batchSize).padEnd(3)} epochs ${d.epochs}`);
  return `\nDefaults per dataset (each option overrides one):\n${rows.join('\n')}\n\n`
    + 'Default files: runs/<dataset or CSV name>/model.safetensors (metadata records the architecture), model.checkpoint.safetensors\n'
    + '(written after every epoch, and where Ctrl-C or SIGTERM stops training) and model.curves.svg (loss/accuracy per epoch)\n'
    + 'next to it. --resume takes data, architecture and optimizer from the checkpoint (conflicting options are an\n'
    + 'error; with a --scheduler also a different --epochs, --batch-size or --lr) and writes the model next to the\n'
    + 'checkpoint unless --out is given. The scheduler\'s state is saved in the checkpoint: a resumed run continues the schedule.\n\n'
    + 'Examples:\n  tapegrad train\n  tapegrad train --dataset spirals --hidden 64,64 --epochs 100\n'
    + '  tapegrad train --dataset csv --data iris.csv --target species\n'
    + '  tapegrad train --data iris.csv --target species --out runs/iris.safetensors --log runs/iris.jsonl\n'
    + '  tapegrad train --dropout 0.2 --batchnorm --scheduler cosine --clip-grad-norm 5\n'
    + '  tapegrad train --resume runs/mnist/model.checkpoint.safetensors --epochs 15';
}

function registerTrain(program: Command): void {
  program.command('train')
    .description('train an MLP classifier (default: 784-128-10 on MNIST) and report test accuracy')
    .addOption(datasetOption('dataset (default mnist)'))
    .option('--data <file>', 'CSV file (implies --dataset csv): a header row, numeric feature columns')
    .option('--target <column>', 'target column of the CSV: name or 0-based index (default: last column); text labels are classes, integers class indices, other numbers a regression target (MSE)')
    .option('--delimiter <char>', 'CSV cell separator (default: detected among , ; tab |)')
    .option('--samples <n>', 'points for spirals/circles (default 1000)', positiveInt('--samples'))
    .option('--hidden <widths>', 'hidden layer widths, comma-separated, e.g. 256,128 ("none" for none)', layerList)
    .addOption(new Option('--activation <name>', 'hidden activation').choices([...ACTIVATIONS]))
    .option('--dropout <p>', 'nn.Dropout(p) after each hidden activation (off in eval and predict; default none)', probability('--dropout'))
    .option('--batchnorm', 'nn.BatchNorm1d after each hidden Linear, before its activation (running statistics in eval and predict)')
    .option('--epochs <n>', 'epochs (total, also when resuming)', positiveInt('--epochs'))
    .option('--batch-size <n>', 'samples per batch', positiveInt('--batch-size'))
    .option('--lr <rate>', 'learning rate', positiveNumber('--lr'))
    .addOption(new Option('--optimizer <name>', 'sgd, momentum (SGD with momentum 0.9) or adam').choices([...OPTIMIZERS]))
    .option('--seed <n>', 'seed of the initialization, the data split and the shuffling (default 0)', nonNegativeInt('--seed'))
    .option('--out <file>', 'model file (default runs/<dataset>/model.safetensors)')
    .option('--checkpoint <file>', 'checkpoint written after every epoch (default: next to the model)')
    .option('--no-checkpoint', 'do not write checkpoints')
    .option('--resume <checkpoint>', 'continue training from a checkpoint (data, architecture, optimizer and schedule state come from it; the model goes next to it unless --out)')
    .option('--log <file>', 'metrics of every epoch as JSON lines (loss, accuracy, valLoss, valAccuracy, lr, ...)')
    .option('--patience <n>', 'early stopping: stop when the test loss has not improved for n epochs', positiveInt('--patience'))
    .addOption(new Option('--scheduler <name>', 'learning-rate schedule over the run: cosine (CosineAnnealingLR from --lr to 0 at the last epoch), step (StepLR: lr/10 every ceil(epochs/3) epochs) or onecycle (OneCycleLR per batch, --lr is the peak); default: constant lr').choices([...SCHEDULERS]))
    .option('--clip-grad-norm <x>', 'clip the total 2-norm of the gradients to x before every step (nn.utils.clipGradNorm)', positiveNumber('--clip-grad-norm'))
    .addOption(backendOption())
    .option('-q, --quiet', 'no progress bar or charts')
    .addHelpText('after', defaultsHelp())
    .action(async (o) => {
      process.exitCode = await trainCommand({
        dataset: o.dataset, data: o.data, target: o.target, samples: o.samples, hidden: o.hidden, activation: o.activation,
        dropout: o.dropout, batchnorm: o.batchnorm,
        epochs: o.epochs, batchSize: o.batchSize, lr: o.lr, optimizer: o.optimizer, seed: o.seed, out: o.out,
        checkpoint: o.checkpoint === false ? null : typeof o.checkpoint === 'string' ? o.checkpoint : undefined,
        resume: o.resume, backend: o.backend, quiet: o.quiet, delimiter: o.delimiter, log: o.log, patience: o.patience,
        scheduler: o.scheduler, clipGradNorm: o.clipGradNorm,
      });
    });
}

function registerPerceptron(program: Command): void {
  program.command('perceptron')
    .description("Rosenblatt's perceptron rule on a logic gate: converges on AND/OR/NAND, never on XOR")
    .addOption(new Option('--dataset <gate>', 'truth table to learn').choices(Object.keys(GATES)).default('and'))
    .option('--lr <rate>', 'learning rate of the update rule', positiveNumber('--lr'), 1)
    .option('--max-epochs <n>', 'give up after this many epochs', positiveInt('--max-epochs'), 20)
    .option('--out <file>', 'decision boundary SVG (default runs/perceptron/<gate>.svg)')
    .action(async (o) => {
      process.exitCode = await perceptronCommand({ dataset: o.dataset, lr: o.lr, maxEpochs: o.maxEpochs, out: o.out });
    });
}

function registerGraph(program: Command): void {
  program.command('graph')
    .description('draw the computational graph of an MLP\'s loss on a small batch (DOT and SVG)')
    .option('--hidden <widths>', 'hidden layer widths, comma-separated', layerList, [128])
    .addOption(new Option('--activation <name>', 'hidden activation').choices([...ACTIVATIONS]).default('relu'))
    .option('--in-features <n>', 'input features', positiveInt('--in-features'), 784)
    .option('--classes <n>', 'output classes', positiveInt('--classes'), 10)
    .option('--batch-size <n>', 'rows of the random input batch', positiveInt('--batch-size'), 4)
    .option('--out <file>', 'SVG (the .dot is written next to it) or .dot file', 'runs/graph/mlp.svg')
    .action(async (o) => {
      process.exitCode = await graphCommand({
        hidden: o.hidden, activation: o.activation, inFeatures: o.inFeatures, classes: o.classes, batchSize: o.batchSize, out: o.out,
      });
    });
}

function registerEval(program: Command): void {
  program.command('eval')
    .description('rebuild a model from its file (architecture in the metadata) and report test accuracy')
    .requiredOption('--model <file>', 'a tapegrad model file or checkpoint (tapegrad train, save() or saveCheckpoint() of a Sequential)')
    .addOption(datasetOption('dataset (default: the one the model was trained on, with the same split)'))
    .option('--data <file>', 'CSV file (implies --dataset csv)')
    .option('--target <column>', 'target column of the CSV')
    .option('--delimiter <char>', 'CSV cell separator (default: detected)')
    .option('--seed <n>', 'split seed (default: the training seed)', nonNegativeInt('--seed'))
    .option('--samples <n>', 'points for spirals/circles', positiveInt('--samples'))
    .addOption(backendOption())
    .action(async (o) => {
      process.exitCode = await evalCommand({ model: o.model, dataset: o.dataset, data: o.data, target: o.target, delimiter: o.delimiter, seed: o.seed, samples: o.samples, backend: o.backend });
    });
}

function registerPredict(program: Command): void {
  program.command('predict')
    .description('predict each row of a CSV file (no target column): class, label and class probabilities as CSV (or --json lines)')
    .requiredOption('--model <file>', 'a tapegrad model file or checkpoint')
    .requiredOption('--input <file>', 'CSV with one sample per row')
    .option('--header', 'the first row is a header (default: detected)')
    .option('--no-header', 'the first row is data')
    .option('--delimiter <char>', 'CSV cell separator (default: detected)')
    .option('--json', 'one JSON object per line instead of CSV')
    .addOption(backendOption())
    .action(async (o) => {
      process.exitCode = await predictCommand({ model: o.model, input: o.input, header: o.header ?? 'auto', delimiter: o.delimiter, json: o.json, backend: o.backend });
    });
}

function registerBench(program: Command): void {
  program.command('bench')
    .description('run the benchmarks (bench/run.mjs); extra arguments are passed on')
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .helpOption('-h, --help', 'display help for command')
    .argument('[args...]', 'arguments for bench/run.mjs')
    .action(async (args: string[]) => {
      process.exitCode = await benchCommand(args ?? []);
    });
}

/** The commands, in --help order. A new command is one function here (or imported) and one entry in this list. */
export const COMMANDS: ((program: Command) => void)[] = [
  registerTrain, registerPerceptron, registerGraph, registerEval, registerPredict, registerExport, registerBench,
];

export function buildProgram(): Command {
  const program = new Command('tapegrad')
    .description('tapegrad: reverse-mode autodiff and PyTorch-style neural networks for Node.js')
    .version('0.1.0', '-V, --version')
    .showSuggestionAfterError(true)
    .configureOutput({ outputError: (str, write) => write(str.replace(/^error: /, 'tapegrad: ').replace(/\n\(Did you mean (.*)\?\)/, ' (did you mean $1?)')) })
    .exitOverride();

  for (const register of COMMANDS) register(program);
  return program;
}

/** `tapegrad predict … | head -2`: when the reader closes the pipe, stop quietly (exit 0) instead of an unhandled EPIPE. */
function quietOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.listenerCount('error') > 0) continue;
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(0);
      throw e;
    });
  }
}

/** Run the CLI; resolves to the exit code. Errors print one line on stderr (TAPEGRAD_DEBUG=1 adds the stack). */
export async function main(argv: string[] = process.argv): Promise<number> {
  quietOnClosedPipe();
  const program = buildProgram();
  process.exitCode = 0;
  try {
    await program.parseAsync(argv);
    return Number(process.exitCode ?? 0);
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander has printed its message (or the help) already
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help' ? 0 : e.exitCode || 1;
    }
    const err = e as Error;
    if (process.env.TAPEGRAD_DEBUG) process.stderr.write(`${err?.stack ?? String(e)}\n`);
    const msg = String(err?.message ?? e).split('\n')[0];
    process.stderr.write(`tapegrad: ${msg}\n`);
    return 1;
  }
}
