// The Backend interface: the kernels of the catalogue (catalogue.ts, where each is documented)
// plus the thread controls. js.ts implements it in TypeScript, native.ts over the C++ addon.
import type { Kernels } from './catalogue.js';

export type {
  ActOp, AdamOptions, BinaryOp, FloatArray, ReduceOp, SgdOptions, UnaryOp,
} from './catalogue.js';

export type Backend = Kernels & {
  readonly name: 'js' | 'native';
  setNumThreads(n: number): void;
  getNumThreads(): number;
};
