import './methods.js'; // Tensor's methods and the engine's gradient ops
export { add, sub, mul, div, neg, exp, log, pow, sqrt, abs, clamp, eq, gt, lt, maximum } from './elementwise.js';
export { sigmoid, tanh, relu, softmax, logSoftmax } from './activation.js';
export { sum, mean, max, argmax } from './reduce.js';
export { min, argmin, maxWithIndices, minWithIndices, variance, var, std, norm, logsumexp, cumsum, type VarOptions } from './stats.js';
export { reshape, flatten, squeeze, unsqueeze, expand, sumTo, permute, transpose, indexSelect, narrow, concat, stack, gather } from './shape.js';
export { matmul, matmulAsync, linear } from './matmul.js';
export {
  crossEntropy, nllLoss, mseLoss, bceLoss, bceWithLogitsLoss, oneHot, type Labels, type Reduction,
  type MSELossOptions, type BCELossOptions, type BCEWithLogitsLossOptions, type NLLLossOptions, type CrossEntropyOptions,
  type SmoothL1LossOptions, type HuberLossOptions, type KLDivLossOptions,
} from './loss.js';
export { l1Loss, smoothL1Loss, huberLoss, klDiv } from './elementwise-loss.js';
export { erf } from './special.js';
export { leakyRelu, gelu, elu, silu, softplus, mish, type SoftplusOptions, type GeluOptions, type GeluApproximate } from './nonlinear.js';
export { layerNorm, batchNorm, dropout, type LayerNormOptions, type BatchNormOptions } from './normalization.js';
export { sin, cos, log1p, expm1 } from './trig.js';
export { where, maskedFill, sort, topk, type SortResult } from './select.js';
export { split, chunk, repeat } from './split.js';
