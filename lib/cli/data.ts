// Datasets the CLI trains on, as train/test splits of [n, features] float32 inputs and [n] class indices.
import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import { Tensor } from '../tensor.js';
import { loadCsv, loadMnist, xor, spirals, circles, trainTestSplit } from '../data/index.js';
import { CliError, check } from './errors.js';

export const DATASETS = ['mnist', 'xor', 'spirals', 'circles', 'csv'] as const;
export type DatasetName = (typeof DATASETS)[number];

/** What picks a dataset and its split; recorded in model files so eval can rebuild the same test split. */
export interface DataSpec {
  dataset: DatasetName;
  /** CSV file (dataset csv). */
  data?: string;
  /** Target column of the CSV: a name or a 0-based index (default: the last column). */
  target?: string;
  /** Seed of the synthetic data and of the train/test split. */
  seed: number;
  /** Number of points of spirals/circles (default 1000). */
  samples?: number;
  /** CSV cell separator (default: detected). */
  delimiter?: string;
}

export interface Split {
  xTrain: Tensor;
  yTrain: Tensor;
  xTest: Tensor;
  yTest: Tensor;
  inFeatures: number;
  /** Outputs of the model: classes, or 1 for regression. */
  numClasses: number;
  /** Class names of a CSV's text target. */
  labels?: string[];
  /** A CSV target with non-integer numbers: regression (MSE on one output). */
  task?: 'regression';
  /** e.g. "mnist (8500 train / 1500 test, 784 features, 10 classes)". */
  description: string;
}

function rowsOf(x: Tensor, idx: Int32Array): Tensor {
  return x.indexSelect(0, idx);
}

function split(x: Tensor, y: Tensor, seed: number, testFraction = 0.2): [Tensor, Tensor, Tensor, Tensor] {
  const { train, test } = trainTestSplit(x.shape[0], testFraction, seed);
  return [rowsOf(x, train), rowsOf(y, train), rowsOf(x, test), rowsOf(y, test)];
}

/** Number of classes of integer labels 0..K-1; a clear error otherwise. */
export function countClasses(y: Tensor, what: string): number {
  let max = -1;
  for (let i = 0; i < y.size; i++) {
    const v = y.data[i];
    check(Number.isInteger(v) && v >= 0, `${what} must hold class indices 0, 1, 2, ... but data row ${i + 1} has ${v}`);
    if (v > max) max = v;
  }
  return Math.max(2, max + 1);
}

/** Parse a target column given on the command line: a name, or an index when it is all digits (and not a column name). */
function targetOf(t: string | undefined): string | number {
  if (t === undefined) return -1;
  return /^-?\d+$/.test(t) ? Number(t) : t;
}

/** The data of a spec; `labels`: the class names of a model, so a CSV's text labels map to its classes. */
export async function loadDataset(spec: DataSpec, opts: { labels?: readonly string[] } = {}): Promise<Split> {
  const { dataset, seed } = spec;
  const n = spec.samples ?? 1000;
  const describe = (s: Omit<Split, 'description'>, name: string): Split => ({
    ...s,
    description: `${name} (${s.xTrain.shape[0]} train / ${s.xTest.shape[0]} test, ${s.inFeatures} features, ${s.task ? 'regression' : `${s.numClasses} classes${s.labels ? `: ${s.labels.join(', ')}` : ''}`})`,
  });
  switch (dataset) {
    case 'mnist': {
      const d = await loadMnist({ seed });
      return describe({ ...d, inFeatures: 784, numClasses: 10 }, 'mnist');
    }
    case 'xor': {
      // four points: the test set is the training set
      const d = xor();
      return describe({ xTrain: d.x, yTrain: d.y, xTest: d.x, yTest: d.y, inFeatures: 2, numClasses: 2 }, 'xor');
    }
    case 'spirals':
    case 'circles': {
      check(Number.isInteger(n) && n >= 10, `--samples must be an integer >= 10, got ${n}`);
      const d = dataset === 'spirals' ? spirals(n, { seed }) : circles(n, { seed, noise: 0.1 });
      const [xTrain, yTrain, xTest, yTest] = split(d.x, d.y, seed);
      return describe({ xTrain, yTrain, xTest, yTest, inFeatures: 2, numClasses: d.numClasses }, dataset);
    }
    case 'csv': {
      check(spec.data, '--dataset csv needs --data <file.csv> (and --target <column>, default the last column)');
      check(existsSync(spec.data), `data file not found: ${spec.data}`);
      const { x, y, target, labels } = loadCsv(spec.data, { target: targetOf(spec.target), ...(spec.delimiter !== undefined && { delimiter: spec.delimiter }), ...(opts.labels && { labels: opts.labels }) });
      const values = y!;
      check(!labels || labels.length >= 2, `${spec.data}: target column '${target}' has a single class (${labels?.[0]}); a classifier needs at least 2`);
      // text labels or integers >= 0: classes; other numbers: a regression target
      const regression = !labels && values.data.some((v) => !Number.isInteger(v) || v < 0);
      const numClasses = labels ? labels.length : regression ? 1 : countClasses(values, `target column '${target}'`);
      check(x.shape[0] >= 2, `${spec.data}: need at least 2 rows to split into train and test`);
      const [xTrain, yTrain, xTest, yTest] = split(x, regression ? values : values.int(), seed);
      return describe({
        xTrain, yTrain, xTest, yTest, inFeatures: x.shape[1], numClasses,
        ...(labels && { labels }), ...(regression && { task: 'regression' as const }),
      }, `${relative(process.cwd(), spec.data) || spec.data} → ${target}`);
    }
    default:
      throw new CliError(`unknown dataset '${String(dataset)}' (expected one of ${DATASETS.join(', ')})`);
  }
}
