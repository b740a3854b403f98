// Optimizer kernels of the JS backend: PyTorch 1.13's single-tensor formulas, in its order of operations.
import type { AdamOptions, FloatArray, SgdOptions } from '../backend.js';

export function sgdStep(param: FloatArray, grad: FloatArray, buf: FloatArray | null, first: boolean, o: SgdOptions): void {
  const { lr, momentum, dampening, nesterov, weightDecay: wd } = o;
  if (momentum !== 0 && !buf) throw new Error('sgdStep: momentum is set but no momentum buffer was given');
  const len = param.length;
  for (let i = 0; i < len; i++) {
    let g = grad[i];
    if (wd !== 0) g += wd * param[i];
    if (momentum !== 0) {
      const bi = first ? g : momentum * buf![i] + (1 - dampening) * g;
      buf![i] = bi;
      const b = buf![i]; // read back: the stored (possibly float32) buffer is what PyTorch uses
      g = nesterov ? g + momentum * b : b;
    }
    param[i] -= lr * g;
  }
}

export function adamStep(param: FloatArray, grad: FloatArray, m: FloatArray, v: FloatArray, step: number, o: AdamOptions): void {
  const { lr, beta1, beta2, eps, weightDecay: wd, decoupled } = o;
  if (!(step >= 1)) throw new RangeError(`adamStep: step must be >= 1 (1-based), got ${step}`);
  const stepSize = lr / (1 - Math.pow(beta1, step));
  const bc2Sqrt = Math.sqrt(1 - Math.pow(beta2, step));
  const decay = decoupled ? 1 - lr * wd : 1;
  const len = param.length;
  for (let i = 0; i < len; i++) {
    let g = grad[i];
    if (decoupled) param[i] *= decay;
    else if (wd !== 0) g += wd * param[i];
    m[i] = beta1 * m[i] + (1 - beta1) * g;
    v[i] = beta2 * v[i] + (1 - beta2) * g * g;
    const denom = Math.sqrt(v[i]) / bc2Sqrt + eps;
    param[i] -= stepSize * (m[i] / denom);
  }
}
