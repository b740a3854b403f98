// Files that are truncated, corrupted, lying about their size or holding the wrong dtype or shape give
// a clear error (the file named) and never allocate what the header claims; and a save that is killed
// with SIGKILL midway never replaces the checkpoint with a partial or mixed file.
// (test/io.test.ts covers the per-field decode errors one by one; this adds exhaustive truncation, random
// corruption, memory bounds, file-level errors and a real kill.)
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor, tensor, manualSeed, nn } from '../../lib/index.js';
import { decodeSafetensors, encodeSafetensors, load, loadCheckpoint, readSafetensors, saveCheckpoint } from '../../lib/io/index.js';
import { BACKEND, NODE_ARGS, ROOT, childEnv } from './testkit.mjs';

// Backend-independent: run once (js project, or standalone).
const run = process.env.TAPEGRAD_BACKEND === undefined || BACKEND === 'js';
const dir = fs.mkdtempSync(join(tmpdir(), 'tapegrad-files-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
}
/** A file whose header is `header` (object or raw string) followed by `data`. */
function raw(header: unknown, data: Uint8Array = new Uint8Array(0), claimedLength?: bigint): Buffer {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(claimedLength ?? BigInt(json.length));
  return Buffer.concat([len, json, data]);
}
/** ArrayBuffer memory (typed arrays, Buffers) allocated while running fn, in bytes. */
function allocatedBy(fn: () => void): number {
  const before = process.memoryUsage().arrayBuffers;
  try { fn(); } catch { /* expected */ }
  return process.memoryUsage().arrayBuffers - before;
}

describe.runIf(run)('malformed safetensors files', () => {
  manualSeed(3);
  const model = new nn.Sequential(new nn.Linear(4, 3), new nn.ReLU(), new nn.Linear(3, 2));
  const good = encodeSafetensors(model.stateDict(), { format: 'pt' });

  it('every truncation of a valid file is a clear error naming the source', () => {
    for (let len = 0; len < good.length; len++) {
      let err: unknown;
      try { decodeSafetensors(good.subarray(0, len), { source: 'cut.safetensors' }); } catch (e) { err = e; }
      expect(err, `truncated to ${len} of ${good.length} bytes: accepted`).toBeInstanceOf(Error);
      expect((err as Error).message, `truncated to ${len}`).toMatch(/^safetensors cut\.safetensors: .*(too short|runs past the end|not valid UTF-8 JSON|run past the end|exceeds the limit)/);
    }
    expect(decodeSafetensors(good).tensors['0.weight'].shape).toEqual([3, 4]);
  });

  it('2,000 random corruptions (bit flips, byte runs, splices) decode or fail with a safetensors error, never anything else', () => {
    const r = rng(11);
    let failed = 0;
    for (let t = 0; t < 2000; t++) {
      const b = Buffer.from(good);
      const kind = t % 4;
      if (kind === 0) { const i = Math.floor(r() * b.length); b[i] ^= 1 << Math.floor(r() * 8); }
      else if (kind === 1) { const i = Math.floor(r() * b.length); b.fill(Math.floor(r() * 256), i, Math.min(b.length, i + 1 + Math.floor(r() * 16))); }
      else if (kind === 2) { const i = Math.floor(r() * 8); b[i] = Math.floor(r() * 256); } // the header length
      else { const i = 8 + Math.floor(r() * (b.length - 8)); b.copy(b, i, 8, 8 + Math.floor(r() * 24)); } // header bytes pasted elsewhere
      try {
        const { tensors } = decodeSafetensors(b, { source: 'x' });
        for (const v of Object.values(tensors)) expect(v).toBeInstanceOf(Tensor);
      } catch (e) {
        failed++;
        expect(e).toBeInstanceOf(Error);
        expect(e).not.toBeInstanceOf(TypeError);
        expect(e).not.toBeInstanceOf(RangeError);
        expect((e as Error).message).toMatch(/^safetensors x: /);
      }
    }
    expect(failed).toBeGreaterThan(500);
  });

  it('a header that claims 2^60 bytes, or tensors of terabytes, is rejected without allocating them', () => {
    const cases: [string, Buffer, RegExp, number?][] = [
      ['header length 2^60', raw({}, new Uint8Array(16), 2n ** 60n), /header length 1152921504606846976 exceeds the limit/],
      ['header length 2^50, limit lifted', raw({}, new Uint8Array(16), 2n ** 50n), /header length 1125899906842624 runs past the end of the 26-byte file/, Number.MAX_SAFE_INTEGER],
      ['header length 2^64-1', raw({}, new Uint8Array(16), 2n ** 64n - 1n), /exceeds the limit/],
      ['a 4 TB tensor in a 64-byte file', raw({ w: { dtype: 'F32', shape: [2 ** 20, 2 ** 20], data_offsets: [0, 2 ** 42] } }, new Uint8Array(64)), /tensor "w": shape \[1048576, 1048576\] is too large/],
      ['2^53-byte offsets', raw({ w: { dtype: 'F64', shape: [2 ** 50], data_offsets: [0, 2 ** 53] } }), /tensor "w": shape \[1125899906842624\] is too large/],
      ['a 1 GB tensor in a 100-byte file', raw({ w: { dtype: 'F32', shape: [2 ** 28], data_offsets: [0, 2 ** 30] } }, new Uint8Array(100)), /run past the end of the 100-byte data section/],
      ['a million empty tensors claiming data', raw(Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`t${i}`, { dtype: 'F32', shape: [2 ** 24], data_offsets: [0, 2 ** 26] }]))), /run past the end/],
    ];
    for (const [what, buf, msg, maxHeaderBytes] of cases) {
      const opts = { source: 'big.safetensors', ...(maxHeaderBytes ? { maxHeaderBytes } : {}) };
      expect(() => decodeSafetensors(buf, opts), what).toThrow(msg);
      expect(allocatedBy(() => decodeSafetensors(buf, opts)), `${what}: bytes allocated`).toBeLessThan(1 << 20);
      const file = join(dir, 'big.safetensors');
      fs.writeFileSync(file, buf);
      expect(() => readSafetensors(file, maxHeaderBytes ? { maxHeaderBytes } : {}), what).toThrow(new RegExp(`safetensors ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
    }
  });

  it('load() names the file for truncated, corrupted, wrong-dtype and wrong-shape files', () => {
    const file = (name: string, bytes: Uint8Array): string => { const f = join(dir, name); fs.writeFileSync(f, bytes); return f; };
    const fresh = (): nn.Sequential => new nn.Sequential(new nn.Linear(4, 3), new nn.ReLU(), new nn.Linear(3, 2));
    const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const truncated = file('truncated.safetensors', good.subarray(0, good.length - 3));
    expect(() => load(fresh(), truncated)).toThrow(new RegExp(`^safetensors ${esc(truncated)}: tensor "2.bias": data_offsets .* run past the end`));
    const garbage = file('garbage.safetensors', Buffer.from('PK\u0003\u0004 this is a zip file, not a model'));
    expect(() => load(fresh(), garbage)).toThrow(new RegExp(`^safetensors ${esc(garbage)}: header length \\d+ exceeds the limit`));
    const sd = model.stateDict();
    const header = JSON.parse(good.subarray(8, 8 + Number(good.readBigUInt64LE(0))).toString()) as Record<string, { dtype: string }>;
    for (const dt of ['I16', 'U8', 'BOOL', 'F8_E4M3']) {
      header['0.bias'].dtype = dt;
      const f = file(`dtype-${dt}.safetensors`, raw(header, good.subarray(8 + Number(good.readBigUInt64LE(0)))));
      expect(() => load(fresh(), f), dt).toThrow(new RegExp(`^safetensors ${esc(f)}: tensor "0.bias" has dtype ${dt}, which tapegrad cannot load`));
    }
    // I32 is read (as int32), and a float parameter refuses it
    header['0.bias'].dtype = 'I32';
    const i32 = file('dtype-I32.safetensors', raw(header, good.subarray(8 + Number(good.readBigUInt64LE(0)))));
    expect(() => load(fresh(), i32)).toThrow(/Sequential\.loadStateDict: dtype mismatch for '0\.bias': copying an int32 tensor from the state dict into float32/);
    const wrongShape = file('shape.safetensors', encodeSafetensors({ ...sd, '0.weight': tensor([[1, 2, 3, 4, 5], [1, 2, 3, 4, 5], [1, 2, 3, 4, 5]]) }));
    expect(() => load(fresh(), wrongShape)).toThrow(new RegExp(`^load ${esc(wrongShape)}: .*size mismatch for '0.weight'`, 's'));
    const m = fresh(), before = m.stateDict()['0.weight'].data.slice();
    expect(() => load(m, wrongShape)).toThrow();
    expect(m.stateDict()['0.weight'].data).toEqual(before); // a rejected file leaves the model as it was
    const notCkpt = file('plain.safetensors', good);
    expect(() => loadCheckpoint(notCkpt, { model: fresh() })).toThrow(/not a tapegrad checkpoint/);
  });
});

describe.runIf(run)('atomic save under SIGKILL', () => {
  const MB = 24;
  it(`a child saving a ${MB} MB checkpoint is killed mid-save (5 rounds, random timing): the file is always one complete save`, async () => {
    const r = rng(Number(process.env.SEED ?? 77));
    const file = join(dir, 'ckpt.safetensors');
    const inF = Math.max(1, Math.round((MB * 2 ** 20) / 4 / 1024) - 1);
    const probe = new nn.Linear(inF, 1024);
    const rounds: string[] = [];
    let lastSaveMs = 200;
    for (let round = 0; round < 5; round++) {
      const child = spawn(process.execPath, [...NODE_ARGS, join(ROOT, 'test', 'reliability', 'save-loop.mjs'), file, '--mb', String(MB)], { cwd: ROOT, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
      const exited = new Promise<{ code: number | null; signal: string | null }>((res) => child.on('exit', (code, signal) => res({ code, signal })));
      let saved = 0, begun = 0, buf = '', firstSaveAt = 0, beginAt = 0;
      // Wait for one completed save, then for a later save to begin, then kill at a random point of it.
      const killed = new Promise<void>((res, rej) => {
        child.stdout.setEncoding('utf8').on('data', (d: string) => {
          buf += d;
          let nl;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const [what, n] = buf.slice(0, nl).split(' ');
            buf = buf.slice(nl + 1);
            if (what === 'saved') { saved = Number(n); if (saved === 1) firstSaveAt = performance.now(); else lastSaveMs = performance.now() - beginAt; }
            if (what === 'begin') {
              begun = Number(n); beginAt = performance.now();
              if (saved >= 1 && begun >= 2 + Math.floor(r() * 2)) {
                setTimeout(() => { child.kill('SIGKILL'); res(); }, r() * lastSaveMs);
              }
            }
          }
        });
        child.on('exit', () => rej(new Error(`child exited before it was killed: ${stderr}`)));
      });
      await killed;
      const { signal } = await exited;
      expect(signal, stderr).toBe('SIGKILL');
      expect(firstSaveAt).toBeGreaterThan(0);
      // The file at the path is one complete save: every value equal, = extra.round, and at least the last confirmed save.
      const extra = loadCheckpoint(file, { model: probe }) as { round: number };
      const v = extra.round;
      expect(v).toBeGreaterThanOrEqual(saved);
      expect(v).toBeLessThanOrEqual(begun);
      for (const p of probe.parameters()) {
        const d = p.data;
        for (let i = 0; i < d.length; i += 997) if (d[i] !== v) expect.fail(`round ${round}: value ${d[i]} at ${i} in a checkpoint of save ${v}: a mixed file`);
        expect(d[d.length - 1]).toBe(v);
      }
      const leftovers = fs.readdirSync(dir).filter((f) => f.startsWith('ckpt.safetensors.tmp-'));
      rounds.push(`killed during save ${begun} (${saved} confirmed): file holds save ${v}; ${leftovers.length} temp file(s) left`);
      // A leftover temp file is never what load() reads; the next save to that path removes temp files of dead processes.
      saveCheckpoint(file, { model: probe, extra: { round: v } });
      expect(fs.readdirSync(dir).filter((f) => f.startsWith('ckpt.safetensors.tmp-'))).toEqual([]);
    }
    console.log(`[files] atomic save under SIGKILL:\n  ${rounds.join('\n  ')}`);
  }, 60_000);
});
