import { describe, expect, it } from 'vitest';
import type { TrafficTile } from '../../src/contracts/traffic-tile.js';
import { sumTraffic, trafficTile } from '../../src/domain/traffic.js';
import { trafficReport } from '../../src/services/traffic-report.js';
import { MemoryAggregateStore } from '../support/memory-stores.js';
import { simulatedSources } from '../support/simulated-sources.js';

const DAY = '2026-10-15';
const hourOf = (time: string) => time.slice(0, 13);

describe('traffic report from hour tiles', () => {
  const day = simulatedSources({ requests: 1500, seed: 11, day: DAY });
  // A key-only caller without an APIM subscription: nobody to charge.
  const anonymous = { ...day.entries[0]!, id: 'anonymous-1', time: `${DAY}T05:30:00.000Z`, subscriptionId: null, caller: { oid: null, tid: null, appid: null, idtyp: null, upn: null, sub: null }, diagnostics: { status: 'none' as const } };
  const entries = [...day.entries, anonymous];
  const bypass = [
    { gateway: 'bypass' as const, objectId: 'a1b2', time: `${DAY}T03:10:00.000Z` },
    { gateway: 'bypass' as const, objectId: '', time: `${DAY}T03:20:00.000Z` },
    { gateway: 'bypass' as const, objectId: '', time: `${DAY}T07:00:00.000Z` },
    { gateway: 'matched' as const, objectId: 'gw', time: `${DAY}T04:00:00.000Z` },
  ];
  const hours = [...new Set(entries.map((e) => hourOf(e.time)))].sort();
  const tiles: TrafficTile[] = hours.map((hour) =>
    trafficTile(
      hour,
      entries.filter((e) => hourOf(e.time) === hour),
      bypass.filter((r) => hourOf(r.time) === hour),
    ),
  );

  it('sums the tiles of a whole-hour range to what its entries and records say at once', () => {
    const range = { from: new Date(`${DAY}T02:00:00Z`), to: new Date(`${DAY}T08:00:00Z`) };
    const inRange = (time: string) => Date.parse(time) >= range.from.getTime() && Date.parse(time) < range.to.getTime();
    const once = trafficTile('all', entries.filter((e) => inRange(e.time)), bypass.filter((r) => inRange(r.time)));
    const report = sumTraffic(tiles, range);
    expect(report.join).toEqual({ ...once.join, bypass: 3 });
    expect(report.bypass).toEqual({ entra: 1, key: 2 });
    expect(report.unattributed).toEqual(once.unattributed);
    expect(report.join.matched + report.join.noDiagnostics).toBeGreaterThan(0);
    expect(report.unattributed.requests).toBeGreaterThan(0);
  });

  it("counts no record of the gateway's own identity as a bypass call: a retried attempt or a lost event went through the gateway", () => {
    const records = [
      { gateway: 'bypass' as const, objectId: 'A1B2C3D4-0000-4000-8000-000000000001' },
      { gateway: 'bypass' as const, objectId: 'e5f6a7b8-0000-4000-8000-000000000002' },
      { gateway: 'bypass' as const, objectId: '' },
    ];
    const tile = trafficTile(`${DAY}T03`, [], records, { gatewayObjectIds: new Set(['a1b2c3d4-0000-4000-8000-000000000001']) });
    expect(tile.bypass).toEqual({ entra: 1, key: 1 });
  });

  it('reads one partition per day of the range, whatever the number of requests', async () => {
    const aggregates = new MemoryAggregateStore();
    await aggregates.upsertTrafficTiles(tiles);
    const days: string[] = [];
    const counting = { listTrafficTiles: (day: string) => (days.push(day), aggregates.listTrafficTiles(day)) };
    const range = { from: new Date(`${DAY}T00:00:00Z`), to: new Date('2026-10-18T00:00:00Z') };
    const report = await trafficReport(counting, range);
    expect(days).toEqual([DAY, '2026-10-16', '2026-10-17']);
    expect(report.join.matched + report.join.noDiagnostics).toBe(entries.filter((e) => e.diagnostics !== undefined && e.diagnostics !== null).length);
  });
});
