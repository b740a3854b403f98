export { Tensor, type DType, type NestedArray } from './tensor.js';
export { tensor, zeros, ones, full, zerosLike, onesLike, rand, randn, arange, eye, setDefaultDtype, getDefaultDtype, type TensorOptions } from './creation.js';
export { manualSeed } from './random.js';
export * from './ops/index.js';
export { noGrad, enableGrad, isGradEnabled } from './autograd/mode.js';
export { grad, vjp } from './autograd/functional.js';
export { gradcheck, type GradcheckOptions, type GradcheckResult } from './autograd/gradcheck.js';
export { defineOp, Node } from './autograd/node.js';
export { setBackend, getBackend, backendInfo, type BackendName } from './backend/index.js';
