/**
 * Writes N simulated gateway events to one JSONL file without holding them all in memory: several simulated
 * days (100,000 requests each, different seeds, consecutive days going back from a fixed anchor) are appended
 * one after the other, and the last one is cut at exactly N lines.
 *
 * The file holds the gateway's own stream (v1 events with the simulator's redeliveries and malformed bodies),
 * which is what the DuckDB anchor reads. The other sources the simulator mixes in (diagnostic settings streaming
 * `{"records":[…]}` of APIM and Azure OpenAI logs, the AI Hub Gateway's payloads) are left out here; the oracle
 * test covers them.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { simulateDay } from '../src/simulator/traffic.js';

/** Requests per simulated day: about 100 MB of strings while one chunk is being written. */
export const REQUESTS_PER_CHUNK = 100_000;
/** The first chunk's day; later chunks go back one day each, so no event is ever in the future of the clock. */
const ANCHOR_DAY = Date.parse('2026-09-01T00:00:00Z');
/** simulateDay writes ~1.03 lines per request (duplicates and malformed events); the margin avoids a tiny last chunk. */
const LINES_PER_REQUEST = 1.03;

export interface GeneratedEvents {
  readonly file: string;
  readonly lines: number;
  readonly bytes: number;
  readonly chunks: number;
  readonly days: readonly string[];
  readonly seconds: number;
}

/** Not a body of records streamed by a diagnostic setting, nor an AI Hub Gateway payload (indented, several lines). */
function isGatewayStreamLine(line: string): boolean {
  return !line.startsWith('{"records":') && !line.includes('\n');
}

export function chunkDay(index: number): string {
  return new Date(ANCHOR_DAY - index * 86_400_000).toISOString().slice(0, 10);
}

export async function generateEvents(file: string, events: number, seed = 7_000): Promise<GeneratedEvents> {
  const started = performance.now();
  const out = createWriteStream(file, { encoding: 'utf8' });
  let lines = 0;
  let bytes = 0;
  const days: string[] = [];
  for (let chunk = 0; lines < events; chunk++) {
    const remaining = events - lines;
    const requests = Math.min(REQUESTS_PER_CHUNK, Math.max(1, Math.ceil(remaining / LINES_PER_REQUEST) + 50));
    const day = chunkDay(chunk);
    days.push(day);
    const simulated = simulateDay({ requests, seed: seed + chunk, day });
    const take = simulated.eventLines.filter(isGatewayStreamLine).slice(0, remaining);
    const text = take.join('\n') + '\n';
    lines += take.length;
    bytes += Buffer.byteLength(text);
    if (!out.write(text)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return { file, lines, bytes, chunks: days.length, days, seconds: (performance.now() - started) / 1000 };
}
