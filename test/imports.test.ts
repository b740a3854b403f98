// The import graph of lib/: no circle, and the layers import only downwards (DESIGN.md).
// dependency-cruiser parses TypeScript only through the TypeScript 5 API, which TypeScript 7 no
// longer has, so the check runs on what tsc emits: every runtime import (type-only imports are
// erased; the sources have no circle through them either).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type IViolation } from 'dependency-cruiser';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(fileURLToPath(import.meta.url), '..', '..');
const out = mkdtempSync(join(tmpdir(), 'tapegrad-imports-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const RULES = {
  forbidden: [
    { name: 'no-circular', severity: 'error' as const, from: {}, to: { circular: true } },
    // Tensor is data: it knows neither the engine nor the ops (ops/methods.ts installs its methods)
    { name: 'tensor-is-data', severity: 'error' as const, from: { path: '^tensor\\.js$' }, to: { path: '^(autograd|ops|nn|optim)/' } },
    // the engine gets the few ops it needs registered by the ops layer
    { name: 'autograd-below-ops', severity: 'error' as const, from: { path: '^autograd/' }, to: { path: '^(ops|nn|optim)/' } },
    { name: 'creation-below-ops', severity: 'error' as const, from: { path: '^creation\\.js$' }, to: { path: '^(autograd|ops)/' } },
  ],
};

async function check(): Promise<{ modules: string[]; violations: IViolation[] }> {
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json'), '--outDir', out, '--declaration', 'false'], { stdio: 'pipe' });
  const r = await cruise(['.'], { baseDir: out, validate: true, ruleSet: RULES });
  if (typeof r.output === 'string') throw new Error('dependency-cruiser returned text, expected its result object');
  return { modules: r.output.modules.map((m) => m.source), violations: r.output.summary.violations };
}

describe('import graph of lib/', () => {
  it('has no circular import and no import against the layers', async () => {
    const { modules, violations } = await check();
    // the check saw the whole library
    for (const m of ['index.js', 'tensor.js', 'creation.js', 'autograd/engine.js', 'autograd/define.js', 'ops/methods.js', 'ops/matmul.js', 'nn/module.js']) {
      expect(modules).toContain(m);
    }
    const described = violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}${v.cycle ? ` (cycle ${v.cycle.map((c) => c.name).join(' -> ')})` : ''}`);
    expect(described).toEqual([]);
  }, 120_000);
});
