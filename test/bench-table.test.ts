// Issue 14: the README's performance table is what tools/bench-table.mjs makes of the newest full
// bench run in bench/results, never hand-edited numbers.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { newestFullResult, renderTable, withTable } from '../tools/bench-table.mjs';

const root = resolve(fileURLToPath(import.meta.url), '..', '..');

it('the README performance table is generated from the newest full bench result', () => {
  const file = newestFullResult();
  const table: string = renderTable(JSON.parse(readFileSync(file, 'utf8')), file);
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  expect(withTable(readme, table), 'run `node tools/bench-table.mjs --write` after a full `npm run bench`').toBe(readme);
  expect(table).toContain('| mlp, 1 thread |');
});
