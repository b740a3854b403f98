#!/usr/bin/env node
// npm "install" script of tapegrad (also runs on `npm ci` / `npm rebuild` in this repository).
//
// 1. If the runtime's locator (dist/backend/locate.js) finds an addon (build/Release, the platform
//    package @tapegrad/<platform>, or prebuilds/<platform>-<arch>) and it loads and multiplies a 2x2
//    matrix correctly, we are done: nothing is downloaded, nothing compiled. The binaries need no
//    install script at all; this script only builds from source when there is none.
// 2. Otherwise build from source with node-gyp against the system OpenBLAS (binding.gyp).
// 3. If that fails too, exit 0 anyway with ONE line: tapegrad will use the JS backend, why, and how
//    to fix it. The full build log is kept in a temp file.
//
// TAPEGRAD_BUILD_FROM_SOURCE=1 skips step 1; TAPEGRAD_SKIP_NATIVE=1 skips steps 1-2.
'use strict';

const { spawnSync, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const FIX = 'install a C++ compiler and libopenblas-dev (apt-get install g++ make python3 libopenblas-dev), then run `npm rebuild tapegrad`';

function smokeTest(file) {
  const addon = require(file);
  const c = new Float32Array(4);
  addon.gemm(false, false, 2, 2, 2, 1, new Float32Array([1, 2, 3, 4]), new Float32Array([5, 6, 7, 8]), 0, c);
  if (c[0] !== 19 || c[1] !== 22 || c[2] !== 43 || c[3] !== 50) throw new Error(`2x2 sgemm smoke test gave [${c.join(', ')}]`);
}

/** Path of a working addon, or throws why there is none. */
async function findWorkingAddon() {
  let found;
  try {
    found = (await import('../dist/backend/locate.js')).locateAddon(root);
  } catch {
    // a fresh clone of the repository: install runs before prepare builds dist/
    const local = path.join(root, 'build', 'Release', 'tapegrad.node');
    found = fs.existsSync(local) ? { path: local } : { path: null, reason: 'dist/ is not built yet and there is no build/Release' };
  }
  if (found.path === null) throw new Error(`No native build was found: ${found.reason}`);
  smokeTest(found.path);
  return found.path;
}

function oneLine(e) {
  return String(e && e.message ? e.message : e).replace(/\s+/g, ' ').trim();
}

function nodeGypCommand() {
  // npm points npm_config_node_gyp at its own bundled node-gyp during lifecycle scripts.
  const candidates = [process.env.npm_config_node_gyp];
  try {
    candidates.push(require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] }));
  } catch {}
  for (const c of candidates) if (c && fs.existsSync(c)) return c;
  return null;
}

function has(cmd, args) {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The most likely reason a source build cannot work, or null. */
function missingPrerequisite() {
  if (!has('g++', ['--version']) && !has('c++', ['--version'])) return 'no C++ compiler (g++) found';
  if (!has('make', ['--version'])) return 'make is not installed';
  let lib = '';
  try {
    lib = execFileSync('gcc', ['-print-file-name=libopenblas.so'], { encoding: 'utf8' }).trim();
  } catch {}
  const headers = ['/usr/include/cblas.h', '/usr/include/x86_64-linux-gnu/cblas.h', '/usr/include/openblas/cblas.h',
    '/usr/local/include/cblas.h', '/opt/homebrew/opt/openblas/include/cblas.h'];
  if (!path.isAbsolute(lib) && !headers.some((h) => fs.existsSync(h))) return 'OpenBLAS (libopenblas-dev) is not installed';
  return null;
}

async function buildFromSource() {
  const gyp = nodeGypCommand();
  if (!gyp) return { ok: false, why: 'node-gyp is not available' };
  const log = path.join(os.tmpdir(), `tapegrad-build-${process.pid}.log`);
  const env = { ...process.env };
  if (!env.npm_config_nodedir && fs.existsSync('/usr/include/node/node_api.h')) env.npm_config_nodedir = '/usr';
  const r = spawnSync(process.execPath, [gyp, 'rebuild'], { cwd: root, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  fs.writeFileSync(log, `${r.stdout || ''}\n${r.stderr || ''}\n${r.error ? String(r.error) : ''}`);
  if (r.status !== 0) {
    const pre = missingPrerequisite();
    return { ok: false, why: `${pre || 'node-gyp rebuild failed'} (log: ${log})` };
  }
  try {
    return { ok: true, file: await findWorkingAddon() };
  } catch (e) {
    return { ok: false, why: `the freshly built addon does not load: ${oneLine(e)} (log: ${log})` };
  }
}

async function main() {
  if (process.env.TAPEGRAD_SKIP_NATIVE === '1') {
    console.log('tapegrad: TAPEGRAD_SKIP_NATIVE=1, tapegrad will use the JS backend; unset it and run `npm rebuild tapegrad` for the native one');
    return;
  }
  let firstWhy = '';
  if (process.env.TAPEGRAD_BUILD_FROM_SOURCE !== '1') {
    try {
      await findWorkingAddon();
      return; // prebuild or existing build works: done, silently
    } catch (e) {
      firstWhy = oneLine(e);
    }
  }
  const r = await buildFromSource();
  if (r.ok) {
    console.log(`tapegrad: built the native addon from source (${path.relative(root, r.file)})`);
    return;
  }
  const prebuilt = firstWhy === '' || /No native build was found/.test(firstWhy)
    ? '' : `the prebuilt addon does not load (${firstWhy}) and `;
  console.log(`tapegrad: native addon unavailable, tapegrad will use the JS backend: ${prebuilt}the source build failed: ${r.why}. To fix: ${FIX}`);
}

main().catch((e) => {
  // Never fail the install: the JS backend always works.
  console.log(`tapegrad: native addon unavailable, tapegrad will use the JS backend (${oneLine(e)}). To fix: ${FIX}`);
});
