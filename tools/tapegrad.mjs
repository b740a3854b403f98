// Which build of tapegrad the tools and test/reliability's job scripts use: the compiled package
// (dist/index.js, after `npm run build`) by default, or the TypeScript sources when TAPEGRAD_SRC=1
// (then run node with `--import ./tools/ts-register.mjs`; the tests in test/reliability do this, so
// they never depend on a stale dist/).
const src = process.env.TAPEGRAD_SRC === '1';
const tg = await import(src ? '../lib/index.ts' : '../dist/index.js');
export default tg;
export const sourceKind = src ? 'lib/ (sources)' : 'dist/ (compiled)';
/** The raw native addon, or null (not re-exported by the package index). */
export async function nativeAddon() {
  const m = await import(src ? '../lib/backend/native.ts' : '../dist/backend/native.js');
  return m.nativeAddon();
}
/** The kernel catalogue (lib/backend/catalogue.ts). */
export async function catalogue() {
  return import(src ? '../lib/backend/catalogue.ts' : '../dist/backend/catalogue.js');
}
