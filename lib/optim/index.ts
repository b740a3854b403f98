export {
  Optimizer, type OptimizerOptions, type Unchecked, type ParamGroup, type ParamGroupSpec, type Params, type ParamState, type OptimizerStateDict,
} from './optimizer.js';
export { SGD, type SGDOptions } from './sgd.js';
export { Adam, AdamW, type AdamOptions } from './adam.js';
export { RMSprop, type RMSpropOptions } from './rmsprop.js';
export { Adagrad, type AdagradOptions } from './adagrad.js';
export * as lrScheduler from './lr_scheduler/index.js';
export type { LRScheduler, SchedulerStateDict } from './lr_scheduler/index.js';
