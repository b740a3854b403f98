// Counts the typed arrays allocated while fn runs, by replacing the Float32Array, Float64Array and
// Int32Array globals with counting subclasses for the duration (library code allocates with
// `new Float32Array(n)`, which then constructs a subclass). `x instanceof Float32Array` keeps its
// meaning for arrays made before. Views made by subarray/slice of older arrays are not seen, nor JS
// objects. Used by the soak (bench/cases/tapegrad.mjs) and the Predictor test.
export function countTypedArrays(fn) {
  const counts = { typedArrays: 0, bytes: 0 };
  const originals = [];
  for (const name of ['Float32Array', 'Float64Array', 'Int32Array']) {
    const Base = globalThis[name];
    originals.push([name, Base]);
    globalThis[name] = class extends Base {
      static [Symbol.hasInstance](x) { return x instanceof Base; }
      constructor(...a) {
        super(...a);
        counts.typedArrays++;
        counts.bytes += this.byteLength;
      }
    };
  }
  try {
    fn();
  } finally {
    for (const [name, Base] of originals) globalThis[name] = Base;
  }
  return counts;
}
