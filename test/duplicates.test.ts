// Issue 13: no logic written twice in lib/ or native/. jscpd (config: .jscpd.json) looks for exact
// clones (the same tokens, names included) of at least 40 tokens and 5 lines in the TypeScript and
// C++ sources. Why these numbers: jscpd's default is 50 tokens; 40 (about three statements, the
// smallest piece worth a shared helper) also catches short blocks such as a 6-line strided-index
// walk or an SVG header, while below ~35 tokens the hits are parameter lists and one-line guards.
// Same-shape code with other names (jscpd --ignore-identifiers, or the `duplicates` tool) is mostly
// boilerplate here (argument parsing, option reading, scheduler constructors) and is not checked.
// There are no exclusions; if one is ever needed, add an "ignore" glob to .jscpd.json with a reason.
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = resolve(fileURLToPath(import.meta.url), '..', '..');

it('jscpd finds no copy-pasted code in lib/ or native/', () => {
  const r = spawnSync(process.execPath, [join(root, 'node_modules/jscpd/run-jscpd.js'), '--config', join(root, '.jscpd.json'), '--fail-on-empty'], {
    cwd: root,
    encoding: 'utf8',
  });
  const report = `${r.stdout}${r.stderr}`;
  const found = /Found (\d+) clones?\./.exec(report);
  if (r.status !== 0 || !found || found[1] !== '0') {
    throw new Error(
      'jscpd found code written twice in lib/ or native/ (list it with `npx jscpd`, config .jscpd.json). ' +
        'Share one helper where the logic is the same; for boilerplate that is only alike, add an "ignore" to .jscpd.json with a reason.\n' +
        report,
    );
  }
  // the scan saw the sources (a misconfigured path would also report 0 clones)
  const files = /Total:\s*│\s*(\d+)/.exec(report);
  expect(Number(files?.[1])).toBeGreaterThan(80);
});
