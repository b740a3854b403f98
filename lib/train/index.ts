export {
  fit, type FitOptions, type FitHistory, type FitModel, type FitOptimizer, type FitScheduler, type FitLoss, type FitLoader,
  type BatchLogs, type EpochLogs, type PartialEpoch,
} from './fit.js';
export { type MonitorOptions } from './monitor.js';
export { predict, argmaxRows, accuracy, evaluate, countCorrect, inEvalMode, type Evaluation, type PredictModel } from './evaluate.js';
export { Predictor } from './predictor.js';
export { type Step as InferenceStep } from './inference-plan.js';
export { trainInWorker, TrainingAbortedError, type TrainInWorkerOptions, type TrainInWorkerResult, type WorkerProgress } from './worker.js';
export { type WorkerTrainSpec, type ModelSpec, type DataSpec, type Named } from './worker-spec.js';
