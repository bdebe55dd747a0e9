import type { JoinCounts } from '../domain/join.js';
import { resolveIdentity, UNATTRIBUTED, type IdentityOptions } from '../domain/identity.js';
import type { DiagnosticsStore } from '../ports/diagnostics-store.js';
import type { LedgerStore, StoreOptions } from '../ports/ledger-store.js';

export interface TrafficReport {
  readonly from: string;
  readonly to: string;
  readonly join: JoinCounts;
  /** Direct calls that skipped the gateway: with an Entra ID token (objectId set) or an account key (empty objectId). */
  readonly bypass: { readonly entra: number; readonly key: number };
  readonly unattributed: { readonly requests: number; readonly promptTokens: number; readonly completionTokens: number };
}

/** Join outcomes, bypass traffic and unattributed use over [from, to), in one pass over each store. */
export async function trafficReport(
  ledger: LedgerStore,
  diagnostics: DiagnosticsStore,
  range: { from: Date; to: Date },
  options: StoreOptions & IdentityOptions = {},
): Promise<TrafficReport> {
  let matched = 0;
  let noDiagnostics = 0;
  const unattributed = { requests: 0, promptTokens: 0, completionTokens: 0 };
  for await (const page of ledger.listEntries(range, options)) {
    for (const entry of page) {
      if (entry.diagnostics?.status === 'matched') matched++;
      else if (entry.diagnostics?.status === 'none') noDiagnostics++;
      if (resolveIdentity(entry, options).key === UNATTRIBUTED) {
        unattributed.requests++;
        unattributed.promptTokens += entry.tokens.promptTokens;
        unattributed.completionTokens += entry.tokens.completionTokens;
      }
    }
  }
  const bypass = { entra: 0, key: 0 };
  for await (const page of diagnostics.listRecords(range, options)) {
    for (const record of page.filter((r) => r.gateway === 'bypass')) bypass[record.objectId ? 'entra' : 'key']++;
  }
  return { from: range.from.toISOString(), to: range.to.toISOString(), join: { matched, noDiagnostics, bypass: bypass.entra + bypass.key }, bypass, unattributed };
}
