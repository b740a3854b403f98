// The tapegrad benchmark suite: `npm run bench [-- options]`.
//
// Runs every case (sgemm, mlp, large, xor) on tapegrad-native (1 and 2 OpenBLAS threads), tapegrad-js,
// PyTorch (1 thread and its default), tfjs cpu and tfjs wasm, plus the direct-C cblas_sgemm roofline,
// each engine configuration in its own child process, one after another; then the serving case
// (infer: p50/p99 latency of tapegrad-native, tapegrad-js and onnxruntime-node, 1 thread) in one child
// (bench/cases/infer.mjs). Prints a table and writes bench/results/<date>.json. The dist/ build is used
// as it is: run `npx tsc -p .` first.
//
// OpenBLAS kernels, as users get them: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed from every
// child's environment. tapegrad then picks its core itself (lib/backend/coretype.ts). PyTorch and the
// roofline run twice: "as installed" (OpenBLAS detects the core alone, with its bugs) and "best core"
// (OPENBLAS_CORETYPE set to the core tapegrad's table picks for this CPU); the table has a ratio for each.
//
//   --quick            under a minute: fewer/shorter repeats, no 2048² and no `large`
//   --coretype=NAME    OPENBLAS_CORETYPE=NAME for tapegrad and for the "best core" runs of PyTorch and
//                      the roofline, instead of the table's pick (e.g. --coretype=Haswell)
//   --cases=a,b        subset of sgemm,mlp,large,xor,infer
//   --engines=a,b      subset of roofline,tapegrad-native,tapegrad-js,pytorch,tfjs-cpu,tfjs-wasm,onnxruntime
//   --soak[=N]         instead of the cases: N (default 10000) tapegrad mlp steps, RSS at intervals and
//                      typed-array allocations per step (--soak-backend=js|native, default native,
//                      --soak-threads=N, default 1)
//   --out=FILE         JSON path (default bench/results/<date>.json)
//   --python=PATH      interpreter for bench/torch_bench.py (default /usr/bin/python3)
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, existsSync, statSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultSpec, mlpGemms, MLP, LARGE, stepFlop } from './cases/common.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const args = {};
for (const a of process.argv.slice(2)) {
  const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
  if (!m) {
    console.error(`bench: unknown argument '${a}' (see the header of bench/run.mjs)`);
    process.exit(2);
  }
  args[m[1]] = m[2] === undefined ? true : m[2];
}
const known = ['quick', 'coretype', 'cases', 'engines', 'soak', 'soak-backend', 'soak-threads', 'out', 'python'];
for (const k of Object.keys(args)) {
  if (!known.includes(k)) {
    console.error(`bench: unknown option --${k} (known: ${known.map((x) => '--' + x).join(' ')})`);
    process.exit(2);
  }
}
const quick = Boolean(args.quick);
const spec = defaultSpec(quick);
if (args.cases) {
  const want = String(args.cases).split(',');
  for (const c of want) if (!['sgemm', 'mlp', 'large', 'xor', 'infer'].includes(c)) throw new Error(`bench: unknown case '${c}'`);
  spec.cases = want;
  if (!want.includes('large')) spec.roofline.shapes = spec.roofline.shapes.filter((s) => !s.name.startsWith('large.'));
  else if (!spec.roofline.shapes.some((s) => s.name.startsWith('large.'))) spec.roofline.shapes.push(...mlpGemms(LARGE.batch, LARGE.sizes, 'large.'));
  if (!want.includes('sgemm')) spec.roofline.shapes = spec.roofline.shapes.filter((s) => /^(mlp|large)\./.test(s.name));
  if (!want.includes('mlp')) spec.roofline.shapes = spec.roofline.shapes.filter((s) => !s.name.startsWith('mlp.') || want.includes('sgemm'));
}
const ENGINES = ['roofline', 'tapegrad-native', 'tapegrad-js', 'pytorch', 'tfjs-cpu', 'tfjs-wasm', 'onnxruntime'];
/** The engines of the serving case (all in one child, bench/cases/infer.mjs). */
const INFER_ENGINES = ['tapegrad-native', 'tapegrad-js', 'onnxruntime'];
const engines = args.engines ? String(args.engines).split(',') : ENGINES;
for (const e of engines) if (!ENGINES.includes(e)) throw new Error(`bench: unknown engine '${e}' (known: ${ENGINES.join(', ')})`);
const python = args.python ? String(args.python) : '/usr/bin/python3';

