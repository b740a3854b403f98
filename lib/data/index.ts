export { type Dataset, TensorDataset } from './dataset.js';
export { DataLoader, type DataLoaderOptions } from './dataloader.js';
export { RandomGenerator, type RandomSource, permutation } from '../random.js';
export { loadCsv, parseCsv, detectDelimiter, type CsvOptions, type CsvData } from './csv.js';
export { featureStats, standardize, type FeatureStats } from './standardize.js';
export { trainTestSplit } from './split.js';
export { xor, spirals, circles, type ToyData, type SpiralOptions, type CircleOptions } from './synthetic.js';
export { loadMnist, type MnistOptions, type MnistData } from './mnist.js';
