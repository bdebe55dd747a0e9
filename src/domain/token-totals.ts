import type { LedgerEntry, TokenSource } from '../contracts/ledger-entry.js';
import { resolveIdentity, type IdentityKind, type IdentityOptions } from './identity.js';

export interface TokenTotals {
  readonly identity: string;
  readonly kind: IdentityKind;
  requests: number;
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  reasoningTokens: number;
  readonly tokenSources: Record<TokenSource, number>;
}

/** Accumulates token use per resolved identity; integers only, so sums are exact in any order. */
export class TokenTotalsByIdentity {
  private readonly byIdentity = new Map<string, TokenTotals>();

  constructor(private readonly options: IdentityOptions = {}) {}

  add(entry: LedgerEntry): void {
    const { key, kind } = resolveIdentity(entry, this.options);
    let totals = this.byIdentity.get(key);
    if (!totals) {
      totals = { identity: key, kind, requests: 0, promptTokens: 0, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0, tokenSources: { gateway: 0, 'llm-log': 0, none: 0 } };
      this.byIdentity.set(key, totals);
    }
    totals.requests++;
    totals.promptTokens += entry.tokens.promptTokens;
    totals.cachedTokens += entry.tokens.cachedTokens;
    totals.completionTokens += entry.tokens.completionTokens;
    totals.reasoningTokens += entry.tokens.reasoningTokens;
    totals.tokenSources[entry.tokens.source]++;
  }

  /** Sorted by identity key, so the same ledger always prints the same table. */
  rows(): TokenTotals[] {
    return [...this.byIdentity.values()].sort((a, b) => (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0));
  }
}
