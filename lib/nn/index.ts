export { Module, functionalCall, type AnyModule, type LoadStateDictResult } from './module.js';
export { Linear, type LinearOptions } from './linear.js';
export { Sequential, ModuleList, ModuleDict } from './container.js';
export { ReLU, Sigmoid, Tanh, Identity, Softmax, LogSoftmax, Flatten, LeakyReLU, GELU, ELU, SiLU, Softplus, Mish } from './activation.js';
export {
  MSELoss, BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, NLLLoss, L1Loss, SmoothL1Loss, HuberLoss, KLDivLoss, type Reduction,
} from './loss.js';
export { Dropout } from './dropout.js';
export { BatchNorm1d, LayerNorm, type BatchNorm1dOptions, type LayerNormModuleOptions } from './normalization.js';
export { Embedding, type EmbeddingOptions, type Indices } from './embedding.js';
export { Perceptron, type PerceptronOptions, type PerceptronFitResult } from './perceptron.js';
export * as init from './init.js';
export * as utils from './utils.js';
export * as functional from './functional.js';
export { type LayerSpec, layerSpecProblem, parameterShapes } from './architecture.js';
export { mlp, mlpShapes, describeMlp, ACTIVATIONS, type MlpArch, type MlpActivation } from './mlp.js';
