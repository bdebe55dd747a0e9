import { TRAFFIC_TILE_SCHEMA, type TrafficTile } from '../contracts/traffic-tile.js';
import type { LedgerEntry } from '../contracts/ledger-entry.js';
import type { StoredDiagnostic } from '../contracts/diagnostic-record.js';
import { isBypassCall, resolveIdentity, UNATTRIBUTED, type IdentityOptions } from './identity.js';
import type { JoinCounts } from './join.js';

export interface TrafficReport {
  readonly from: string;
  readonly to: string;
  readonly join: JoinCounts;
  /**
   * Direct calls that skipped the gateway: with an Entra ID token (objectId set) or an account key (empty objectId).
   * Records of the gateway's own identity are not among them (see `isGatewayIdentity`).
   */
  readonly bypass: { readonly entra: number; readonly key: number };
  readonly unattributed: { readonly requests: number; readonly promptTokens: number; readonly completionTokens: number };
}

export const trafficTileId = (hour: string) => `traffic:${hour}`;
export const trafficPartition = (day: string) => `traffic:${day}`;

/** The traffic tile of one hour (`YYYY-MM-DDTHH`) from that hour's ledger entries and diagnostic records. */
export function trafficTile(hour: string, entries: Iterable<LedgerEntry>, records: Iterable<Pick<StoredDiagnostic, 'gateway' | 'objectId'>>, identity: IdentityOptions = {}): TrafficTile {
  const join = { matched: 0, noDiagnostics: 0 };
  const unattributed = { requests: 0, promptTokens: 0, completionTokens: 0 };
  for (const entry of entries) {
    if (entry.diagnostics?.status === 'matched') join.matched++;
    else if (entry.diagnostics?.status === 'none') join.noDiagnostics++;
    if (resolveIdentity(entry, identity).key === UNATTRIBUTED) {
      unattributed.requests++;
      unattributed.promptTokens += entry.tokens.promptTokens;
      unattributed.completionTokens += entry.tokens.completionTokens;
    }
  }
  const bypass = { entra: 0, key: 0 };
  for (const record of records) if (isBypassCall(record, identity)) bypass[record.objectId ? 'entra' : 'key']++;
  return { id: trafficTileId(hour), pk: trafficPartition(hour.slice(0, 10)), schema: TRAFFIC_TILE_SCHEMA, hour, join, bypass, unattributed };
}

/** The traffic of [from, to) (whole hours): the sum of the tiles of its hours. */
export function sumTraffic(tiles: Iterable<TrafficTile>, range: { from: Date; to: Date }): TrafficReport {
  const join = { matched: 0, noDiagnostics: 0, bypass: 0 };
  const bypass = { entra: 0, key: 0 };
  const unattributed = { requests: 0, promptTokens: 0, completionTokens: 0 };
  for (const tile of tiles) {
    const start = Date.parse(`${tile.hour}:00:00Z`);
    if (start < range.from.getTime() || start >= range.to.getTime()) continue;
    join.matched += tile.join.matched;
    join.noDiagnostics += tile.join.noDiagnostics;
    bypass.entra += tile.bypass.entra;
    bypass.key += tile.bypass.key;
    unattributed.requests += tile.unattributed.requests;
    unattributed.promptTokens += tile.unattributed.promptTokens;
    unattributed.completionTokens += tile.unattributed.completionTokens;
  }
  join.bypass = bypass.entra + bypass.key;
  return { from: range.from.toISOString(), to: range.to.toISOString(), join, bypass, unattributed };
}
