export { clipGradNorm, clipGradValue } from './clip.js';
