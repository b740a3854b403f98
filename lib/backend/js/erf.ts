// erf for one number: fdlibm's s_erf.c (error < 1 ulp in float64). The JS backend's 'erf', 'gelu' and
// 'geluGrad' use it; the native kernels use the C library's erf.

// fdlibm coefficients (Sun Microsystems, freely distributable)
const efx8 = 1.02703333676410069053e+00;
const pp = [1.28379167095512558561e-01, -3.25042107247001499370e-01, -2.84817495755985104766e-02, -5.77027029648944159157e-03, -2.37630166566501626084e-05];
const qq = [3.97917223959155352819e-01, 6.50222499887672944485e-02, 5.08130628187576562776e-03, 1.32494738004321644526e-04, -3.96022827877536812320e-06];
const erx = 8.45062911510467529297e-01;
const pa = [-2.36211856075265944077e-03, 4.14856118683748331666e-01, -3.72207876035701323847e-01, 3.18346619901161753674e-01, -1.10894694282396677476e-01, 3.54783043256182359371e-02, -2.16637559486879084300e-03];
const qa = [1.06420880400844228286e-01, 5.40397917702171048937e-01, 7.18286544141962662868e-02, 1.26171219808761642112e-01, 1.36370839120290507362e-02, 1.19844998467991074170e-02];
const ra = [-9.86494403484714822705e-03, -6.93858572707181764372e-01, -1.05586262253232909814e+01, -6.23753324503260060396e+01, -1.62396669462573470355e+02, -1.84605092906711035994e+02, -8.12874355063065934246e+01, -9.81432934416914548592e+00];
const sa = [1.96512716674392571292e+01, 1.37657754143519042600e+02, 4.34565877475229228821e+02, 6.45387271733267880336e+02, 4.29008140027567833386e+02, 1.08635005541779435134e+02, 6.57024977031928170135e+00, -6.04244152148580987438e-02];
const rb = [-9.86494292470009928597e-03, -7.99283237680523006574e-01, -1.77579549177547519889e+01, -1.60636384855821916062e+02, -6.37566443368389627722e+02, -1.02509513161107724954e+03, -4.83519191608651397019e+02];
const sb = [3.03380607434824582924e+01, 3.25792512996573918826e+02, 1.53672958608443695994e+03, 3.19985821950859553908e+03, 2.55305040643316442583e+03, 4.74528541206955367215e+02, -2.24409524465858183362e+01];

/** Horner evaluation of c[0] + c[1]·x + ... */
function poly(c: readonly number[], x: number): number {
  let r = c[c.length - 1];
  for (let i = c.length - 2; i >= 0; i--) r = r * x + c[i];
  return r;
}

/** erf(x) for one number (fdlibm). */
export function erfScalar(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x), sign = x < 0 ? -1 : 1;
  if (ax < 0.84375) {
    if (ax < 2 ** -28) return 0.125 * (8 * x + efx8 * x);
    const z = x * x;
    return x + x * (poly(pp, z) / (1 + z * poly(qq, z)));
  }
  if (ax < 1.25) {
    const s = ax - 1;
    return sign * (erx + poly(pa, s) / (1 + s * poly(qa, s)));
  }
  if (ax >= 6) return sign * (1 - 1e-300);
  const s = 1 / (ax * ax);
  const r = ax < 1 / 0.35 ? poly(ra, s) / (1 + s * poly(sa, s)) : poly(rb, s) / (1 + s * poly(sb, s));
  // z = ax with its low 32 bits cleared, so that exp(-z²) is exact-ish (fdlibm's splitting)
  const z = truncateLow(ax);
  const e = Math.exp(-z * z - 0.5625) * Math.exp((z - ax) * (z + ax) + r);
  return sign * (1 - e / ax);
}

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const LOW = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0 : 1;
function truncateLow(v: number): number {
  f64[0] = v;
  u32[LOW] = 0;
  return f64[0];
}

