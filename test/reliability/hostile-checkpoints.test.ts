// Regression tests for `tapegrad train --resume` with crafted or mismatched checkpoints (issue 10,
// "Crashes, hangs, security"). Crafted files keep a valid digest (recomputed, as anyone who can
// write the file can), so they test the validation behind it.
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkpointDigest, encodeSafetensors, readSafetensors } from '../../lib/io/index.js';
import { trainModel } from '../../lib/cli/train.js';
import { readModel, readTrainCheckpoint } from '../../lib/cli/modelfile.js';
import { runScript } from './testkit.mjs';

// Backend-independent: run once.
const run = process.env.TAPEGRAD_BACKEND !== 'native';

let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(join(tmpdir(), 'tapegrad-ckpt-')); });
afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

/** Rewrite a checkpoint's `extra` with edit(), then store it with a recomputed digest (or the stale one). */
function craft(from: string, to: string, edit: (extra: Record<string, any>) => void, redigest = true): void {
  const { tensors, metadata } = readSafetensors(from);
  const extra = JSON.parse(metadata['tapegrad.extra']);
  edit(extra);
  const meta = { ...metadata, 'tapegrad.extra': JSON.stringify(extra) };
  if (redigest) meta['tapegrad.sha256'] = checkpointDigest(tensors, meta);
  fs.mkdirSync(join(to, '..'), { recursive: true });
  fs.writeFileSync(to, encodeSafetensors(tensors, meta));
}

/** A 3-epoch xor run in dir/a; returns its checkpoint. */
async function trained(): Promise<string> {
  await trainModel({ dataset: 'xor', epochs: 3, out: join(dir, 'a', 'model.safetensors') });
  return join(dir, 'a', 'model.checkpoint.safetensors');
}