// ---- environment -------------------------------------------------------------------------------
const OPENBLAS_VARS = ['OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'];
const installedEnv = { ...process.env };
for (const k of OPENBLAS_VARS) delete installedEnv[k];
const removed = OPENBLAS_VARS.filter((k) => process.env[k] !== undefined).map((k) => `${k}=${process.env[k]}`);
if (args.coretype === true || args.coretype === '') throw new Error('bench: --coretype needs a core name, e.g. --coretype=Haswell');
let tablePick = null;
try {
  const { coreForFlags, cpuFlags } = await import('../dist/backend/coretype.js');
  tablePick = process.arch === 'x64' ? coreForFlags(cpuFlags() ?? [])?.core ?? null : null;
} catch { /* dist/ missing: reported below */ }
/** The core set explicitly for the "best core" runs (null: there is none, e.g. on arm64). */
const bestCore = args.coretype ? String(args.coretype) : tablePick;
const bestEnv = bestCore ? { ...installedEnv, OPENBLAS_CORETYPE: bestCore } : null;
const tapegradEnv = args.coretype ? bestEnv : installedEnv;
const envLabel = `${removed.length ? `removed from the children's environment: ${removed.join(' ')}` : 'no OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE set'}; `
  + `tapegrad: ${args.coretype ? `OPENBLAS_CORETYPE=${bestCore} (--coretype)` : 'its own choice'}; `
  + `PyTorch and roofline: as installed, and best core ${bestCore ? `OPENBLAS_CORETYPE=${bestCore} (${args.coretype ? '--coretype' : "tapegrad's table for this CPU"})` : '(none: no table pick here)'}`;

