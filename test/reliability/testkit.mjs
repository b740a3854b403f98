// Shared by test/reliability/*.test.ts: run a script (a tool of tools/ or a job script of this folder)
// in a child node process on the TypeScript sources (tools/ts-register.mjs + TAPEGRAD_SRC=1), so the
// tests never depend on a stale dist/.
import { spawn, spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const REGISTER = resolve(ROOT, 'tools', 'ts-register.mjs');
export const NODE_ARGS = ['--import', REGISTER];
/** The backend under test: the vitest project's (TAPEGRAD_BACKEND), else native. */
export const BACKEND = process.env.TAPEGRAD_BACKEND === 'js' ? 'js' : 'native';

/** process.env plus TAPEGRAD_SRC=1 and `extra`. */
export function childEnv(extra = {}) {
  return { ...process.env, TAPEGRAD_SRC: '1', ...extra };
}

/** Run `node --import ts-register [nodeArgs] <script> ...args` to completion (spawnSync result, utf8). */
export function runScript(script, args, opts = {}) {
  return spawnSync(process.execPath, [...NODE_ARGS, ...(opts.nodeArgs ?? []), resolve(ROOT, script), ...args], {
    cwd: ROOT, env: childEnv(opts.env), encoding: 'utf8', timeout: opts.timeout ?? 120_000, maxBuffer: 64 << 20,
  });
}

/** Same, asynchronously: resolves {status, signal, stdout, stderr}. */
export function runScriptAsync(script, args, opts = {}) {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, [...NODE_ARGS, ...(opts.nodeArgs ?? []), resolve(ROOT, script), ...args], { cwd: ROOT, env: childEnv(opts.env) });
    let stdout = '', stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    p.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeout ?? 120_000);
    p.on('error', rej);
    p.on('close', (status, signal) => { clearTimeout(timer); res({ status, signal, stdout, stderr }); });
  });
}

/** The JSON after `PREFIX ` on the last stdout line that has it, or null. */
export function tagged(stdout, prefix) {
  const line = stdout.split('\n').reverse().find((l) => l.startsWith(`${prefix} `));
  return line ? JSON.parse(line.slice(prefix.length + 1)) : null;
}
