/** A worker thread of `analyzeInParallel`, kept between analyses: each job is `analyzeRange` over the pieces it takes. */
import { parentPort } from 'node:worker_threads';
import type { RangeWorkerInput, RangeWorkerMessage, ToRangeWorker } from './analyze-parallel.js';
import { recordsByCorrelationId } from '../domain/join.js';
import { analyzeRange, type RangeRequest } from './analyze-range.js';

const port = parentPort!;
const send = (message: RangeWorkerMessage) => port.postMessage(message);
let answer: ((request: RangeRequest) => void) | null = null;

/** As the calling thread: one record per correlation id (`recordsByCorrelationId`). */
async function recordsByKey(input: RangeWorkerInput) {
  if (input.records) return recordsByCorrelationId(input.records);
  if (!input.diagnosticsDir) return new Map();
  const { readArchiveFolder } = await import('./analyze-files.js');
  return recordsByCorrelationId((await readArchiveFolder(input.diagnosticsDir)).records);
}

async function llmUsage(input: RangeWorkerInput) {
  if (!input.llmLogFile) return new Map();
  const { readLlmUsage } = await import('./analyze-files.js');
  return readLlmUsage(input.llmLogFile);
}

async function run(input: RangeWorkerInput): Promise<void> {
  const result = await analyzeRange(input, await recordsByKey(input), {
    progress: (lines) => send({ kind: 'progress', lines }),
    handBack: (handBack, totals) => {
      // The totals go now, so that the calling thread takes them in while this one reads its entries again.
      send({ kind: 'handBack', ...handBack, parts: totals.parts() });
      return new Promise<RangeRequest>((resolve) => (answer = resolve));
    },
  }, await llmUsage(input));
  send({ kind: 'result', ...result });
}

port.on('message', (message: ToRangeWorker) => {
  if (message.kind === 'request') {
    answer?.(message);
    answer = null;
    return;
  }
  // A failed job is an unhandled rejection: the thread fails ('error' on the calling side) and gets no other job.
  void run(message.input);
});
