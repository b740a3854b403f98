export {
  fit, type FitOptions, type FitHistory, type FitModel, type FitOptimizer, type FitLoss, type FitLoader, type BatchInfo, type EpochInfo,
} from './fit.js';
