/** A worker thread of `analyzeInParallel`: `analyzeRange` over the byte range it is given. */
import { parentPort, workerData } from 'node:worker_threads';
import type { RangeWorkerInput, RangeWorkerMessage } from './analyze-parallel.js';
import { analyzeRange, type RangeRequest } from './analyze-range.js';

const input = workerData as RangeWorkerInput;
const port = parentPort!;
const send = (message: RangeWorkerMessage) => port.postMessage(message);

async function recordsByKey() {
  if (!input.diagnosticsDir) return new Map();
  const { readArchiveFolder } = await import('./analyze-files.js');
  return new Map((await readArchiveFolder(input.diagnosticsDir)).records.map((r) => [r.correlationId, r]));
}

async function llmUsage() {
  if (!input.llmLogFile) return new Map();
  const { readLlmUsage } = await import('./analyze-files.js');
  return readLlmUsage(input.llmLogFile);
}

const result = await analyzeRange(input, await recordsByKey(), {
  progress: (lines) => send({ kind: 'progress', lines }),
  handBack: (handBack) => {
    send({ kind: 'handBack', ...handBack });
    return new Promise<RangeRequest>((resolve) => port.once('message', resolve));
  },
}, await llmUsage());
send({ kind: 'result', ...result });
