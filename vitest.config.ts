import { defineConfig } from 'vitest/config';
import { createRequire } from 'node:module';
import { locateAddon } from './lib/backend/locate.ts';

// The op/autograd/nn suite runs once per backend. The native project is left out (with a note)
// when the addon cannot load, unless CI_REQUIRE_NATIVE=1 (CI), where that is an error.
function nativeLoads(): string | null {
  try {
    const found = locateAddon(import.meta.dirname);
    if (found.path === null) return found.reason;
    createRequire(import.meta.url)(found.path);
    return null;
  } catch (e) {
    return (e as Error).message.split('\n')[0];
  }
}

const backendSpecific = ['test/backend-js.test.ts', 'test/bench-table.test.ts', 'test/native.test.ts', 'test/pack.test.ts', 'test/locate.test.ts', 'test/imports.test.ts', 'test/duplicates.test.ts'];
const why = nativeLoads();
if (why && process.env.CI_REQUIRE_NATIVE === '1') throw new Error(`CI_REQUIRE_NATIVE=1 but the native addon does not load: ${why}`);
if (why) console.warn(`tapegrad: native addon not available (${why}); running the suite on the JS backend only`);

export default defineConfig({
  test: {
    testTimeout: 60_000,
    projects: [
      { extends: true, test: { name: 'js', include: ['test/**/*.test.ts'], env: { TAPEGRAD_BACKEND: 'js' } } },
      ...(why ? [] : [{
        extends: true,
        test: { name: 'native', include: ['test/**/*.test.ts'], exclude: backendSpecific, env: { TAPEGRAD_BACKEND: 'native' } },
      }]),
    ],
  },
});
