import { expect } from 'vitest';
import type { StoredDiagnostic } from '../../src/contracts/diagnostic-record.js';
import type { DiagnosticsStore } from '../../src/ports/diagnostics-store.js';
import { diagnosticRecord } from './diagnostic-records.js';

const record: StoredDiagnostic = { ...diagnosticRecord(), gateway: 'pending' };

/**
 * What every diagnostics store must do with conditional writes, as Cosmos DB does with `If-Match`: a replace at the
 * version read succeeds once, whatever the record's time (one document per correlation id); a replace at a stale
 * version (412) and a create of a record that exists (409) are conflicts, and change nothing.
 */
export async function expectConditionalRecordWrites(store: DiagnosticsStore): Promise<void> {
  expect(await store.writeRecords([{ record, etag: null }])).toEqual({ conflicts: [], refused: [] });
  const [first] = await store.readRecords([record.correlationId]);
  expect(first?.record).toEqual(record);
  expect(await store.writeRecords([{ record: { ...record, gateway: 'matched' }, etag: first!.etag }])).toEqual({ conflicts: [], refused: [] });
  const stale = await store.writeRecords([
    { record: { ...record, gateway: 'bypass' }, etag: first!.etag },
    { record: { ...record, gateway: 'bypass' }, etag: null },
  ]);
  expect(stale.conflicts).toEqual([record.correlationId, record.correlationId]);
  const [current] = await store.readRecords([record.correlationId]);
  expect(current!.etag).not.toBe(first!.etag);
  expect(await store.getRecords([record.correlationId])).toEqual([{ ...record, gateway: 'matched' }]);
  const laterHour = { ...record, time: '2026-11-20T11:15:00.000Z', gateway: 'bypass' as const };
  expect(await store.writeRecords([{ record: laterHour, etag: current!.etag }])).toEqual({ conflicts: [], refused: [] });
  expect(await store.readRecords([record.correlationId])).toEqual([{ record: laterHour, etag: expect.any(String) }]);
}
