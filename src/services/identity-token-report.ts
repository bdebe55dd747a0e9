import { TokenTotalsByIdentity, type TokenTotals } from '../domain/token-totals.js';
import type { IdentityOptions } from '../domain/identity.js';
import type { LedgerStore, StoreOptions } from '../ports/ledger-store.js';

export interface IdentityTokenReport {
  readonly rows: TokenTotals[];
  readonly entries: number;
}

/** Token use per identity over [from, to), read from the ledger page by page. */
export async function identityTokenReport(
  ledger: LedgerStore,
  range: { from: Date; to: Date },
  options: IdentityOptions & StoreOptions = {},
): Promise<IdentityTokenReport> {
  const totals = new TokenTotalsByIdentity(options);
  let entries = 0;
  for await (const page of ledger.listEntries(range, options)) {
    for (const entry of page) totals.add(entry);
    entries += page.length;
  }
  return { rows: totals.rows(), entries };
}
