import { readCostExport } from '../adapters/files/cost-export.js';
import type { DirectoryRow } from '../contracts/directory.js';
import type { LedgerEntry } from '../contracts/ledger-entry.js';
import type { PriceTable } from '../contracts/price-table.js';
import { PriceMatcher, splitTokens } from '../domain/price-matching.js';
import { isPerCallRequest, pricingModelOf } from '../domain/chargeback.js';
import { allocationRowOf } from '../domain/focus-cost-rows.js';
import { isGatewayIdentity, resolveIdentity, type IdentityOptions } from '../domain/identity.js';
import type { ReasonCount } from '../domain/dead-letter-reasons.js';
import { allocateInvoice, type AllocationUsage, type BypassCall, type RowAllocation } from '../domain/invoice-allocation.js';
import { joinAll, joinKey, recordsByCorrelationId } from '../domain/join.js';
import type { MeterKind } from '../domain/retail-price-meters.js';
import { readArchiveFolder, readDirectoryFile, readEventsFile, readLlmUsage } from './analyze-files.js';
import { withLlmUsage } from './join-diagnostics.js';

export interface AllocateInput {
  readonly costExportFile: string;
  readonly eventsFile: string;
  readonly diagnosticsDir: string;
  readonly directoryCsv?: string;
  /**
   * An `ApiManagementGatewayLlmLog` export: streams cut short (no usage in their events) take its tokens, as the
   * pipeline's join does. Without it they count no tokens.
   */
  readonly llmLogFile?: string;
  readonly identity?: IdentityOptions;
  /** A price table whose `provisioned` entries name the PTU deployments; their requests share provisioned rows. */
  readonly prices?: PriceTable;
}

export interface AllocateResult {
  readonly allocations: readonly RowAllocation[];
  readonly directory: ReadonlyMap<string, DirectoryRow>;
  /** Cost rows of other services, not allocated. */
  readonly skippedRows: number;
  /** Gateway requests with no diagnostic record: their resource is unknown, so no cost row can be theirs. */
  readonly unplacedRequests: number;
  readonly bypassCalls: number;
  /** Why the events file's distinct dead letters were rejected (see `AnalyzeResult.deadLetterReasons`). */
  readonly deadLetterReasons: readonly ReasonCount[];
}

/** A request's tokens by meter kind. Audio tokens are part of prompt and completion tokens; the rest is text. */
export function tokensByKind(entry: LedgerEntry, model: string | null): Partial<Record<MeterKind, bigint>> {
  const split = splitTokens(entry.tokens);
  return {
    input: BigInt(split.uncachedInput),
    cachedInput: BigInt(split.cachedInput),
    output: BigInt(split.output),
    audioInput: BigInt(split.audioInput),
    audioOutput: BigInt(split.audioOutput),
    perImage: isPerCallRequest(entry, model) ? 1n : 0n,
  };
}

/** How the requests of a period are placed on the resources their cost rows bill. */
export interface AllocationInputs {
  readonly usage: AllocationUsage[];
  readonly bypass: BypassCall[];
  /** Gateway requests with no diagnostic record: their resource is unknown, so no cost row can be theirs. */
  readonly unplacedRequests: number;
}

export interface AllocationInputOptions {
  readonly identity?: IdentityOptions | undefined;
  /** A price table whose `provisioned` entries name the PTU deployments; their requests share provisioned rows. */
  readonly prices?: PriceTable | undefined;
}

/**
 * The usage a cost export is allocated over: each request placed on an ARM resource by its joined `RequestResponse`
 * record's `resourceId` (the Azure OpenAI account that served it), found by the join key among `resourceOf`; a
 * request without a record cannot be placed and is counted. `bypass` are the records without a gateway request; those
 * of the gateway's own identity did not skip it and are left out.
 */
export function allocationInputs(
  entries: Iterable<LedgerEntry>,
  resourceOf: ReadonlyMap<string, { readonly resourceId: string }>,
  bypass: Iterable<BypassCall & { readonly objectId?: string | null }>,
  options: AllocationInputOptions = {},
): AllocationInputs {
  const matcher = options.prices ? new PriceMatcher(options.prices) : null;
  const namesProvisioned = matcher !== null && options.prices!.provisioned.length > 0;
  const usage: AllocationUsage[] = [];
  let unplacedRequests = 0;
  for (const entry of entries) {
    const key = joinKey(entry);
    const record = key === null ? undefined : resourceOf.get(key);
    if (!record) {
      unplacedRequests++;
      continue;
    }
    const model = pricingModelOf(entry);
    const identity = resolveIdentity(entry, options.identity);
    usage.push({ identity: identity.key, attributed: identity.kind !== 'unattributed', time: entry.time, resourceId: record.resourceId, model: model ?? '', tokens: tokensByKind(entry, model), ...(namesProvisioned ? { provisioned: matcher!.provisionedFor(entry) !== null } : {}) });
  }
  const calls = [...bypass].filter((r) => !isGatewayIdentity(r.objectId, options.identity)).map((r) => ({ time: r.time, resourceId: r.resourceId }));
  return { usage, bypass: calls, unplacedRequests };
}

/**
 * Allocates the Azure OpenAI rows of a cost export to identities, offline: the events file's requests, joined to the
 * archive folder's records (see `allocationInputs`).
 */
export async function allocateFiles(input: AllocateInput): Promise<AllocateResult> {
  const costExport = await readCostExport(input.costExportFile, allocationRowOf);
  const { entries, deadLetterReasons } = await readEventsFile(input.eventsFile);
  const { records } = await readArchiveFolder(input.diagnosticsDir);
  const llmUsage = input.llmLogFile ? await readLlmUsage(input.llmLogFile) : null;
  const requests = llmUsage ? [...entries.values()].map((entry) => withLlmUsage(entry, llmUsage.get(entry.gatewayRequestId)) ?? entry) : entries.values();
  const joined = joinAll(requests, records);
  const inputs = allocationInputs(joined.entries, recordsByCorrelationId(records), joined.bypass, input);
  const { rows } = costExport;
  const directory = input.directoryCsv ? await readDirectoryFile(input.directoryCsv) : new Map<string, DirectoryRow>();
  return {
    allocations: allocateInvoice(rows, inputs.usage, inputs.bypass),
    directory,
    skippedRows: costExport.rowsRead - rows.length,
    unplacedRequests: inputs.unplacedRequests,
    bypassCalls: inputs.bypass.length,
    deadLetterReasons,
  };
}