function sh(cmd, argv) {
  try {
    return execFileSync(cmd, argv, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

const started = new Date();
const meta = {
  started: started.toISOString(),
  argv: process.argv.slice(2),
  // 'full' only for every case on every engine: the README's table is made from the newest full run
  mode: args.soak ? 'soak' : quick ? 'quick' : args.cases || args.engines ? 'partial' : 'full',
  env: {
    removed,
    bestCore,
    tablePick,
    coretypeFlag: args.coretype ? String(args.coretype) : null,
    parent: { OPENBLAS_CORETYPE: process.env.OPENBLAS_CORETYPE ?? null, OPENBLAS_L2_SIZE: process.env.OPENBLAS_L2_SIZE ?? null },
    OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? null,
    OPENBLAS_NUM_THREADS: process.env.OPENBLAS_NUM_THREADS ?? null,
  },
  machine: { cpu: os.cpus()[0]?.model, cpus: os.cpus().length, totalMem: os.totalmem(), loadavgStart: os.loadavg(), platform: `${process.platform}-${process.arch}` },
  node: process.version,
  git: { commit: sh('git', ['rev-parse', '--short', 'HEAD']), dirtyFiles: (sh('git', ['status', '--porcelain']) ?? '').split('\n').filter(Boolean).length },
  dist: existsSync(join(root, 'dist/index.js')) ? statSync(join(root, 'dist/index.js')).mtime.toISOString() : null,
  spec,
};

const log = (s = '') => process.stdout.write(s + '\n');
log(`tapegrad bench (${meta.mode}) ${meta.started}`);
log(`  ${meta.machine.cpu}, ${meta.machine.cpus} CPUs, load average ${meta.machine.loadavgStart.map((x) => x.toFixed(2)).join(' ')}, Node ${process.version}`);
log(`  ${envLabel}`);
log(`  git ${meta.git.commit ?? '?'} (${meta.git.dirtyFiles} files changed), dist/index.js built ${meta.dist ?? 'MISSING: run npx tsc -p .'}`);

// ---- children ----------------------------------------------------------------------------------
/** Busy CPU seconds of the whole machine so far (/proc/stat), or null off Linux. */
function machineBusySeconds() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    return (f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] ?? 0)) / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

/**
 * ms for a fixed single-core integer and float loop, median of 5. Timed before and after every child:
 * on a VM the host can slow the whole machine for minutes (invisible in the load average and in
 * /proc/stat), and rows taken then are not comparable with the others.
 */
function speedProbe() {
  const times = [];
  let sink = 0;
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    let x = 1;
    for (let i = 0; i < 5e5; i++) { x = (x * 1103515245 + 12345) % 2147483648; sink += x * 1e-9; }
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return sink < 0 ? NaN : times.sort((a, b) => a - b)[2];
}
speedProbe(); // compiled before the first child is timed
let probeBaseline = speedProbe();

/**
 * Runs one child (runChildOnce). When the speed probe before or after it is more than ×1.15 the
 * fastest probe of the run so far, the host slowed the machine meanwhile: the child runs again (at
 * most twice more), and the result lists the probes of the discarded runs (`disturbedRuns`).
 */
async function runChild(label, cmd, argv, timeoutSec, env = installedEnv) {
  const disturbedRuns = [];
  for (;;) {
    const r = await runChildOnce(label, cmd, argv, timeoutSec, env);
    const probes = r.probeMs ?? [];
    probeBaseline = Math.min(probeBaseline, ...probes);
    const slowest = Math.max(...probes);
    if (!(slowest > 1.15 * probeBaseline) || disturbedRuns.length === 2) return disturbedRuns.length ? { ...r, disturbedRuns } : r;
    disturbedRuns.push(probes);
    log(`  ${label}: the machine ran slower during this child (speed probe ${probes.map((p) => p.toFixed(1)).join(' → ')} ms, fastest ${probeBaseline.toFixed(1)}): running it again`);
  }
}

/** Runs one child, forwards its stderr (progress), returns the JSON of its last stdout line. */
function runChildOnce(label, cmd, argv, timeoutSec, env) {
  const probeBefore = speedProbe();
  return new Promise((resolvePromise) => {
    const t0 = Date.now();
    const busy0 = machineBusySeconds();
    let stdout = '', stderrTail = '';
    let child;
    try {
      child = spawn(cmd, argv, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      resolvePromise({ unavailable: `${label}: could not start ${cmd}: ${e.message}` });
      return;
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutSec * 1000);
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => {
      stderrTail = (stderrTail + d).slice(-4000);
      process.stderr.write(d);
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      resolvePromise({ unavailable: `${label}: could not start ${cmd}: ${e.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const wall = (Date.now() - t0) / 1000;
      const line = stdout.trim().split('\n').filter((l) => l.startsWith('{')).at(-1);
      if (line) {
        try {
          const r = JSON.parse(line);
          const busy1 = machineBusySeconds();
          // CPU time used by everything else on the machine while this child ran, in CPUs.
          if (busy0 !== null && busy1 !== null && r.cpuSeconds !== undefined && wall > 0) {
            r.backgroundCpus = Math.max(0, (busy1 - busy0 - r.cpuSeconds) / wall);
          }
          resolvePromise({ ...r, wallSeconds: wall, exit: code, probeMs: [probeBefore, speedProbe()] });
          return;
        } catch { /* fall through */ }
      }
      const why = signal ? `killed by ${signal}${signal === 'SIGKILL' ? ` (timeout ${timeoutSec} s)` : ''}` : `exit code ${code}`;
      const last = stderrTail.trim().split('\n').filter(Boolean).slice(-2).join(' | ');
      resolvePromise({ unavailable: `${label} failed: ${why}${last ? `: ${last}` : ''}`, wallSeconds: wall });
    });
  });
}

const timeout = quick ? 120 : 1800;
const specArg = `--spec=${JSON.stringify(spec)}`;
const node = process.execPath;

async function buildRoofline() {
  const dir = join(here, '.build');
  mkdirSync(dir, { recursive: true });
  const exe = join(dir, 'roofline');
  const argv = ['-O2', '-o', exe, join(here, 'roofline.c'), '-lopenblas'];
  try {
    execFileSync('gcc', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    return { exe, cmd: `gcc ${argv.map((a) => relative(root, a) || a).join(' ')}` };
  } catch (e) {
    const msg = String(e.stderr ?? e.message).trim().split('\n').slice(0, 2).join(' | ');
    return { error: `roofline unavailable: gcc -lopenblas failed (${msg}); install libopenblas-dev` };
  }
}

async function runAll() {
  const results = [];
  const push = (r, fallback) => {
    if (!r.engine) r.engine = fallback.engine;
    if (r.threads === undefined) r.threads = fallback.threads;
    if (!r.threadLabel) r.threadLabel = String(fallback.threads);
    if (r.variant === undefined) r.variant = fallback.variant ?? '';
    if (fallback.core) r.core = fallback.core;
    results.push(r);
  };
  // PyTorch and the roofline: OpenBLAS as installed, then with the best core set explicitly.
  const coreRuns = [{ core: 'installed', env: installedEnv, label: 'as installed' }, ...(bestEnv ? [{ core: 'best', env: bestEnv, label: `OPENBLAS_CORETYPE=${bestCore}` }] : [])];
  const trainingCases = spec.cases.filter((c) => c !== 'infer');
  for (const engine of trainingCases.length ? engines : []) {
    if (engine === 'roofline') {
      if (!spec.cases.some((c) => ['sgemm', 'mlp', 'large'].includes(c))) continue;
      const b = await buildRoofline();
      meta.rooflineBuild = b.cmd ?? b.error;
      for (const { core, env, label } of coreRuns) {
        for (const t of [1, 2]) {
          if (b.error) { push({ unavailable: b.error }, { engine, threads: t, core }); continue; }
          process.stderr.write(`  roofline t=${t} ${label}: sgemm (${spec.roofline.shapes.length} shapes)\n`);
          const tm = spec.timing;
          const r = await runChild(`roofline t=${t} ${label}`, b.exe, [String(t), String(tm.repeats), String(tm.warmupTime), String(tm.minTime),
            String(tm.maxCaseTime), ...spec.roofline.shapes.map((s) => `${s.name}:${s.m},${s.n},${s.k},${s.ta ? 1 : 0},${s.tb ? 1 : 0}`)], timeout, env);
          if (!r.unavailable) r.threadLabel = `${r.threads} (OpenBLAS)`;
          push(r, { engine, threads: t, core });
        }
      }
    } else if (engine === 'tapegrad-native') {
      for (const t of [1, 2]) {
        push(await runChild(`tapegrad-native t=${t}`, node, [join(here, 'cases/tapegrad.mjs'), '--backend=native', `--threads=${t}`, specArg], timeout, tapegradEnv), { engine, threads: t });
      }
    } else if (engine === 'tapegrad-js') {
      push(await runChild('tapegrad-js', node, [join(here, 'cases/tapegrad.mjs'), '--backend=js', specArg], timeout, tapegradEnv), { engine, threads: 1 });
    } else if (engine === 'pytorch') {
      for (const { core, env, label } of coreRuns) {
        for (const t of ['1', 'default']) {
          const r = await runChild(`pytorch ${t} ${label}`, python, [join(here, 'torch_bench.py'), `--threads=${t}`, specArg], timeout, env);
          push(r, { engine, threads: t === '1' ? 1 : 2, variant: t === '1' ? 'threads=1' : 'default', core });
        }
      }
    } else if (engine === 'tfjs-cpu' || engine === 'tfjs-wasm') {
      // tfjs cpu is single-threaded; tfjs wasm has no multithreading in Node (the child reports it),
      // so "1 thread" and "default" are the same run.
      const backend = engine.slice(5);
      push(await runChild(engine, node, [join(here, 'cases/tfjs.mjs'), `--backend=${backend}`, specArg], timeout), { engine, threads: 1 });
    }
  }
  const inferEngines = INFER_ENGINES.filter((e) => engines.includes(e));
  if (spec.cases.includes('infer') && inferEngines.length) {
    push(await runChild('infer', node, [join(here, 'cases/infer.mjs'), `--engines=${inferEngines.join(',')}`, specArg], timeout, tapegradEnv), { engine: 'infer', threads: 1 });
  }
  return results;
}

// ---- the table ---------------------------------------------------------------------------------
const ORDER = Object.fromEntries(ENGINES.map((e, i) => [e, i]));
const CASES = ['sgemm', 'mlp', 'large', 'xor', 'infer'];

/** The OpenBLAS core a child ran and how it was chosen, e.g. "SkylakeX (detected)", "Prescott (as installed)". */
function kernelLabel(r) {
  if (r.engine === 'tapegrad-native') return r.backendInfo?.kernel ? `${r.backendInfo.kernel.core} (${r.backendInfo.kernel.choice})` : '';
  const core = r.engine === 'roofline' ? r.openblasCore : typeof r.openblas === 'object' ? r.openblas.core : undefined;
  if (!r.core) return '';
  return `${core ?? '?'} (${r.core === 'best' ? 'set' : 'as installed'})`;
}

function buildRows(results) {
  const rows = [];
  for (const r of results) {
    const common = { engine: r.engine, threads: r.threads, threadLabel: r.threadLabel, core: r.core, kernel: kernelLabel(r) };
    if (r.unavailable) {
      const cases = r.engine === 'infer' ? ['infer'] : spec.cases.filter((c) => c !== 'infer' && (r.engine !== 'roofline' || c !== 'xor'));
      for (const c of cases) rows.push({ case: c, shape: '', ...common, unavailable: r.unavailable });
      continue;
    }
    for (const row of r.rows) {
      // The roofline also times shapes only needed for the step rooflines (large.*, or all with --cases without sgemm).
      if (r.engine === 'roofline' && (!spec.cases.includes('sgemm') || !spec.sgemm.shapes.some((s) => s.name === row.shape))) continue;
      // the infer child reports several engines: each row names its own
      const own = row.engine ? { engine: row.engine, threads: 1, threadLabel: '1', kernel: row.engine === 'tapegrad-native' ? kernelLabel({ ...r, engine: row.engine, backendInfo: r.engines?.['tapegrad-native']?.backendInfo }) : '' } : {};
      rows.push({ ...row, shape: row.shape ?? '', ...common, variant: r.variant, ...own, ...(row.variant ? { variant: row.variant } : {}) });
    }
  }
  // The roofline of a training step: the step's gemms back to back through cblas_sgemm (no other work).
  for (const r of results.filter((x) => x.engine === 'roofline' && !x.unavailable)) {
    for (const [name, cfg] of [['mlp', MLP], ['large', LARGE]]) {
      if (!spec.cases.includes(name)) continue;
      const gemms = mlpGemms(cfg.batch, cfg.sizes, `${name}.`);
      const times = gemms.map((g) => r.rows.find((x) => x.shape === g.name)?.secPerCall);
      if (times.some((t) => t === undefined)) continue;
      const sec = times.reduce((a, b) => a + b, 0);
      rows.push({ case: name, shape: '', engine: 'roofline', threads: r.threads, threadLabel: r.threadLabel, core: r.core, kernel: kernelLabel(r), unit: 'steps/s', higherIsBetter: true,
        median: 1 / sec, flopPerStep: stepFlop(cfg), note: `its ${gemms.length} gemms through cblas_sgemm, ${((stepFlop(cfg) / sec) / 1e9).toFixed(1)} GFLOP/s` });
    }
  }
  const find = (row, engine, threads, core) => rows.find((x) => x.case === row.case && x.shape === row.shape && x.engine === engine
    && (threads === undefined || x.threads === threads) && (core === undefined || x.core === core) && x.median !== undefined);
  const speedup = (row, ref) => (ref && row.median !== undefined ? (row.higherIsBetter ? row.median / ref.median : ref.median / row.median) : undefined);
  for (const row of rows) {
    if (row.median === undefined) continue;
    row.vsTorch = row.engine === 'pytorch' ? undefined : speedup(row, find(row, 'pytorch', row.threads, 'installed'));
    row.vsTorchBest = row.engine === 'pytorch' ? undefined : speedup(row, find(row, 'pytorch', row.threads, 'best'));
    row.vsJs = row.engine === 'tapegrad-js' ? undefined : speedup(row, find(row, 'tapegrad-js'));
    if (row.case === 'infer') {
      const ort = find(row, 'onnxruntime');
      if (ort && ort !== row) {
        row.vsOrt = ort.p50 / row.p50;
        row.vsOrtP99 = ort.p99 / row.p99;
      }
      row.note = `${row.variant}; p99 ${fmtNum(row.p99)} µs${row.vsOrt ? `; vs onnxruntime ${fmtX(row.vsOrt)} p50, ${fmtX(row.vsOrtP99)} p99` : ''}; min–max: p50 of each of ${row.rounds} rounds`;
    }
    if (row.case !== 'xor' && !(row.engine === 'roofline' && row.core !== 'installed')) {
      // against the roofline with the best core (as installed when there is no best-core run)
      const roof = find(row, 'roofline', row.threads, 'best') ?? find(row, 'roofline', row.threads, 'installed');
      if (roof && roof !== row) row.pctRoofline = (100 * row.median) / roof.median;
    }
  }
  rows.sort((a, b) => CASES.indexOf(a.case) - CASES.indexOf(b.case)
    || INFER_SHAPES.indexOf(a.shape) - INFER_SHAPES.indexOf(b.shape)
    || shapeIndex(a.shape) - shapeIndex(b.shape)
    || ORDER[a.engine] - ORDER[b.engine] || (a.core === 'best') - (b.core === 'best') || a.threads - b.threads);
  return rows;
}

const INFER_SHAPES = ['1 row', '64 rows'];

function shapeIndex(name) {
  const i = spec.sgemm.shapes.findIndex((s) => s.name === name);
  return i < 0 ? -1 : i;
}

function fmtNum(x) {
  if (x === undefined || x === null || !Number.isFinite(x)) return '';
  const a = Math.abs(x);
  return a >= 1000 ? x.toFixed(0) : a >= 100 ? x.toFixed(1) : a >= 10 ? x.toFixed(2) : a >= 1 ? x.toFixed(3) : x.toPrecision(3);
}
const fmtX = (x) => (x === undefined ? '' : `×${x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2)}`);

function printTable(rows) {
  const head = ['case', 'shape', 'engine', 'kernel', 'threads', 'median', 'unit', 'min–max', 'n', 'vs PyTorch', 'vs PyTorch best', 'vs tg-js', '% roofline', 'note'];
  const body = rows.map((r) => r.unavailable
    ? [r.case, r.shape, r.engine, r.kernel ?? '', r.threadLabel, '—', '', '', '', '', '', '', '', r.unavailable]
    : [r.case, r.shape, r.engine, r.kernel ?? '', r.threadLabel, fmtNum(r.median), r.unit, r.min !== undefined ? `${fmtNum(r.min)}–${fmtNum(r.max)}` : '',
      r.repeats !== undefined ? String(r.repeats) : '', fmtX(r.vsTorch), fmtX(r.vsTorchBest), fmtX(r.vsJs),
      r.pctRoofline !== undefined ? `${r.pctRoofline.toFixed(1)}%` : r.engine === 'roofline' && r.case !== 'xor' && r.core !== 'installed' ? '100%' : '', r.note ?? '']);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const right = new Set([5, 7, 8, 9, 10, 11, 12]);
  const line = (cells) => cells.map((c, i) => (i === cells.length - 1 ? c : right.has(i) ? c.padStart(w[i]) : c.padEnd(w[i]))).join('  ').trimEnd();
  log(line(head));
  log(line(w.map((n) => '-'.repeat(n))));
  let prev = '';
  for (let i = 0; i < body.length; i++) {
    const key = `${rows[i].case}/${rows[i].shape}`;
    if (prev && key !== prev) log('');
    prev = key;
    log(line(body[i]));
  }
}

function printNotes(results) {
  log('');
  log('×N = N times as fast as the reference row (same case and shape): "vs PyTorch" uses the PyTorch run with the same');
  log('gemm (OpenBLAS) thread count and OpenBLAS as installed (it detects its core alone), "vs PyTorch best" the same with');
  log(`OPENBLAS_CORETYPE=${bestCore ?? '(none)'} set, "vs tg-js" the tapegrad JS backend. kernel: the OpenBLAS core each run loaded and`);
  log('how it was chosen. % roofline: against direct cblas_sgemm with the best core (as installed when there is no best-core');
  log('run) and the same thread count; mlp/large rows against the roofline step time (the step\'s gemms back to back through');
  log(`cblas_sgemm, ${(stepFlop(MLP) / 1e6).toFixed(1)} MFLOP per mlp step, ${(stepFlop(LARGE) / 1e9).toFixed(2)} GFLOP per large step: the first layer's input needs`);
  log('no gradient). median/min–max over n timed repeats after warm-up.');
  log('');
  log('engines:');
  for (const r of results) {
    const bg = r.backgroundCpus !== undefined ? `, other processes used ${r.backgroundCpus.toFixed(2)} CPUs meanwhile` : '';
    const wall = r.wallSeconds !== undefined ? ` [${r.wallSeconds.toFixed(1)} s wall${r.cpuSeconds !== undefined ? `, ${r.cpuSeconds.toFixed(1)} s CPU` : ''}${bg}]` : '';
    const core = r.core ? ` ${r.core === 'best' ? `OPENBLAS_CORETYPE=${bestCore}` : 'as installed'}` : '';
    if (r.unavailable) { log(`  ${r.engine}${core} ${r.variant ?? ''} t=${r.threads}: ${r.unavailable}${wall}`); continue; }
    let d = '';
    if (r.engine === 'roofline') d = `${r.openblasConfig}, ${r.openblasCore} core${core}; ${meta.rooflineBuild}`;
    else if (r.engine.startsWith('tapegrad')) d = `${r.backendInfo?.reason ?? ''}`;
    else if (r.engine === 'infer') d = Object.entries(r.engines).map(([e, v]) => `${e}: ${v.unavailable ?? v.backendInfo?.kernel?.core ?? (v.version ? `onnxruntime-node ${v.version}, ${JSON.stringify(v.options)}` : v.backend)}`).join('; ');
    else if (r.engine === 'pytorch') d = `torch ${r.version}, torch threads ${r.torchThreads}, OpenBLAS threads ${r.openblasThreads} (${typeof r.openblas === 'object' ? `${r.openblas.core} core${core}, ${r.openblas.path}` : r.openblas}), ${r.variant}`;
    else d = `tfjs ${r.version}`;
    log(`  ${r.engine} t=${r.threadLabel}: ${d}${wall}`);
    const checks = r.rows.filter((x) => x.loss0 !== undefined).map((x) => `${x.case} loss ${x.loss0.toFixed(4)}→${x.lossEnd.toFixed(4)}${x.leakedTensors ? ` (${x.leakedTensors} tensors leaked)` : ''}`);
    if (checks.length) log(`      sanity (loss at the first → last step run): ${checks.join(', ')}`);
    const diffs = r.rows.filter((x) => x.maxAbsDiffVsForward !== undefined).map((x) => `${x.shape} ${x.engine} ${x.variant} ${x.maxAbsDiffVsForward.toExponential(1)}`);
    if (diffs.length) log(`      sanity (max |output - tapegrad forward|): ${diffs.join(', ')}`);
  }
}

/** The numbers a README performance table needs: tapegrad-native against PyTorch as installed and with the best core. */
function printSummary(rows, results) {
  const k = results.find((r) => r.engine === 'tapegrad-native' && r.backendInfo?.kernel)?.backendInfo.kernel
    ?? results.find((r) => r.engine === 'infer')?.engines?.['tapegrad-native']?.backendInfo?.kernel;
  log('');
  log(`summary: tapegrad-native ran OpenBLAS's ${k ? `${k.core} kernel (${k.choice}: ${k.detail})` : 'kernel: unknown (no native run)'}`);
  const pick = (row, engine, core) => rows.find((x) => x.case === row.case && x.shape === row.shape && x.engine === engine
    && x.threads === row.threads && x.core === core && x.median !== undefined);
  for (const row of rows.filter((x) => x.engine === 'tapegrad-native' && x.median !== undefined && x.case !== 'infer' && (x.case !== 'sgemm' || x.shape === '1024²'))) {
    const part = (core, ratio, label) => {
      const t = pick(row, 'pytorch', core);
      return t ? `PyTorch ${label} (${t.kernel.split(' ')[0]}) ${fmtNum(t.median)} ${fmtX(ratio)}` : `PyTorch ${label}: no run`;
    };
    log(`  ${`${row.case}${row.shape ? ` ${row.shape}` : ''} t=${row.threads}:`.padEnd(16)} tapegrad ${fmtNum(row.median)} ${row.unit}; `
      + `${part('installed', row.vsTorch, 'as installed')}; ${part('best', row.vsTorchBest, 'best core')}`);
  }
  const lat = (x) => (x ? `${fmtNum(x.p50)}/${fmtNum(x.p99)}` : '—');
  for (const shape of INFER_SHAPES) {
    const at = (engine, variant) => rows.find((x) => x.case === 'infer' && x.shape === shape && x.engine === engine && (!variant || x.variant === variant) && x.p50 !== undefined);
    const fast = at('tapegrad-native', 'predictBatch'), ort = at('onnxruntime');
    if (!fast && !ort) continue;
    log(`  ${`infer ${shape}:`.padEnd(16)} µs p50/p99: tapegrad predictBatch ${lat(fast)}, forward ${lat(at('tapegrad-native', 'noGrad(forward)'))}, `
      + `tapegrad-js ${lat(at('tapegrad-js'))}, onnxruntime ${lat(ort)}${fast?.vsOrt ? ` (predictBatch ${fmtX(fast.vsOrt)} p50, ${fmtX(fast.vsOrtP99)} p99 vs onnxruntime)` : ''}`);
  }
}

// ---- soak --------------------------------------------------------------------------------------
async function soak() {
  const steps = Number(args.soak) > 1 ? Number(args.soak) : 10000;
  const backend = args['soak-backend'] === 'js' ? 'js' : 'native';
  const threads = Number(args['soak-threads'] ?? 1);
  log(`soak: ${steps} mlp steps on tapegrad-${backend}, ${threads} thread(s)`);
  const r = await runChild('soak', node, [join(here, 'cases/tapegrad.mjs'), `--backend=${backend}`, `--threads=${threads}`, `--soak=${steps}`], 4 * 3600);
  if (r.unavailable || !r.soak) {
    log(`  ${r.unavailable ?? 'no soak result'}`);
    return r;
  }
  const MiB = (b) => (b / 2 ** 20).toFixed(1).padStart(8);
  log('    step   seconds  rss MiB  heapUsed  external  arrayBuffers');
  for (const s of r.soak.samples) {
    log(`${String(s.step).padStart(8)}  ${(s.ms / 1000).toFixed(1).padStart(8)}  ${MiB(s.rss)}  ${MiB(s.heapUsed)}  ${MiB(s.external)}  ${MiB(s.arrayBuffers)}`);
  }
  const first = r.soak.samples[1] ?? r.soak.samples[0], last = r.soak.samples.at(-1);
  log(`  RSS after step ${first.step}: ${MiB(first.rss).trim()} MiB, after step ${last.step}: ${MiB(last.rss).trim()} MiB (${((last.rss - first.rss) / 2 ** 20).toFixed(1)} MiB)`);
  const a = r.soak.allocPerStep;
  log(`  allocations per step: ${a.typedArrays.toFixed(1)} typed arrays, ${(a.bytes / 1024).toFixed(1)} KiB (${a.method}; ${a.msPerStepDuringCount.toFixed(2)} ms/step while counting vs ${a.msPerStepBefore.toFixed(2)} before)`);
  log(`  final loss ${r.soak.lossEnd.toFixed(4)}`);
  return r;
}

// ---- main --------------------------------------------------------------------------------------
const stamp = started.toISOString().replace(/:/g, '').replace(/\.\d+Z$/, 'Z');
const outFile = args.out ? resolve(String(args.out))
  : join(here, 'results', `${stamp}${meta.mode === 'full' ? '' : `-${meta.mode}`}${args.coretype ? `-coretype-${args.coretype}` : ''}.json`);
let report;
if (args.soak) {
  const r = await soak();
  report = { meta, soak: r };
} else {
  log(`  cases ${spec.cases.join(', ')}; engines ${engines.join(', ')}`);
  log('');
  const results = await runAll();
  const rows = buildRows(results);
  meta.loadavgEnd = os.loadavg();
  meta.seconds = (Date.now() - started.getTime()) / 1000;
  log('');
  log(`tapegrad bench (${meta.mode}), ${envLabel}`);
  printTable(rows);
  printNotes(results);
  printSummary(rows, results);
  log(`load average at start ${meta.machine.loadavgStart.map((x) => x.toFixed(2)).join(' ')}, at end ${meta.loadavgEnd.map((x) => x.toFixed(2)).join(' ')}; ${meta.seconds.toFixed(0)} s`);
  const probes = results.flatMap((r) => r.probeMs ?? []);
  if (probes.length) {
    meta.speedProbeMs = { min: Math.min(...probes), max: Math.max(...probes) };
    const { min, max } = meta.speedProbeMs;
    log(`speed probe (a fixed loop before and after every child): ${min.toFixed(1)}–${max.toFixed(1)} ms (×${(max / min).toFixed(2)})`);
    if (max / min > 1.15) log(`WARNING: the machine's speed drifted by ×${(max / min).toFixed(2)} during the run: rows of different children are not comparable; rerun.`);
    const again = results.filter((r) => r.disturbedRuns);
    if (again.length) log(`rerun because the machine slowed down meanwhile: ${again.map((r) => `${r.engine} t=${r.threads} (${r.disturbedRuns.length}×)`).join(', ')}`);
  }
  const busy = results.filter((r) => (r.backgroundCpus ?? 0) > 0.25);
  if (busy.length) {
    log(`WARNING: other processes used CPU during ${busy.map((r) => `${r.engine} t=${r.threads} (${r.backgroundCpus.toFixed(2)})`).join(', ')}`);
    log(`         on a ${meta.machine.cpus}-CPU machine: 2-thread rows (and to a lesser degree all rows) are disturbed; rerun on an idle machine.`);
  }
  report = { meta, rows, results };
}
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, JSON.stringify(report, null, 1) + '\n');
log(`wrote ${relative(process.cwd(), outFile)}`);
