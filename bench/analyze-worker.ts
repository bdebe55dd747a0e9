/**
 * One worker of the parallel analysis: reads its byte range of the events file and does exactly what
 * `analyzeFiles` does per line (sortBatch per 2,000 lines, merge entries by id), then waits to hear which ids
 * other workers also saw. Those entries go back to the main thread whole (to be merged across ranges); the
 * others are joined, priced into chargeback lines and timed into hourly latency tiles here.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parentPort, workerData } from 'node:worker_threads';
import type { LedgerEntry } from '../src/contracts/ledger-entry.js';
import { loadPriceTable } from '../src/contracts/price-table.js';
import { ChargebackLines } from '../src/domain/chargeback.js';
import { joinAll } from '../src/domain/join.js';
import { buildTiles, serializeTile } from '../src/domain/latency-tile.js';
import { mergeLedgerEntries } from '../src/domain/ledger.js';
import { PriceMatcher } from '../src/domain/price-matching.js';
import { sortBatch } from '../src/services/ingest-batch.js';
import type { WorkerInput, WorkerIds, WorkerResult, WorkerShared } from './analyze-parallel.js';

const CHUNK = 2_000;
const input = workerData as WorkerInput;
const port = parentPort!;

const entries = new Map<string, LedgerEntry>();
const deadLetterIds = new Set<string>();
let chunk: string[] = [];
const flush = () => {
  const sorted = sortBatch(chunk.map((body) => ({ body, position: { partitionId: 'file', sequenceNumber: null, offset: null, enqueuedTimeUtc: null } })));
  for (const entry of sorted.entries) {
    const seen = entries.get(entry.id);
    entries.set(entry.id, seen ? mergeLedgerEntries(seen, entry) : entry);
  }
  for (const letter of sorted.deadLetters) deadLetterIds.add(letter.id);
  chunk = [];
};

if (input.end > input.start) {
  const lines = createInterface({ input: createReadStream(input.file, { encoding: 'utf8', start: input.start, end: input.end - 1 }), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim() === '') continue;
    chunk.push(line);
    if (chunk.length >= CHUNK) flush();
  }
}
flush();

const ids: WorkerIds = { ids: [...entries.keys()], deadLetterIds: [...deadLetterIds] };
port.postMessage(ids);

port.once('message', (message: WorkerShared) => {
  const shared = new Set(message.shared);
  const sharedEntries: LedgerEntry[] = [];
  const own: LedgerEntry[] = [];
  for (const [id, entry] of entries) (shared.has(id) ? sharedEntries : own).push(entry);
  entries.clear();
  const joined = joinAll(own, []);
  const lines = new ChargebackLines(new PriceMatcher(loadPriceTable(input.prices)), input.identity);
  for (const entry of joined.entries) lines.addEntry(entry);
  const tiles = buildTiles({ records: [], entries: joined.entries }, 'hour').map(serializeTile);
  const result: WorkerResult = { lines: lines.list(), tiles, shared: sharedEntries, entries: joined.entries.length };
  port.postMessage(result);
});
