export { type LRScheduler, type SchedulerStateDict, SchedulerBase, EpochScheduler } from './scheduler.js';
export { StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR, type StepLROptions, type MultiStepLROptions, type ExponentialLROptions, type CosineAnnealingLROptions, type LinearLROptions } from './epoch.js';
export { OneCycleLR, type OneCycleLROptions } from './one_cycle.js';
export { ReduceLROnPlateau, type ReduceLROnPlateauOptions } from './plateau.js';
