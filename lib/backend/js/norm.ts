// Batch and layer normalization of the JS backend (forward in training, and backward). Statistics
// accumulate in double; the mean and biased variance are stored (rounded to the array's type) and
// the normalization uses the stored values, so the backward, which reads them back, sees the same
// rstd = 1/√(var + eps) as the forward. The native kernels (native/norm.cc) do the same.
import type { FloatArray } from '../backend.js';

function checkLen(what: string, name: string, a: FloatArray | null, need: number): void {
  if (a !== null && a.length < need) throw new RangeError(`${what}: ${name} has ${a.length} elements, needs ${need}`);
}

/** Per channel of x viewed as [n, c, l]: mean and biased variance over n·l, written to mean/var_. */
function channelStats(x: FloatArray, n: number, c: number, l: number, mean: FloatArray, var_: FloatArray): void {
  const count = n * l;
  for (let ch = 0; ch < c; ch++) {
    let s = 0;
    for (let i = 0; i < n; i++) { const base = (i * c + ch) * l; for (let j = 0; j < l; j++) s += x[base + j]; }
    const m = s / count;
    let q = 0;
    for (let i = 0; i < n; i++) { const base = (i * c + ch) * l; for (let j = 0; j < l; j++) { const d = x[base + j] - m; q += d * d; } }
    mean[ch] = m;
    var_[ch] = q / count;
  }
}

export function batchNorm(
  x: FloatArray, n: number, c: number, l: number, weight: FloatArray | null, bias: FloatArray | null, eps: number,
  out: FloatArray, mean: FloatArray, var_: FloatArray,
): void {
  const what = 'batchNorm', size = n * c * l;
  checkLen(what, 'x', x, size); checkLen(what, 'out', out, size);
  for (const [name, a] of [['weight', weight], ['bias', bias], ['mean', mean], ['var', var_]] as const) checkLen(what, name, a, c);
  channelStats(x, n, c, l, mean, var_);
  for (let ch = 0; ch < c; ch++) {
    const scale = (weight ? weight[ch] : 1) / Math.sqrt(var_[ch] + eps);
    const shift = (bias ? bias[ch] : 0) - mean[ch] * scale;
    for (let i = 0; i < n; i++) { const base = (i * c + ch) * l; for (let j = 0; j < l; j++) out[base + j] = x[base + j] * scale + shift; }
  }
}

export function batchNormBackward(
  x: FloatArray, g: FloatArray, n: number, c: number, l: number, mean: FloatArray, var_: FloatArray, eps: number,
  weight: FloatArray | null, dx: FloatArray | null, dweight: FloatArray | null, dbias: FloatArray | null,
): void {
  const what = 'batchNormBackward', size = n * c * l, count = n * l;
  for (const [name, a] of [['x', x], ['g', g], ['dx', dx]] as const) checkLen(what, name, a, size);
  for (const [name, a] of [['mean', mean], ['var', var_], ['weight', weight], ['dweight', dweight], ['dbias', dbias]] as const) checkLen(what, name, a, c);
  for (let ch = 0; ch < c; ch++) {
    const m = mean[ch], rstd = 1 / Math.sqrt(var_[ch] + eps);
    let sg = 0, sgx = 0;
    for (let i = 0; i < n; i++) {
      const base = (i * c + ch) * l;
      for (let j = 0; j < l; j++) { const gv = g[base + j]; sg += gv; sgx += gv * (x[base + j] - m); }
    }
    sgx *= rstd; // Σ g·x̂
    if (dweight) dweight[ch] = sgx;
    if (dbias) dbias[ch] = sg;
    if (!dx) continue;
    const k = (weight ? weight[ch] : 1) * rstd, mg = sg / count, c2 = rstd * (sgx / count);
    for (let i = 0; i < n; i++) {
      const base = (i * c + ch) * l;
      for (let j = 0; j < l; j++) dx[base + j] = k * (g[base + j] - mg - (x[base + j] - m) * c2);
    }
  }
}

export function layerNorm(
  x: FloatArray, rows: number, cols: number, weight: FloatArray | null, bias: FloatArray | null, eps: number,
  out: FloatArray, mean: FloatArray, var_: FloatArray,
): void {
  const what = 'layerNorm', size = rows * cols;
  checkLen(what, 'x', x, size); checkLen(what, 'out', out, size); checkLen(what, 'mean', mean, rows); checkLen(what, 'var', var_, rows);
  checkLen(what, 'weight', weight, cols); checkLen(what, 'bias', bias, cols);
  channelStats(x, 1, rows, cols, mean, var_); // a row is a "channel" of [1, rows, cols]
  for (let r = 0; r < rows; r++) {
    const m = mean[r], rstd = 1 / Math.sqrt(var_[r] + eps), base = r * cols;
    for (let j = 0; j < cols; j++) {
      const xh = (x[base + j] - m) * rstd;
      out[base + j] = (weight ? xh * weight[j] : xh) + (bias ? bias[j] : 0);
    }
  }
}

export function layerNormBackward(
  x: FloatArray, g: FloatArray, rows: number, cols: number, mean: FloatArray, var_: FloatArray, eps: number,
  weight: FloatArray | null, dx: FloatArray | null, dweight: FloatArray | null, dbias: FloatArray | null,
): void {
  const what = 'layerNormBackward', size = rows * cols;
  for (const [name, a] of [['x', x], ['g', g], ['dx', dx]] as const) checkLen(what, name, a, size);
  for (const [name, a] of [['mean', mean], ['var', var_]] as const) checkLen(what, name, a, rows);
  for (const [name, a] of [['weight', weight], ['dweight', dweight], ['dbias', dbias]] as const) checkLen(what, name, a, cols);
  const dw = dweight ? new Float64Array(cols) : null, db = dbias ? new Float64Array(cols) : null;
  for (let r = 0; r < rows; r++) {
    const m = mean[r], rstd = 1 / Math.sqrt(var_[r] + eps), base = r * cols;
    let sgy = 0, sgyx = 0;
    for (let j = 0; j < cols; j++) {
      const gv = g[base + j], xh = (x[base + j] - m) * rstd, gy = weight ? gv * weight[j] : gv;
      sgy += gy; sgyx += gy * xh;
      if (dw) dw[j] += gv * xh;
      if (db) db[j] += gv;
    }
    if (!dx) continue;
    const mg = sgy / cols, c2 = rstd * (sgyx / cols);
    for (let j = 0; j < cols; j++) {
      const gy = weight ? g[base + j] * weight[j] : g[base + j];
      dx[base + j] = rstd * (gy - mg - (x[base + j] - m) * c2);
    }
  }
  if (dweight && dw) dweight.set(dw);
  if (dbias && db) dbias.set(db);
}
