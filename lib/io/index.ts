export { encodeSafetensors, decodeSafetensors, MAX_HEADER_BYTES, MAX_TENSORS, type SafetensorsContent, type DecodeOptions } from './safetensors.js';
export {
  save, load, saveCheckpoint, loadCheckpoint, checkpointDigest, META_SEQUENTIAL, readSafetensors, writeSafetensors, atomicWriteFile,
  type StateDictModule, type StatefulOptimizer, type StatefulScheduler, type OptimizerStateDict, type ReadOptions,
} from './save.js';
export { exportOnnx, toOnnx, DEFAULT_OPSET, type OnnxExportOptions } from './onnx.js';
