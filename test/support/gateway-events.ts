/** A gateway event v1 as the APIM policy writes it, request `n` of three callers, with `overrides` on top. */
export function v1Event(n: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schema: 'tokenledger.gateway/v1',
    gatewayRequestId: `gw-${n}`,
    apimRequestId: `0000${String(n).padStart(4, '0')}-aaaa-4bbb-8ccc-000000000000`,
    time: '2026-11-20T10:15:03.120Z',
    gateway: { service: 'contoso-apim', region: 'West Europe', backendId: 'aoai-eastus' },
    backendRegion: 'East US',
    subscriptionId: 'sub-1',
    caller: { oid: `oid-${n % 3}`, tid: 'tenant', idtyp: 'user', upn: `u${n % 3}@contoso.example` },
    deployment: 'gpt-4o-prod',
    model: 'gpt-4o-2024-08-06',
    operation: 'ChatCompletions_Create',
    stream: false,
    status: 200,
    usage: { promptTokens: 100 + n, cachedTokens: 0, completionTokens: 10, reasoningTokens: 0, totalTokens: 110 + n },
    ...overrides,
  };
}
