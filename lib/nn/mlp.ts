// The multilayer perceptron the CLI trains: Linear → act → ... → Linear, named 0, 1, 2, ... as in PyTorch.
import { Sequential } from './container.js';
import { buildLayers, parameterShapes, type LayerSpec } from './architecture.js';

export const ACTIVATIONS = ['relu', 'sigmoid', 'tanh'] as const;
export type MlpActivation = (typeof ACTIVATIONS)[number];

export interface MlpArch {
  inFeatures: number;
  hidden: number[];
  outFeatures: number;
  activation: MlpActivation;
}

const ACT = { relu: 'ReLU', sigmoid: 'Sigmoid', tanh: 'Tanh' } as const;

/** The layer specs of an MLP (see nn/architecture); errors name the bad field. */
export function mlpLayers(arch: MlpArch): LayerSpec[] {
  const bad = (what: string): never => { throw new RangeError(`mlp: invalid architecture: ${what}`); };
  if (!Number.isSafeInteger(arch.inFeatures) || arch.inFeatures < 1) bad(`inFeatures ${arch.inFeatures}`);
  if (!Number.isSafeInteger(arch.outFeatures) || arch.outFeatures < 1) bad(`outFeatures ${arch.outFeatures}`);
  if (!Array.isArray(arch.hidden) || !arch.hidden.every((h) => Number.isSafeInteger(h) && h > 0)) bad(`hidden ${JSON.stringify(arch.hidden)}`);
  if (!Object.hasOwn(ACT, arch.activation)) bad(`unknown activation '${String(arch.activation)}' (expected ${ACTIVATIONS.join(', ')})`);
  const widths = [arch.inFeatures, ...arch.hidden, arch.outFeatures];
  const layers: LayerSpec[] = [];
  for (let i = 0; i + 1 < widths.length; i++) {
    if (i > 0) layers.push({ type: ACT[arch.activation] });
    layers.push({ type: 'Linear', inFeatures: widths[i], outFeatures: widths[i + 1], bias: true });
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

/** "784-128-10 relu" */
export function describeMlp(a: MlpArch): string {
  return `${[a.inFeatures, ...a.hidden, a.outFeatures].join('-')} ${a.activation}`;
}
