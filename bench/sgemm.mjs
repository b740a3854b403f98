// sgemm GFLOP/s through the tapegrad addon vs a direct C call of cblas_sgemm (bench/sgemm_direct.c,
// compiled here into a temp dir against the same static OpenBLAS). Best of 3 timed rounds.
//
//   node bench/sgemm.mjs                 # this shell's OpenBLAS environment
//   OPENBLAS_CORETYPE=Haswell OPENBLAS_L2_SIZE=512 node bench/sgemm.mjs
//   node bench/sgemm.mjs --child ...     # (internal) the addon half, in a fresh process
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const sizes = [256, 512, 1024, 2048];
const threadCounts = [1, 2];
const seconds = Number(process.env.BENCH_SECONDS ?? 0.6);

function addonGflops(n, threads) {
  const require = createRequire(import.meta.url);
  const addon = require(require('node-gyp-build').resolve(root));
  addon.setNumThreads(threads);
  const a = new Float32Array(n * n), b = new Float32Array(n * n), c = new Float32Array(n * n);
  for (let i = 0; i < n * n; i++) { a[i] = ((i * 7919) % 1000) / 1000 - 0.5; b[i] = ((i * 104729) % 1000) / 1000 - 0.5; }
  addon.gemm(false, false, n, n, n, 1, a, b, 0, c); // warm up
  let best = 0;
  for (let round = 0; round < 3; round++) {
    let reps = 0, t = 0;
    const t0 = process.hrtime.bigint();
    do {
      addon.gemm(false, false, n, n, n, 1, a, b, 0, c);
      reps++;
      t = Number(process.hrtime.bigint() - t0) / 1e9;
    } while (t < seconds / 3);
    best = Math.max(best, (2 * n * n * n * reps) / t / 1e9);
  }
  return { best, core: addon.info().openblasCore };
}

if (process.argv[2] === '--child') {
  const r = addonGflops(Number(process.argv[3]), Number(process.argv[4]));
  console.log(JSON.stringify(r));
} else {
  const dir = mkdtempSync(join(tmpdir(), 'sgemm-direct-'));
  try {
    const exe = join(dir, 'sgemm_direct');
    let lib = execFileSync('gcc', ['-print-file-name=libopenblas.a'], { encoding: 'utf8' }).trim();
    const link = lib.startsWith('/') ? [lib, '-lm', '-lpthread'] : ['-lopenblas'];
    execFileSync('gcc', ['-O2', '-o', exe, join(root, 'bench', 'sgemm_direct.c'), ...link]);
    const env = `OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE ?? '(unset)'} OPENBLAS_L2_SIZE=${process.env.OPENBLAS_L2_SIZE ?? '(unset)'}`;
    console.log(`sgemm GFLOP/s, row-major NN, best of 3 rounds of ${seconds}s; ${env}`);
    console.log('    n  threads   addon   direct C   addon/C   OpenBLAS core');
    for (const n of sizes) {
      for (const t of threadCounts) {
        // Each measurement in a fresh process: OpenBLAS's idle threads do not carry over.
        const r = JSON.parse(execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', String(n), String(t)], { encoding: 'utf8' }));
        const direct = Number(execFileSync(exe, [String(n), String(t), String(seconds)], { encoding: 'utf8' }).trim().split(' ')[2]);
        console.log(`${String(n).padStart(5)}  ${String(t).padStart(7)}  ${r.best.toFixed(1).padStart(6)}  ${direct.toFixed(1).padStart(9)}  ${(r.best / direct).toFixed(3).padStart(8)}   ${r.core}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
