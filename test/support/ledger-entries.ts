import { LEDGER_ENTRY_SCHEMA, type LedgerEntry } from '../../src/contracts/ledger-entry.js';

export const noCaller: LedgerEntry['caller'] = { oid: null, tid: null, appid: null, idtyp: null, upn: null, sub: null };

/** The caller of a request made by the Entra ID user with object id `oid`. */
export function userCaller(oid: string): LedgerEntry['caller'] {
  return { ...noCaller, oid, idtyp: 'user' };
}

/** A complete ledger entry of one gateway-v1 request: no tokens, no caller, not joined yet. */
export function ledgerEntry(overrides: Partial<LedgerEntry> = {}): LedgerEntry {
  const time = overrides.time ?? '2026-03-10T09:15:00.000Z';
  return {
    id: 'req-1',
    schema: LEDGER_ENTRY_SCHEMA,
    source: 'gateway-v1',
    missing: [],
    time,
    gatewayRequestId: 'gw-1',
    apimRequestId: 'req-1',
    gateway: { service: 'contoso-ai-gateway', regionCode: 'westeurope', backendId: 'aoai-eastus' },
    backendRegion: 'eastus',
    caller: noCaller,
    subscriptionId: null,
    productId: null,
    deployment: 'chat-prod',
    model: 'gpt-4o-mini-2024-07-18',
    operation: 'ChatCompletions_Create',
    stream: false,
    status: 200,
    tokens: { source: 'gateway', promptTokens: 0, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 },
    timings: { totalMs: 900, backendMs: 850, ttftMs: null },
    rateLimit: { remainingRequests: null, remainingTokens: null },
    diagnostics: null,
    ...overrides,
  };
}
