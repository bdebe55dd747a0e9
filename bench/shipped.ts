/**
 * `analyzeFiles` as shipped: the compiled JavaScript that `tokenledger analyze` runs (`npm run build`, which
 * `npm run bench` does first), so that its worker threads load compiled modules as they do for users rather than
 * TypeScript transformed on the fly by tsx.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type * as AnalyzeFilesModule from '../src/services/analyze-files.js';

const compiled = new URL('../dist/src/services/analyze-files.js', import.meta.url);
if (!existsSync(fileURLToPath(compiled))) throw new Error('the benchmark measures the compiled analyze: run `npm run build` first');
export const { analyzeFiles } = (await import(compiled.href)) as typeof AnalyzeFilesModule;
