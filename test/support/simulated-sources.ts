import type { DiagnosticRecord } from '../../src/contracts/diagnostic-record.js';
import type { LedgerEntry } from '../../src/contracts/ledger-entry.js';
import { parseRequestResponse } from '../../src/domain/diagnostic-parsing.js';
import { normalizeEvent } from '../../src/domain/event-normalization.js';
import { joinAll } from '../../src/domain/join.js';
import { toLedgerEntry } from '../../src/domain/ledger.js';
import { simulateDay, type SimulationOptions } from '../../src/simulator/traffic.js';

/**
 * A simulated day as the latency tiles see it: its archived `RequestResponse` records, and its distinct gateway
 * events as ledger entries joined to those records (malformed events and other sources left out).
 */
export function simulatedSources(options: SimulationOptions): { records: DiagnosticRecord[]; entries: LedgerEntry[] } {
  const day = simulateDay(options);
  const records = [...day.archive.values()].flat().flatMap((line) => {
    const parsed = parseRequestResponse(JSON.parse(line));
    return parsed.ok ? [parsed.record] : [];
  });
  const entries = [...new Set(day.eventLines)].flatMap((line) => {
    try {
      const normalized = normalizeEvent(JSON.parse(line));
      return normalized.ok ? [toLedgerEntry(normalized.value)] : [];
    } catch {
      return [];
    }
  });
  return { records, entries: joinAll(entries, records).entries };
}
