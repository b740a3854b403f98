#!/usr/bin/env node
// Child of test/reliability/files.test.ts: saves a large checkpoint to the same path over and over,
// round r writing every parameter as the value r (and extra.round = r), so a file holding a mix of
// two saves is detectable. Prints "begin r" before and "saved r" after each save (stdout, unbuffered).
//   node test/reliability/save-loop.mjs <file> [--mb 32] [--rounds 1000]
import { writeSync } from 'node:fs';
import tg from '../../tools/tapegrad.mjs';

const [file] = process.argv.slice(2);
const opt = (n, d) => { const i = process.argv.indexOf(`--${n}`); return i > 0 ? Number(process.argv[i + 1]) : d; };
const mb = opt('mb', 32), rounds = opt('rounds', 1000);
const { nn, io } = tg;
// Linear(in, out): (in + 1) * out floats; out = 1024
const inF = Math.max(1, Math.round((mb * 2 ** 20) / 4 / 1024) - 1);
const model = new nn.Linear(inF, 1024);
for (let r = 1; r <= rounds; r++) {
  for (const p of model.parameters()) p.data.fill(r);
  writeSync(1, `begin ${r}\n`);
  io.saveCheckpoint(file, { model, extra: { round: r } });
  writeSync(1, `saved ${r}\n`);
}
