// `node --import ./tools/ts-register.mjs file.mjs`: run tapegrad's TypeScript sources (lib/**/*.ts)
// without compiling them to dist/ first. See tools/ts-hooks.mjs.
import { register } from 'node:module';

register('./ts-hooks.mjs', import.meta.url);
