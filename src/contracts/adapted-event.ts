import type { GatewayEventV1Input } from './gateway-event.js';

/** Where an accepted event came from; kept on the ledger entry so every number can be traced. */
export type EventSource = 'gateway-v1' | 'apim-gateway-logs' | 'apim-llm-log' | 'ai-hub-gateway';

/** A source's payload mapped onto gateway event v1, before v1 validation. */
export interface AdaptedEvent {
  readonly source: EventSource;
  /** The source's own id for the request (used for the ledger id when there is no `apim-request-id`). */
  readonly sourceId: string;
  readonly event: GatewayEventV1Input;
  /** v1 fields this source cannot supply (dotted paths). */
  readonly missing: readonly string[];
}
