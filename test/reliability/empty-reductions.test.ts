// Regression test (issue 10, "Hangs"): zeros([1e15, 0]).sum(0), .mean(0) and zeros([1, 1e15, 0]).max(1)
// looped over the huge reduced dimension although the output is empty. Run in a child process with a
// timeout, so a regression fails the test instead of freezing the suite.
import { describe, expect, it } from 'vitest';
import { BACKEND, runScript } from './testkit.mjs';

const script = `
const tg = (await import('./lib/index.ts'));
const { jsBackend } = await import('./lib/backend/js.ts');
const { nativeAddon } = await import('./lib/backend/native.ts');
const { REDUCE_OPS } = await import('./lib/backend/catalogue.ts');
tg.setBackend(process.env.B);
const shapes = {};
shapes.sum = tg.zeros([1e15, 0]).sum(0).shape;
shapes.mean = tg.zeros([1e15, 0]).mean(0).shape;
shapes.max = tg.zeros([1, 1e15, 0]).max(1).shape;
shapes.argmax = tg.zeros([1, 1e15, 0]).argmax(1).shape;
// the kernels themselves, below any op-level shortcut: no output, no work
const out = new Float32Array(0), x = new Float32Array(0);
for (const op of REDUCE_OPS) jsBackend.reduce(op, x, 1, 1e15, 0, out);
jsBackend.argmax(x, 1, 1e15, 0, new Int32Array(0));
const a = nativeAddon();
if (a) {
  for (const op of REDUCE_OPS) a.reduce(op, x, 1, 2 ** 31 - 1, 0, out);
  a.argmax(x, 2 ** 31 - 1, 1, 0, new Int32Array(0));
}
console.log('SHAPES ' + JSON.stringify(shapes));
`;

describe('empty reductions', () => {
  it('hangs: sum/mean/max/argmax over a huge dim with an empty output return at once', () => {
    const r = runScript('tools/tapegrad.mjs', [], { nodeArgs: ['--input-type=module', '-e', script], env: { B: BACKEND }, timeout: 20_000 });
    expect(r.signal, `timed out or crashed: ${r.stderr}`).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(/SHAPES (.*)/.exec(r.stdout)![1])).toEqual({ sum: [0], mean: [0], max: [1, 0], argmax: [1, 0] });
  });
});
