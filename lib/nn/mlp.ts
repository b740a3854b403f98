// The multilayer perceptron the CLI trains: Linear → [BatchNorm1d] → act → [Dropout] → ... → Linear,
// named 0, 1, 2, ... as in PyTorch.
import { Sequential } from './container.js';
import { buildLayers, parameterShapes, type LayerSpec } from './architecture.js';

export const ACTIVATIONS = ['relu', 'sigmoid', 'tanh'] as const;
export type MlpActivation = (typeof ACTIVATIONS)[number];

export interface MlpArch {
  inFeatures: number;
  hidden: number[];
  outFeatures: number;
  activation: MlpActivation;
  /** Dropout probability after each hidden activation (absent or 0: none). */
  dropout?: number;
  /** A BatchNorm1d (PyTorch's defaults) after each hidden Linear, before its activation. */
  batchnorm?: boolean;
}

const ACT = { relu: 'ReLU', sigmoid: 'Sigmoid', tanh: 'Tanh' } as const;

/** The layer specs of an MLP (see nn/architecture); errors name the bad field. */
export function mlpLayers(arch: MlpArch): LayerSpec[] {
  const bad = (what: string): never => { throw new RangeError(`mlp: invalid architecture: ${what}`); };
  if (!Number.isSafeInteger(arch.inFeatures) || arch.inFeatures < 1) bad(`inFeatures ${arch.inFeatures}`);
  if (!Number.isSafeInteger(arch.outFeatures) || arch.outFeatures < 1) bad(`outFeatures ${arch.outFeatures}`);
  if (!Array.isArray(arch.hidden) || !arch.hidden.every((h) => Number.isSafeInteger(h) && h > 0)) bad(`hidden ${JSON.stringify(arch.hidden)}`);
  if (!Object.hasOwn(ACT, arch.activation)) bad(`unknown activation '${String(arch.activation)}' (expected ${ACTIVATIONS.join(', ')})`);
  const p = arch.dropout ?? 0;
  if (typeof p !== 'number' || !(p >= 0 && p < 1)) bad(`dropout ${String(p)} (must be a probability in [0, 1))`);
  if (arch.batchnorm !== undefined && typeof arch.batchnorm !== 'boolean') bad(`batchnorm ${String(arch.batchnorm)} (must be a boolean)`);
  const widths = [arch.inFeatures, ...arch.hidden, arch.outFeatures];
  const layers: LayerSpec[] = [];
  for (let i = 0; i + 1 < widths.length; i++) {
    layers.push({ type: 'Linear', inFeatures: widths[i], outFeatures: widths[i + 1], bias: true });
    if (i + 2 === widths.length) break; // the output layer
    if (arch.batchnorm) layers.push({ type: 'BatchNorm1d', numFeatures: widths[i + 1], eps: 1e-5, momentum: 0.1, affine: true, trackRunningStats: true });
    layers.push({ type: ACT[arch.activation] });
    if (p > 0) layers.push({ type: 'Dropout', p });
  }
  return layers;
}

/** An MLP classifier/regressor: Linear → act → ... → Linear (raw outputs). */
export function mlp(arch: MlpArch): Sequential {
  return new Sequential(...buildLayers(mlpLayers(arch)));
}

/** Parameter shapes of mlp(arch), by stateDict name, computed without allocating it. */
export function mlpShapes(arch: MlpArch): Map<string, number[]> {
  return parameterShapes(mlpLayers(arch));
}

/** "784-128-10 relu", "784-128-10 relu batchnorm dropout 0.2" */
export function describeMlp(a: MlpArch): string {
  return `${[a.inFeatures, ...a.hidden, a.outFeatures].join('-')} ${a.activation}${a.batchnorm ? ' batchnorm' : ''}${a.dropout ? ` dropout ${a.dropout}` : ''}`;
}
