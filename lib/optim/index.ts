export {
  Optimizer, type OptimizerOptions, type Unchecked, type ParamGroup, type ParamGroupSpec, type Params, type ParamState, type OptimizerStateDict,
} from './optimizer.js';
export { SGD, type SGDOptions } from './sgd.js';
export { Adam, AdamW, type AdamOptions } from './adam.js';
