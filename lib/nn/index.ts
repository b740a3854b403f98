export { Module, functionalCall, type AnyModule, type LoadStateDictResult } from './module.js';
export { Linear, type LinearOptions } from './linear.js';
export { Sequential } from './container.js';
export { ReLU, Sigmoid, Tanh, Identity, Softmax, LogSoftmax, Flatten } from './activation.js';
export { MSELoss, BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, NLLLoss, type Reduction } from './loss.js';
export { Perceptron, type PerceptronOptions, type PerceptronFitResult } from './perceptron.js';
export { type LayerSpec, layerSpecProblem, parameterShapes } from './architecture.js';
export { mlp, mlpShapes, describeMlp, ACTIVATIONS, type MlpArch, type MlpActivation } from './mlp.js';
