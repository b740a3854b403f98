// Forward + backward time of the normalization, dropout and activation layers, A/B against another
// build of tapegrad, interleaved in one process (the machine's load drifts; the ratio holds).
//
//   node bench/layers.mjs [--base=/path/to/other/tapegrad] [--reps=N] [--backend=native|js]
//
// Each side is a package root with dist/ built (and build/Release for native). Without --base only
// this checkout runs. Prints the median ms per forward+backward for [128, 512] and [512, 2048].
import { resolve, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const args = Object.fromEntries(process.argv.slice(2).map((a) => { const m = /^--([^=]+)=?(.*)$/.exec(a); return [m[1], m[2]]; }));
const here = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const reps = Number(args.reps ?? 15);
const sides = [['this', here], ...(args.base ? [['base', resolve(args.base)]] : [])];
const libs = [];
for (const [name, root] of sides) {
  const tg = await import(pathToFileURL(`${root}/dist/index.js`).href);
  tg.setBackend(args.backend ?? 'native');
  libs.push({ name, tg });
}

const layers = {
  'Dropout(0.2)': (tg) => new tg.nn.Dropout(0.2),
  BatchNorm1d: (tg, c) => new tg.nn.BatchNorm1d(c),
  'BatchNorm1d eval': (tg, c) => new tg.nn.BatchNorm1d(c).eval(),
  LayerNorm: (tg, c) => new tg.nn.LayerNorm(c),
  GELU: (tg) => new tg.nn.GELU(),
  'GELU tanh': (tg) => new tg.nn.GELU({ approximate: 'tanh' }),
  Softplus: (tg) => new tg.nn.Softplus(),
  Mish: (tg) => new tg.nn.Mish(),
};

function median(xs) { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; }

console.log(`backend ${args.backend ?? 'native'}, ${reps} interleaved reps, median ms per forward+backward`);
console.log(['layer', 'shape', ...libs.map((l) => l.name), ...(libs.length > 1 ? ['base/this'] : [])].join('\t'));
for (const shape of [[128, 512], [512, 2048]]) {
  for (const [label, make] of Object.entries(layers)) {
    const setups = libs.map(({ tg }) => {
      tg.manualSeed(0);
      const m = make(tg, shape[1]);
      const x = tg.randn(shape, { requiresGrad: true }), g = tg.randn(shape);
      return () => { const y = m.forward(x); y.backward(g); x.grad = null; for (const p of m.parameters()) p.grad = null; };
    });
    const times = setups.map(() => []);
    for (const f of setups) for (let w = 0; w < 3; w++) f(); // warm up
    for (let r = 0; r < reps; r++) {
      setups.forEach((f, i) => { const t0 = performance.now(); f(); times[i].push(performance.now() - t0); });
    }
    const med = times.map(median);
    console.log([label, `[${shape}]`, ...med.map((t) => t.toFixed(3)), ...(med.length > 1 ? [(med[1] / med[0]).toFixed(1) + 'x'] : [])].join('\t'));
  }
}
