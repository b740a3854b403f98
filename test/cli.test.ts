import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trainModel, buildMlp, curvesFileFor, normalizeInput } from '../lib/cli/train.js';
import { readModel, META_ARCH } from '../lib/cli/modelfile.js';
import { accuracy } from '../lib/train/index.js';
import { readSafetensors } from '../lib/io/index.js';
import { noGrad, softmax, tensor } from '../lib/index.js';
import type { Sequential } from '../lib/nn/index.js';

/** Softmax probabilities of a model on rows, computed in-process. */
function predictRows(m: Sequential, rows: number[][]): number[][] {
  return noGrad(() => rows.map((r) => Array.from(softmax(m.forward(tensor([r])), 1).data)));
}
import { perceptronCommand, graphCommand } from '../lib/cli/commands.js';
import { CliError } from '../lib/cli/errors.js';

const root = resolve(fileURLToPath(import.meta.url), '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'tapegrad-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture(): { log(s?: string): void; text(): string } {
  const lines: string[] = [];
  return { log: (s = '') => { lines.push(s); }, text: () => lines.join('\n') };
}

describe('trainer (in-process)', () => {
  it('buildMlp makes Linear/activation layers with PyTorch names', () => {
    const m = buildMlp({ inFeatures: 784, hidden: [256, 128], outFeatures: 10, activation: 'tanh' });
    expect(m.namedParameters().map(([n, p]) => `${n} ${p.shape.join('x')}`)).toEqual([
      '0.weight 256x784', '0.bias 256', '2.weight 128x256', '2.bias 128', '4.weight 10x128', '4.bias 10',
    ]);
    expect(m.toString()).toContain('Tanh');
    expect(() => buildMlp({ inFeatures: 2, hidden: [0], outFeatures: 2, activation: 'relu' })).toThrow(CliError);
  });

  it('learns xor', async () => {
    const r = await trainModel({ dataset: 'xor', out: null });
    expect(r.testAccuracy).toBe(1);
    expect(r.history.trainLoss.at(-1)!).toBeLessThan(0.05);
    expect(r.outFile).toBeNull();
    expect(r.checkpointFile).toBeNull();
  });

  it('learns spirals, saves a model that rebuilds from its metadata alone, and the curves', async () => {
    const out = join(dir, 'spirals', 'model.safetensors');
    const epochs: number[] = [];
    let progress = 0;
    const r = await trainModel({ dataset: 'spirals', epochs: 30, out }, {
      onEpoch: (e) => epochs.push(e.epoch),
      onProgress: () => { progress++; },
    });
    expect(r.testAccuracy).toBeGreaterThan(0.9);
    expect(epochs).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(progress).toBe(30 * 25); // 800 training points in batches of 32
    expect(JSON.parse(readSafetensors(out).metadata[META_ARCH])).toEqual({ inFeatures: 2, hidden: [64, 64], outFeatures: 2, activation: 'relu' });
    const back = readModel(out);
    expect(accuracy(back.model, normalizeInput(r.split.xTest, back.arch!), r.split.yTest)).toBe(r.testAccuracy);
    expect(back.data).toEqual({ dataset: 'spirals', seed: 0 });
    const curves = readFileSync(curvesFileFor(out), 'utf8');
    expect(curves).toContain('train loss');
    expect(curves).toContain('test acc');
    expect(existsSync(join(dir, 'spirals', 'model.checkpoint.safetensors'))).toBe(true);
    expect(readFileSync(r.boundaryFile!, 'utf8')).toContain('<svg');
  });

  it('an abort mid-epoch checkpoints that batch, and resuming gives the same model as training straight through', async () => {
    const a = join(dir, 'ia', 'model.safetensors'), b = join(dir, 'ib', 'model.safetensors');
    await trainModel({ dataset: 'circles', epochs: 4, out: a });
    const stop = new AbortController();
    const r1 = await trainModel({ dataset: 'circles', epochs: 4, out: b, signal: stop.signal }, {
      onProgress: (p) => { if (p.epoch === 2 && p.batch === 7) stop.abort(); },
    });
    expect(r1.interrupted).toEqual({ epoch: 2, batch: 7 });
    expect(existsSync(b)).toBe(false); // no final model from an interrupted run
    const r2 = await trainModel({ resume: join(dir, 'ib', 'model.checkpoint.safetensors') });
    expect(r2.interrupted).toBeNull();
    expect(r2.history.trainLoss).toHaveLength(4);
    expect(readFileSync(b).equals(readFileSync(a))).toBe(true);
  });

  it('resuming from a checkpoint gives the same model as training straight through', async () => {
    const a = join(dir, 'a', 'model.safetensors'), b = join(dir, 'b', 'model.safetensors');
    await trainModel({ dataset: 'circles', epochs: 6, out: a });
    await trainModel({ dataset: 'circles', epochs: 3, out: b });
    const r = await trainModel({ resume: join(dir, 'b', 'model.checkpoint.safetensors'), epochs: 6 });
    expect(r.outFile).toBe(b);
    expect(r.history.trainLoss).toHaveLength(6);
    expect(readFileSync(b).equals(readFileSync(a))).toBe(true);
  });

  it('standardizes CSV features and records the statistics', async () => {
    const csv = join(dir, 'blobs.csv');
    const rows = ['x,y,label'];
    for (let i = 0; i < 120; i++) {
      const k = i % 2;
      rows.push(`${(k ? 1000 : 0) + (i % 7) * 50},${(i % 5) / 5},${k}`);
    }
    writeFileSync(csv, rows.join('\n'));
    const out = join(dir, 'blobs.safetensors');
    const r = await trainModel({ dataset: 'csv', data: csv, target: 'label', epochs: 20, out });
    expect(r.testAccuracy).toBe(1);
    expect(r.arch.normalize!.mean[0]).toBeGreaterThan(100);
    await expect(trainModel({ dataset: 'csv', data: csv, target: 'nope', out: null })).rejects.toThrow(/no target column "nope"/);
    await expect(trainModel({ dataset: 'csv', data: join(dir, 'missing.csv'), out: null })).rejects.toThrow(CliError);
  });

  it('perceptron converges on AND and fails on XOR, drawing the boundary', async () => {
    const and = capture(), xor = capture();
    await perceptronCommand({ dataset: 'and', out: join(dir, 'and.svg') }, and);
    expect(and.text()).toMatch(/converged after \d+ epochs/);
    await perceptronCommand({ dataset: 'xor', maxEpochs: 10, out: join(dir, 'xor.svg') }, xor);
    expect(xor.text()).toContain('did not converge in 10 epochs');
    expect(xor.text()).toContain('not linearly separable');
    expect(readFileSync(join(dir, 'xor.svg'), 'utf8')).toContain('<svg');
  });

  it('graph writes DOT and SVG of the MLP loss', async () => {
    const o = capture();
    await graphCommand({ hidden: [16], inFeatures: 8, classes: 3, out: join(dir, 'g', 'mlp.svg') }, o);
    const dot = readFileSync(join(dir, 'g', 'mlp.dot'), 'utf8');
    expect(dot).toContain('0.weight\\n[16, 8]');
    expect(dot).toContain('CrossEntropyBackward');
    expect(readFileSync(join(dir, 'g', 'mlp.svg'), 'utf8')).toContain('<svg');
  });
});

// ------------------------------------------------------------------ the real binary
// Spawned from the js project only (both projects would otherwise rebuild dist/ at once); the child
// processes pick their backend as a user's would.
const spawnTests = process.env.TAPEGRAD_BACKEND !== 'native';
let distReady = false;
let why = '';

function cli(args: string[], cwd = dir): { code: number; stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env.TAPEGRAD_BACKEND;
  const r = spawnSync(process.execPath, [join(root, 'bin', 'tapegrad.js'), ...args], { cwd, encoding: 'utf8', env, timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe.runIf(spawnTests)('bin/tapegrad.js', () => {
  beforeAll(() => {
    // build dist/ (tsc emits even when some other file has a type error)
    const b = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', root], { encoding: 'utf8', timeout: 120_000 });
    distReady = existsSync(join(root, 'dist', 'cli', 'index.js'));
    if (!distReady) why = `dist/cli/index.js missing after tsc: ${b.stdout}${b.stderr}`;
    else if (b.status !== 0) console.warn(`tsc reported errors (testing the emitted dist anyway):\n${b.stdout}`);
  }, 180_000);

  it('--help on the program and each command', (ctx) => {
    if (!distReady) ctx.skip(why);
    const top = cli(['--help']);
    expect(top.code).toBe(0);
    for (const c of ['train', 'perceptron', 'graph', 'eval', 'predict', 'bench']) expect(top.stdout).toContain(c);
    for (const c of ['train', 'perceptron', 'graph', 'eval', 'predict', 'bench']) {
      const h = cli([c, '--help']);
      expect(h.code, c).toBe(0);
      expect(h.stdout).toContain(`Usage: tapegrad ${c}`);
    }
  });

  it('train, eval from the saved file alone, predict on a CSV', (ctx) => {
    if (!distReady) ctx.skip(why);
    const model = join(dir, 'bin-xor', 'model.safetensors');
    const t = cli(['train', '--dataset', 'xor', '--epochs', '150', '--out', model]);
    expect(t.stderr).toBe('');
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/^epoch +1\/150 /m); // plain per-epoch lines (stdout is not a TTY)
    expect(t.stdout).toContain('test accuracy: 100.00%');
    expect(t.stdout).toMatch(/backend: (js|native)/);
    expect(existsSync(curvesFileFor(model))).toBe(true);

    const e = cli(['eval', '--model', model]);
    expect(e.code).toBe(0);
    expect(e.stdout).toContain('test accuracy: 100.00% (4 samples)');

    const input = join(dir, 'xor-points.csv');
    writeFileSync(input, 'a,b\n0,0\n0,1\n1,0\n1,1\n');
    const p = cli(['predict', '--model', model, '--input', input]);
    expect(p.code).toBe(0);
    expect(p.stdout.split('\n').map((l) => l.split(',').slice(0, 2).join(','))).toEqual(['class,label', '0,0', '1,1', '1,1', '0,0', '']);
    expect(p.stdout.split('\n')[0]).toBe('class,label,p_0,p_1');
  });

  it('--scheduler step --clip-grad-norm --dropout --batchnorm: the logged rates, recorded in the model, eval rebuilds it, listed in --help', (ctx) => {
    if (!distReady) ctx.skip(why);
    const help = cli(['train', '--help']).stdout;
    for (const flag of ['--scheduler <name>', 'cosine', 'onecycle', '--clip-grad-norm <x>', '--dropout <p>', '--batchnorm']) expect(help).toContain(flag);
    const model = join(dir, 'bin-step', 'model.safetensors'), log = join(dir, 'bin-step', 'log.jsonl');
    const t = cli(['train', '--dataset', 'xor', '--epochs', '6', '--scheduler', 'step', '--clip-grad-norm', '0.5', '--dropout', '0.1', '--batchnorm', '--out', model, '--log', log, '-q']);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toContain('model: 2-8-2 tanh batchnorm dropout 0.1 (58 parameters), adam lr 0.05 (step schedule), grad norm clipped to 0.5');
    const acc = /test accuracy: ([\d.]+%)/.exec(t.stdout)![1];
    expect(cli(['eval', '--model', model]).stdout).toContain(`test accuracy: ${acc}`);
    const lrs = readFileSync(log, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l).lr);
    [0.05, 0.05, 0.005, 0.005, 0.0005, 0.0005].forEach((want, i) => expect(lrs[i]).toBeCloseTo(want, 15));
    expect(JSON.parse(readSafetensors(model).metadata['tapegrad.train'])).toMatchObject({ scheduler: 'step', clipGradNorm: 0.5 });
  });

  it('eval reproduces the accuracy of a spirals run', (ctx) => {
    if (!distReady) ctx.skip(why);
    const model = join(dir, 'bin-spirals', 'm.safetensors');
    const t = cli(['train', '--dataset', 'spirals', '--epochs', '10', '--seed', '3', '--out', model, '-q']);
    expect(t.code).toBe(0);
    const acc = /test accuracy: ([\d.]+%)/.exec(t.stdout)![1];
    const e = cli(['eval', '--model', model, '--backend', 'js']);
    expect(e.stdout).toContain(`test accuracy: ${acc}`);
  });

  it('bad options and missing files: exit code 1 and one line on stderr', (ctx) => {
    if (!distReady) ctx.skip(why);
    for (const args of [
      ['train', '--epochs', 'abc'],
      ['train', '--dataset', 'imagenet'],
      ['train', '--hidden', '12,x'],
      ['train', '--optimizer', 'rmsprop'],
      ['train', '--dataset', 'csv'],
      ['train', '--dataset', 'csv', '--data', 'nope.csv'],
      ['eval', '--model', 'nope.safetensors'],
      ['predict', '--model', 'nope.safetensors', '--input', 'x.csv'],
      ['train', '--resume', 'nope.safetensors'],
      ['trian'],
      ['graph', '--out', 'g.png'],
      ['train', '--scheduler', 'linear'],
      ['train', '--clip-grad-norm', '0'],
      ['train', '--dropout', '1'],
    ]) {
      const r = cli(args);
      expect(r.code, args.join(' ')).toBe(1);
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines, `${args.join(' ')}: ${r.stderr}`).toHaveLength(1);
      expect(lines[0]).toMatch(/^tapegrad: /);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});

describe.runIf(spawnTests)('Ctrl-C during tapegrad train', () => {
  it('SIGINT writes a checkpoint, exits 130, and --resume ends with the uninterrupted model', async () => {
    const env = { ...process.env };
    delete env.TAPEGRAD_BACKEND;
    const bin = join(root, 'bin', 'tapegrad.js');
    const common = ['--dataset', 'spirals', '--samples', '3000', '--epochs', '12', '-q'];
    const straight = join(dir, 'sig-a', 'model.safetensors'), cut = join(dir, 'sig-b', 'model.safetensors');
    expect(spawnSync(process.execPath, [bin, 'train', ...common, '--out', straight], { env, encoding: 'utf8', timeout: 120_000 }).status).toBe(0);
    const child = spawn(process.execPath, [bin, 'train', ...common.filter((a) => a !== '-q'), '--out', cut], { env });
    let stdout = '';
    const code = await new Promise<number | null>((res) => {
      child.stdout.on('data', (d) => {
        stdout += d;
        if (/epoch +2\/12/.test(stdout) && !child.killed) child.kill('SIGINT');
      });
      child.on('exit', (c) => res(c));
    });
    expect(stdout).toMatch(/interrupted in epoch \d+ after batch \d+/);
    expect(code).toBe(130);
    expect(existsSync(cut)).toBe(false);
    const ckpt = join(dir, 'sig-b', 'model.checkpoint.safetensors');
    const resumed = spawnSync(process.execPath, [bin, 'train', '--resume', ckpt, '-q'], { env, encoding: 'utf8', timeout: 120_000 });
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(readFileSync(cut).equals(readFileSync(straight))).toBe(true);
  }, 120_000);
});

// ------------------------------------------------------------------ real data (issue 12, part 5), spawned
const fixtures = join(root, 'test', 'fixtures', 'csv');
const iris = join(fixtures, 'iris.csv');

function sh(script: string, cwd = dir): { code: number; stdout: string; stderr: string } {
  const env = { ...process.env, TG: join(root, 'bin', 'tapegrad.js') };
  delete env.TAPEGRAD_BACKEND;
  const r = spawnSync('bash', ['-c', script], { cwd, encoding: 'utf8', env, timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe.runIf(spawnTests)('tapegrad on real CSV files', () => {
  it('--data iris.csv --target species: text labels become classes, recorded in the model; predict prints label and probabilities', (ctx) => {
    if (!distReady) ctx.skip(why);
    const model = join(dir, 'csv', 'iris.safetensors');
    const t = cli(['train', '--data', iris, '--target', 'species', '--epochs', '30', '--out', model, '-q']);
    expect(t.stderr).toBe('');
    expect(t.code).toBe(0);
    expect(t.stdout).toContain('3 classes: setosa, versicolor, virginica');
    expect(Number(/test accuracy: ([\d.]+)%/.exec(t.stdout)![1])).toBeGreaterThan(85);
    expect(existsSync(join(dir, 'runs', 'mnist'))).toBe(false); // never silently MNIST
    // the checkpoint is named after the model
    expect(existsSync(join(dir, 'csv', 'iris.checkpoint.safetensors'))).toBe(true);
    const meta = readSafetensors(model).metadata;
    expect(JSON.parse(meta[META_ARCH]).labels).toEqual(['setosa', 'versicolor', 'virginica']);
    // the CSV path is recorded relative to the model file, so eval works from any directory
    expect(JSON.parse(meta['tapegrad.data']).data).toBe(relative(join(dir, 'csv'), iris));
    const e = cli(['eval', '--model', model], root);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout).toMatch(/test accuracy: [\d.]+% \(30 samples\)/);

    // a header-less features file: detected, its first row kept (6 rows → 6 predictions)
    const features = join(fixtures, 'iris-features.csv');
    const p = cli(['predict', '--model', model, '--input', features]);
    expect(p.code, p.stderr).toBe(0);
    const lines = p.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('class,label,p_setosa,p_versicolor,p_virginica');
    expect(lines.slice(1).map((l) => l.split(',')[1])).toEqual(['setosa', 'setosa', 'setosa', 'versicolor', 'versicolor', 'virginica']);
    for (const l of lines.slice(1)) expect(l.split(',').slice(2).map(Number).reduce((a, b) => a + b)).toBeCloseTo(1, 4);
    const j = cli(['predict', '--model', model, '--input', features, '--json']);
    const first = JSON.parse(j.stdout.split('\n')[0]);
    expect(first.label).toBe('setosa');
    expect(Object.keys(first.probabilities)).toEqual(['setosa', 'versicolor', 'virginica']);
    // with a header row, the header is detected and skipped
    const withHeader = join(dir, 'iris-head.csv');
    writeFileSync(withHeader, `a,b,c,d\n${readFileSync(features, 'utf8')}`);
    expect(cli(['predict', '--model', model, '--input', withHeader]).stdout.trimEnd().split('\n')).toHaveLength(7);
  });

  it('semicolon-delimited files are detected (or given with --delimiter); a real-valued target trains a regression with MSE', (ctx) => {
    if (!distReady) ctx.skip(why);
    const semi = join(fixtures, 'iris-semicolon.csv');
    for (const extra of [[], ['--delimiter', ';']]) {
      const t = cli(['train', '--data', semi, '--target', 'species', '--epochs', '3', '--out', join(dir, 'semi', 'm.safetensors'), '-q', ...extra]);
      expect(t.code, t.stderr).toBe(0);
      expect(t.stdout).toContain('4 features, 3 classes');
    }
    const model = join(dir, 'reg', 'm.safetensors');
    const r = cli(['train', '--data', join(fixtures, 'regression.csv'), '--target', 'y', '--epochs', '40', '--out', model, '-q']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('regression');
    expect(Number(/test MSE: ([\d.e-]+)/.exec(r.stdout)![1])).toBeLessThan(0.05); // y = 2a - 3b + 0.5 has variance ~4.3
    const input = join(dir, 'reg-in.csv');
    writeFileSync(input, '0.5,-0.5\n0,0\n');
    const p = cli(['predict', '--model', model, '--input', input]);
    const [, v1, v2] = p.stdout.trimEnd().split('\n').map(Number);
    expect(v1).toBeCloseTo(3, 0); // 2*0.5 - 3*(-0.5) + 0.5
    expect(v2).toBeCloseTo(0.5, 0);
  });

  it('bad data and --data without --dataset csv', (ctx) => {
    if (!distReady) ctx.skip(why);
    const inf = join(dir, 'inf.csv');
    writeFileSync(inf, 'a,b,label\n1,2,0\n3,Infinity,1\n');
    const r = cli(['train', '--data', inf, '--out', join(dir, 'inf.safetensors')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`tapegrad: csv ${inf}: row 3, column "b": Infinity is not a finite number\n`);
    const m = cli(['train', '--dataset', 'mnist', '--data', iris]);
    expect(m.code).toBe(1);
    expect(m.stderr).toMatch(/--data .* is a CSV file, but --dataset is mnist/);
  });

  it('eval and predict read files written by save() and saveCheckpoint() of a Sequential', async (ctx) => {
    if (!distReady) ctx.skip(why);
    const { nn, save, saveCheckpoint, optim, manualSeed } = await import('../lib/index.js');
    manualSeed(0);
    const m = new nn.Sequential(new nn.Linear(2, 4), new nn.Tanh(), new nn.Linear(4, 3));
    const saved = join(dir, 'user', 'm.safetensors'), ck = join(dir, 'user', 'ck.safetensors');
    mkdirSync(join(dir, 'user'), { recursive: true });
    save(m, saved);
    saveCheckpoint(ck, { model: m, optimizer: new optim.SGD(m.parameters(), { lr: 0.1 }) });
    const input = join(dir, 'user-in.csv');
    writeFileSync(input, '0.5,-1\n2,3\n');
    const want = predictRows(m, [[0.5, -1], [2, 3]]);
    for (const f of [saved, ck]) {
      const p = cli(['predict', '--model', f, '--input', input]);
      expect(p.code, p.stderr).toBe(0);
      const rows = p.stdout.trimEnd().split('\n').slice(1).map((l) => l.split(',').slice(2).map(Number));
      rows.forEach((r, i) => r.forEach((v, k) => expect(v).toBeCloseTo(want[i][k], 5)));
    }
    const none = cli(['eval', '--model', saved]);
    expect([none.code, none.stderr]).toEqual([1, `tapegrad: ${saved} does not record its dataset; pass --dataset (or --data file.csv)\n`]);
    const e = cli(['eval', '--model', ck, '--dataset', 'spirals', '--samples', '100']);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout).toContain('(Linear(2, 4) Tanh Linear(4, 3))');
    expect(e.stdout).toMatch(/test accuracy: [\d.]+% \(20 samples\)/);
  });

  it('closed pipes end quietly: predict | head -2, train | head -3', (ctx) => {
    if (!distReady) ctx.skip(why);
    const big = join(dir, 'big.csv');
    writeFileSync(big, Array.from({ length: 20000 }, (_, i) => `${i % 7},${i % 3}`).join('\n'));
    const model = join(dir, 'bin-xor', 'model.safetensors');
    if (!existsSync(model)) cli(['train', '--dataset', 'xor', '--epochs', '50', '--out', model, '-q']);
    const p = sh(`node "$TG" predict --model ${model} --input ${big} | head -2; echo "status \${PIPESTATUS[0]}"`);
    expect(p.stderr).toBe('');
    expect(p.stdout).toMatch(/^class,label,p_0,p_1\n\d,\d,[^\n]+\nstatus 0\n$/);
    const t = sh(`node "$TG" train --dataset xor --epochs 3000 --out ${join(dir, 'pipe', 'm.safetensors')} | head -3; echo "status \${PIPESTATUS[0]}"`);
    expect(t.stderr).toBe('');
    expect(t.stdout).toMatch(/status 0\n$/);
  });
});

describe.runIf(spawnTests)('SIGTERM during tapegrad train', () => {
  it('writes the checkpoint and exits 143, like Ctrl-C', async (ctx) => {
    if (!distReady) ctx.skip(why);
    const env = { ...process.env };
    delete env.TAPEGRAD_BACKEND;
    const out = join(dir, 'term', 'spirals.safetensors');
    const child = spawn(process.execPath, [join(root, 'bin', 'tapegrad.js'), 'train', '--dataset', 'spirals', '--samples', '3000', '--epochs', '200', '--out', out], { env });
    let stdout = '';
    const code = await new Promise<number | null>((res) => {
      child.stdout.on('data', (d) => {
        stdout += d;
        if (/epoch +\d+\/200/.test(stdout) && !child.killed) child.kill('SIGTERM');
      });
      child.on('exit', (c) => res(c));
    });
    expect(code).toBe(143);
    expect(stdout).toMatch(/interrupted in epoch \d+ after batch \d+/);
    expect(existsSync(join(dir, 'term', 'spirals.checkpoint.safetensors'))).toBe(true);
    const e = cli(['eval', '--model', join(dir, 'term', 'spirals.checkpoint.safetensors')]);
    expect(e.code, e.stderr).toBe(0);
  }, 120_000);
});

describe('progress on a terminal', () => {
  it('shows the ETA with units', async () => {
    const { progressReporter, duration } = await import('../lib/cli/progress.js');
    expect([duration(42), duration(828), duration(3725), duration(NaN)]).toEqual(['42s', '13m48s', '1h02m', '--']);
    const { Writable } = await import('node:stream');
    let text = '';
    const tty = Object.assign(new Writable({ write(c, _e, cb) { text += String(c); cb(); } }), {
      isTTY: true, columns: 160, cursorTo: () => true, moveCursor: () => true, clearLine: () => true, clearScreenDown: () => true,
    });
    const r = progressReporter({ out: tty as unknown as NodeJS.WriteStream, tty: true });
    const options = { epochs: 2 } as never;
    r.onStart!({ batches: 10, startEpoch: 0, options } as never);
    await new Promise((res) => setTimeout(res, 30));
    r.onProgress!({ epoch: 1, epochs: 2, batch: 5, batches: 10, step: 5, loss: 1, meanLoss: 1, accuracy: 0.5, samplesPerSec: 100 });
    await new Promise((res) => setTimeout(res, 150));
    r.finish();
    expect(text).toMatch(/ETA \d+(\.\d+)?(s|m\d\ds)\b/);
    expect(text).not.toMatch(/ETA \d+(?![\d.sm])/);
  });
});