describe.runIf(run)('hostile and mismatched checkpoints', () => {
  it('a crafted checkpoint cannot choose where the model is written (no path comes from the file)', async () => {
    const ck = await trained();
    fs.mkdirSync(join(dir, 'victim'));
    const victim = join(dir, 'victim', 'notes.txt');
    fs.writeFileSync(victim, 'precious');
    const evil = join(dir, 'elsewhere', 'ck.safetensors');
    craft(ck, evil, (e) => { e.out = '../victim/notes.txt'; e.checkpoint = victim; e.options.out = victim; });
    const r = await trainModel({ resume: evil, epochs: 5 });
    expect(r.outFile).toBe(join(dir, 'elsewhere', 'model.safetensors')); // default: next to the checkpoint
    expect(r.checkpointFile).toBe(evil);
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious');
    expect(fs.readdirSync(join(dir, 'victim'))).toEqual(['notes.txt']);
    // --out on the command line is honoured; checkpoints written now carry no path at all
    const r2 = await trainModel({ resume: evil, epochs: 6, out: join(dir, 'chosen.safetensors') });
    expect(r2.outFile).toBe(join(dir, 'chosen.safetensors'));
    expect(Object.keys(JSON.parse(readSafetensors(evil).metadata['tapegrad.extra'])).sort()).toEqual(['arch', 'epoch', 'history', 'options', 'rng']);
  });

  it('an edited architecture (relu -> sigmoid, a hidden width) is refused', async () => {
    const ck = await trained();
    const edited = join(dir, 'b', 'ck.safetensors');
    // edited by hand: the digest no longer matches
    craft(ck, edited, (e) => { e.arch.activation = 'sigmoid'; }, false);
    await expect(trainModel({ resume: edited, epochs: 4 })).rejects.toThrow(/modified or damaged after it was written/);
    // digest recomputed: the architecture disagrees with the recorded options / the weights
    craft(ck, edited, (e) => { e.arch.activation = 'sigmoid'; });
    await expect(trainModel({ resume: edited, epochs: 4 })).rejects.toThrow(/invalid checkpoint: the architecture 2-8-2 sigmoid disagrees with the recorded options \(hidden \[8\], activation "tanh"\)/);
    craft(ck, edited, (e) => { e.arch.hidden = [9]; e.options.hidden = [9]; });
    await expect(trainModel({ resume: edited, epochs: 4 })).rejects.toThrow(/architecture 2-9-2 tanh needs '0\.weight' of shape \[9, 2\], the weights have \[8, 2\]/);
    craft(ck, edited, (e) => { e.arch.hidden = [1e9]; e.options.hidden = [1e9]; }); // would allocate 8 GB before loading
    await expect(trainModel({ resume: edited, epochs: 4 })).rejects.toThrow(/needs '0\.weight' of shape \[1000000000, 2\]/);
    craft(ck, edited, (e) => { e.arch.activation = 'gelu'; e.options.activation = 'gelu'; });
    await expect(trainModel({ resume: edited, epochs: 4 })).rejects.toThrow(/invalid checkpoint: unknown activation "gelu"/);
    craft(ck, edited, (e) => { e.arch.dropout = 1; });
    await expect(trainModel({ resume: edited, epochs: 4 })).rejects.toThrow(/invalid checkpoint: bad dropout 1 \(expected a probability in \[0, 1\)\)/);
    craft(ck, edited, (e) => { e.arch.batchnorm = true; }); // the weights have no BatchNorm1d
    await expect(trainModel({ resume: edited, epochs: 4 })).rejects.toThrow(/architecture 2-8-2 tanh batchnorm needs '1\.weight' of shape \[8\], the weights have none/);
    craft(ck, edited, (e) => { e.rng = [0, 0, 0, 0]; });
    await expect(trainModel({ resume: edited, epochs: 4 })).rejects.toThrow(/invalid checkpoint: bad rng state \[0,0,0,0\]/);
    craft(ck, edited, (e) => { e.options.scheduler = 'warmup'; });
    await expect(trainModel({ resume: edited, epochs: 4 })).rejects.toThrow(/invalid checkpoint: unknown scheduler "warmup"/);
    craft(ck, edited, (e) => { e.options.clipGradNorm = -1; });
    await expect(trainModel({ resume: edited, epochs: 4 })).rejects.toThrow(/invalid checkpoint: bad clipGradNorm -1/);
  });

  it('a model file whose architecture does not match its weights is refused before the model is built', async () => {
    await trained();
    const file = join(dir, 'a', 'model.safetensors');
    expect(readModel(file).arch!.hidden).toEqual([8]);
    const { tensors, metadata } = readSafetensors(file);
    const edit = (arch: object): string => {
      const f = join(dir, 'edited.safetensors');
      fs.writeFileSync(f, encodeSafetensors(tensors, { ...metadata, 'tapegrad.arch': JSON.stringify({ ...JSON.parse(metadata['tapegrad.arch']), ...arch }) }));
      return f;
    };
    expect(() => readModel(edit({ hidden: [1e9] }))).toThrow(/invalid model file: architecture 2-1000000000-2 tanh needs '0\.weight' of shape \[1000000000, 2\], the weights have \[8, 2\]/);
    expect(() => readModel(edit({ hidden: [] }))).toThrow(/invalid model file: .*unexpected weight|needs '0\.weight' of shape \[2, 2\]/);
    expect(() => readModel(edit({ activation: 'constructor' }))).toThrow(/invalid model file: unknown activation "constructor"/);
    expect(() => readModel(edit({ labels: ['a'] }))).toThrow(/invalid model file: bad labels \(expected 2 class names\)/);
    // a file with only save()'s layer list: checked the same way, before anything is allocated
    const { 'tapegrad.arch': _arch, ...plain } = metadata;
    const layers = (spec: object[]): string => {
      const f = join(dir, 'layers.safetensors');
      fs.writeFileSync(f, encodeSafetensors(tensors, { ...plain, 'tapegrad.sequential': JSON.stringify(spec) }));
      return f;
    };
    const lin = (i: number, o: number) => ({ type: 'Linear', inFeatures: i, outFeatures: o, bias: true });
    expect(readModel(layers([lin(2, 8), { type: 'Tanh' }, lin(8, 2)])).description).toBe('Linear(2, 8) Tanh Linear(8, 2)');
    expect(() => readModel(layers([lin(2, 1e9), { type: 'Tanh' }, lin(1e9, 2)]))).toThrow(/invalid model file: architecture of the file needs '0\.weight' of shape \[1000000000, 2\], the weights have \[8, 2\]/);
    expect(() => readModel(layers([lin(2, 8), { type: '__proto__' }, lin(8, 2)]))).toThrow(/invalid model file: layer 1: unknown layer type "__proto__"/);
    expect(() => readModel(layers([lin(2, 8)]))).toThrow(/unexpected weight '2\.weight'/);
  });

  it('epoch: 1e12 and partial.batch: -5 (and other impossible counters) are refused', async () => {
    const ck = await trained();
    const edited = join(dir, 'c', 'ck.safetensors');
    const cases: [string, (e: Record<string, any>) => void, RegExp][] = [
      ['epoch 1e12', (e) => { e.epoch = 1e12; }, /epoch 1000000000000 is not an integer in \[0, 3\]/],
      ['epoch -1', (e) => { e.epoch = -1; }, /epoch -1 is not an integer/],
      ['epoch 2.5', (e) => { e.epoch = 2.5; }, /epoch 2\.5 is not an integer/],
      ['history of 2 epochs at epoch 3', (e) => { e.history.trainLoss.pop(); }, /history does not hold 3 epochs of numbers/],
      ['partial.batch -5', (e) => { e.epoch = 2; e.partial = { batch: -5, lossSum: 1, correct: 0, seen: 4 }; e.options.epochs = 3; for (const k of ['trainLoss', 'trainAcc', 'testLoss', 'testAcc']) e.history[k].pop(); }, /partial epoch \{"batch":-5,.*\} is inconsistent/],
      ['partial past the epoch end', (e) => { e.epoch = 2; e.partial = { batch: 7, lossSum: 1, correct: 0, seen: 28 }; for (const k of ['trainLoss', 'trainAcc', 'testLoss', 'testAcc']) e.history[k].pop(); }, /partial epoch stopped after batch 7 of 1/],
      ['lr NaN', (e) => { e.options.lr = 'NaN'; }, /bad lr NaN/],
      ['unknown dataset', (e) => { e.options.data.dataset = '../../etc'; }, /bad data/],
    ];
    for (const [what, edit, msg] of cases) {
      craft(ck, edited, edit);
      await expect(trainModel({ resume: edited, epochs: 4, out: null }), what).rejects.toThrow(msg);
    }
    expect(readTrainCheckpoint(ck).epoch).toBe(3);
  });

  it('--dataset, --hidden, --activation (and data/seed/optimizer options) that conflict with --resume are errors', async () => {
    const ck = await trained();
    for (const [opt, msg] of [
      [{ dataset: 'circles' }, /--dataset circles \(the checkpoint has xor\)/],
      [{ hidden: [16, 16] }, /--hidden 16,16 \(the checkpoint has 8\)/],
      [{ activation: 'relu' }, /--activation relu \(the checkpoint has tanh\)/],
      [{ seed: 3 }, /--seed 3 \(the checkpoint has 0\)/],
      [{ optimizer: 'sgd' }, /--optimizer sgd \(the checkpoint has adam\)/],
      [{ hidden: [], activation: 'relu' }, /--hidden none \(the checkpoint has 8\); --activation relu/],
    ] as const) {
      await expect(trainModel({ resume: ck, epochs: 4, out: null, ...opt } as never), JSON.stringify(opt)).rejects.toThrow(msg);
    }
    // the same values as recorded are fine
    const r = await trainModel({ resume: ck, epochs: 4, out: null, dataset: 'xor', hidden: [8], activation: 'tanh', seed: 0 });
    expect(r.history.trainLoss).toHaveLength(4);
  });

  it('a checkpoint is written after every epoch, as --help says (none lost to a time throttle)', async () => {
    const ck = join(dir, 'e', 'model.checkpoint.safetensors');
    const seen: number[] = [];
    await trainModel({ dataset: 'xor', epochs: 6, out: join(dir, 'e', 'model.safetensors') }, {
      onEpoch: (e) => { seen.push(readTrainCheckpoint(ck).epoch - e.epoch); },
    });
    expect(seen).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('the command line reports a conflicting --resume in one line and exits 1', async () => {
    const ck = await trained();
    const r = runScript('tools/tapegrad.mjs', [], {
      nodeArgs: ['--input-type=module', '-e', `const { main } = await import('./lib/cli/index.ts'); process.exitCode = await main(['node', 'tapegrad', 'train', '--resume', ${JSON.stringify(ck)}, '--hidden', '32', '--activation', 'relu', '-q']);`],
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr.trim()).toMatch(/^tapegrad: --resume .*checkpoint\.safetensors: --hidden 32 \(the checkpoint has 8\); --activation relu \(the checkpoint has tanh\)\. A resumed run keeps/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
