export { encodeSafetensors, decodeSafetensors, type SafetensorsContent, type DecodeOptions } from './safetensors.js';
export {
  save, load, saveCheckpoint, loadCheckpoint, readSafetensors, writeSafetensors, atomicWriteFile,
  type StateDictModule, type StatefulOptimizer, type OptimizerStateDict, type ReadOptions,
} from './save.js';
