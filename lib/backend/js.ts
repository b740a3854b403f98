// The pure-TypeScript backend: the living definition of every kernel in backend.ts. It runs on
// Float32Array and Float64Array alike (float64 for gradcheck) and accumulates in double precision.
// The kernels live in js/, one file per family.
import type { Backend } from './backend.js';
import { binary, unary } from './js/elementwise.js';
import { dropout } from './js/dropout.js';
import { gemm, gemmAsync, gemmPair } from './js/gemm.js';
import { indexAdd, indexSelect, permute } from './js/indexing.js';
import { linear, linearBackward } from './js/linear.js';
import { batchNorm, batchNormBackward, layerNorm, layerNormBackward } from './js/norm.js';
import { adamStep, sgdStep } from './js/optim.js';
import { argmax, reduce, sumTo } from './js/reduce.js';
import { crossEntropy, crossEntropyBackward, softmax } from './js/softmax.js';

export const jsBackend: Backend = {
  name: 'js',
  gemm,
  gemmAsync,
  gemmPair,
  linear,
  linearBackward,
  unary,
  binary,
  reduce,
  argmax,
  sumTo,
  softmax,
  crossEntropy,
  crossEntropyBackward,
  indexSelect,
  indexAdd,
  permute,
  dropout,
  batchNorm,
  batchNormBackward,
  layerNorm,
  layerNormBackward,
  sgdStep,
  adamStep,
  /** The JS backend is single-threaded: nothing to set. */
  setNumThreads(): void {},
  getNumThreads(): number { return 1; },
};
