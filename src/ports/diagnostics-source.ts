import type { DiagnosticRecord, RejectedDiagnostic } from '../contracts/diagnostic-record.js';
import type { StoreOptions } from './ledger-store.js';

/** What one incremental read returned, and the watermark to resume from once it has been processed. */
export interface DiagnosticsRead {
  readonly records: readonly DiagnosticRecord[];
  readonly rejected: readonly RejectedDiagnostic[];
  /** Opaque to callers; store it only after the records are safely processed. Null: nothing new. */
  readonly nextWatermark: string | null;
  /** True when more is available right away (the read stopped at its window or size limit). */
  readonly more: boolean;
}

/**
 * A Log Analytics table the workspace does not hold. Azure Monitor creates a table when its first row arrives, so
 * until an Azure OpenAI diagnostic setting has sent a record there is no `AzureDiagnostics` table, and a query of it
 * fails every time (HTTP 400, SEM0100 "Failed to resolve table or column expression named …"). The workspace holds no
 * rows of it: nothing was lost, but nothing can be compared either.
 */
export class MissingTableError extends Error {
  constructor(
    readonly table: string,
    options?: ErrorOptions,
  ) {
    super(`the workspace holds no ${table} table yet (Azure Monitor creates it when its first row arrives)`, options);
    this.name = 'MissingTableError';
  }
}

/**
 * Azure OpenAI `RequestResponse` records arriving over time (Log Analytics by `ingestion_time()`, or the
 * storage archive by blob hour). Diagnostics arrive minutes to hours late: never assume completeness.
 */
export interface DiagnosticsSource {
  readSince(watermark: string | null, options?: StoreOptions): Promise<DiagnosticsRead>;
}

/** Token counts APIM logged for a request (`ApiManagementGatewayLlmLog`), keyed by the gateway's request id. */
export interface LlmUsage {
  readonly gatewayRequestId: string;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly totalTokens: number;
}

export interface LlmUsageSource {
  /** Usage for these gateway request ids (one query per call, never one per id). */
  getUsage(gatewayRequestIds: readonly string[], range: { from: Date; to: Date }, options?: StoreOptions): Promise<LlmUsage[]>;
}

/** Durable watermarks (Azure Table storage in production and locally on Azurite). */
export interface WatermarkWriteOptions extends StoreOptions {
  /** Whether `watermark` lies after `stored`; by default, as text (ISO instants of one form). */
  readonly isLater?: (watermark: string, stored: string) => boolean;
}

export interface WatermarkStore {
  get(name: string, options?: StoreOptions): Promise<string | null>;
  /** Advances a watermark: one later than the stored one (see `isLater`) replaces it; an earlier or equal one changes nothing. */
  set(name: string, watermark: string, options?: WatermarkWriteOptions): Promise<void>;
}
