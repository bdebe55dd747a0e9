import type { DirectoryRow } from '../contracts/directory.js';
import type { StoredDiagnostic } from '../contracts/diagnostic-record.js';
import type { LedgerEntry } from '../contracts/ledger-entry.js';
import { canSeeIdentity, type ChargebackScope } from '../domain/access.js';
import type { IdentityOptions } from '../domain/identity.js';
import { ledgerDocument, ledgerPartition, type LedgerDocument } from '../domain/ledger.js';
import { formatPicodollars } from '../domain/money.js';
import { describeRequest, matchesFilter, requestCost, requestItem, type CostBasis, type RequestFilter, type RequestItem } from '../domain/request-drilldown.js';
import type { Pricing } from '../domain/usage-pricing.js';
import type { DiagnosticsStore } from '../ports/diagnostics-store.js';
import type { LedgerCursor, LedgerStore, StoreOptions } from '../ports/ledger-store.js';

export interface RequestDrilldownPorts {
  readonly ledger: Pick<LedgerStore, 'listEntryPage' | 'readEntries' | 'getEntriesByGatewayRequestIds' | 'getEntriesByApimRequestIds'>;
  readonly diagnostics: Pick<DiagnosticsStore, 'getRecords'>;
  readonly directory: ReadonlyMap<string, DirectoryRow>;
  readonly pricing: Pricing;
  readonly currency: string;
  /** The rollup's identity options, so a request resolves to the identity its report cell has. */
  readonly identity?: IdentityOptions;
}

export interface RequestsQuery {
  readonly from: Date;
  readonly to: Date;
  readonly filter: RequestFilter;
  readonly pageSize: number;
  /** Where the previous page stopped; null for the first page. */
  readonly after: LedgerCursor | null;
  /** Whose requests the caller may see (as in the chargeback report). */
  readonly scope: ChargebackScope;
}

export interface RequestsPage {
  readonly items: RequestItem[];
  /** Where the next page resumes, or null when the period has been read to its end. */
  readonly next: LedgerCursor | null;
}

/** Ledger entries read per store call. */
const READ_CHUNK = 1000;
/** Ledger entries examined per page at most: a narrow filter gives short (even empty) pages, never an unbounded call. */
export const MAX_SCANNED_PER_PAGE = 20_000;

/**
 * One page of the requests of a period that the caller may see and that match the filter: at most `pageSize`
 * items, after examining at most `MAX_SCANNED_PER_PAGE` entries. A page may be short while `next` is set.
 */
export async function listRequests(ports: RequestDrilldownPorts, query: RequestsQuery, options: StoreOptions = {}): Promise<RequestsPage> {
  const view = { directory: ports.directory, prices: ports.pricing.matcher, priceTable: ports.pricing.version, currency: ports.currency, identity: ports.identity };
  const items: RequestItem[] = [];
  let position = query.after;
  let scanned = 0;
  // The first read asks for what the page still needs; a filter that rejects much doubles each read after it.
  for (let chunk = query.pageSize; items.length < query.pageSize && scanned < MAX_SCANNED_PER_PAGE; chunk *= 2) {
    const page = await ports.ledger.listEntryPage(query, position, Math.min(chunk, READ_CHUNK, MAX_SCANNED_PER_PAGE - scanned), options);
    for (const entry of page.entries) {
      scanned += 1;
      const described = describeRequest(entry, view);
      if (canSeeIdentity(query.scope, described.identity.key) && matchesFilter(described, query.filter)) {
        items.push(requestItem(entry, described, view));
        // The page ends at this entry: it is where the next one resumes (its partition is a hash of its id).
        if (items.length === query.pageSize) return { items, next: page.next === null && entry === page.entries[page.entries.length - 1] ? null : { pk: ledgerPartition(entry.id), id: entry.id } };
      }
    }
    if (page.next === null) return { items, next: null };
    position = page.next;
  }
  return { items, next: position };
}

/** Ledger documents for a request id: the document id itself, APIM's gateway request id, or the backend's `apim-request-id`. */
async function findEntries(ports: RequestDrilldownPorts, requestId: string, options: StoreOptions): Promise<LedgerEntry[]> {
  const id = requestId.toLowerCase();
  const byId = await ports.ledger.readEntries([{ id }], options);
  if (byId.length > 0) return byId.map((s) => s.entry);
  const byGateway = await ports.ledger.getEntriesByGatewayRequestIds([requestId], options);
  if (byGateway.length > 0) return byGateway;
  return (await ports.ledger.getEntriesByApimRequestIds([requestId], options)).map((s) => s.entry);
}

/** Bigints (prices in micros, costs in picodollars) as decimal strings, for JSON. */
function withDecimalStrings<T>(value: T): unknown {
  return JSON.parse(JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
}

export interface RequestTrace {
  /** The ledger document as stored (its partition key included), with the parts it was merged from (`parts`, when more than one source told it). */
  readonly request: LedgerDocument;
  /** The Azure OpenAI `RequestResponse` record joined by the entry's `apimRequestId`, or null. */
  readonly diagnostics: StoredDiagnostic | null;
  readonly identity: ReturnType<typeof describeRequest>['identity'] & {
    readonly displayName: string | null;
    readonly team: string;
    readonly costCenter: string;
  };
  readonly cost: {
    readonly basis: CostBasis;
    readonly costPicodollars: string;
    readonly cost: string;
    readonly currency: string;
    /** The price entry applied (prices in micros as decimal strings), or null. */
    readonly price: unknown;
    /** The cost line by line (picodollars as decimal strings) and the tokens each line charges, or null. */
    readonly lines: unknown;
  };
  readonly priceVersion: string | null;
  readonly priceTable: string;
  /** Other ledger documents the id also names (rare: a backend id shared by two gateway requests). */
  readonly alsoMatched: readonly string[];
}

/**
 * One request end to end, found by any of its ids, or null when there is none the caller may see (a caller
 * without `Chargeback.ReadAll` sees only their own identity's requests; others' are not acknowledged to exist).
 */
export async function traceRequest(ports: RequestDrilldownPorts, requestId: string, scope: ChargebackScope, options: StoreOptions = {}): Promise<RequestTrace | null> {
  const found = (await findEntries(ports, requestId, options))
    .map((entry) => ({ entry, described: describeRequest(entry, ports) }))
    .filter(({ described }) => canSeeIdentity(scope, described.identity.key))
    .sort((a, b) => (a.entry.id < b.entry.id ? -1 : a.entry.id > b.entry.id ? 1 : 0));
  const first = found[0];
  if (!first) return null;
  const { entry, described } = first;
  const records = entry.apimRequestId ? await ports.diagnostics.getRecords([entry.apimRequestId], options) : [];
  const cost = requestCost(entry, ports.pricing.matcher);
  return {
    request: ledgerDocument(entry),
    diagnostics: records[0] ?? null,
    identity: { ...described.identity, displayName: described.displayName, team: described.team, costCenter: described.costCenter },
    cost: {
      basis: cost.basis,
      costPicodollars: cost.costPico.toString(),
      cost: formatPicodollars(cost.costPico, 6),
      currency: ports.currency,
      price: cost.price ? withDecimalStrings(cost.price) : null,
      lines: cost.priced ? withDecimalStrings({ cost: cost.priced.lines, tokens: cost.priced.tokens }) : null,
    },
    priceVersion: cost.priceVersion,
    priceTable: ports.pricing.version,
    alsoMatched: found.slice(1).map((f) => f.entry.id),
  };
}
