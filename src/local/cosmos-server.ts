import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHttpServer } from '@vercel/cosmosdb-server';
import { isDocumentId, MAX_ID_BYTES, MAX_ITEM_BYTES, MAX_PARTITION_KEY_BYTES } from '../adapters/cosmos/bulk-write.js';

/**
 * The server's SQL engine (@zeit/cosmosdb-query) compiles `FROM c` into `reduce(($, c) => [...$, {c}], [])`,
 * which copies the accumulator for every document: quadratic in the container's size (a query over 20,000
 * documents takes seconds). Rewriting that one expression to push onto the fresh accumulator gives the same
 * rows in linear time. These fixes touch only the local stand-in's query engine, never production paths.
 */
function makeLocalQueriesLinear(): void {
  const requireFromServer = createRequire(createRequire(import.meta.url).resolve('@vercel/cosmosdb-server'));
  const createQuery = (requireFromServer('@zeit/cosmosdb-query') as { default: (sql: string) => object }).default;
  const prototype = Object.getPrototypeOf(createQuery('SELECT * FROM c')) as object;
  const original = Object.getOwnPropertyDescriptor(prototype, 'code');
  if (!original?.get || (original.get as { linear?: boolean }).linear) return;
  const originalGet = original.get;
  const get = function (this: object): string {
    return (originalGet.call(this) as string).replace(/\[\.\.\.\$, (\{[^{}]*\})\] : \$/g, '($.push($1), $) : $');
  };
  Object.defineProperty(get, 'linear', { value: true });
  Object.defineProperty(prototype, 'code', { ...original, get });

  // `ARRAY_CONTAINS(@ids, c.id)` scans the id list for every document; look strings up in a Set built once
  // per parameter array instead (the same array object serves every document of one query).
  const builtins = requireFromServer('@zeit/cosmosdb-query/lib/builtin-functions') as Record<string, (...args: unknown[]) => unknown>;
  const arrayContains = builtins['ARRAY_CONTAINS']!;
  const sets = new WeakMap<readonly unknown[], Set<string> | null>();
  builtins['ARRAY_CONTAINS'] = (...args: unknown[]) => {
    const [list, value] = args;
    if (args.length === 2 && Array.isArray(list) && typeof value === 'string') {
      let set = sets.get(list);
      if (set === undefined) {
        set = list.every((v) => typeof v === 'string') ? new Set(list as string[]) : null;
        sets.set(list, set);
      }
      if (set) return set.has(value);
    }
    return arrayContains(...args);
  };
}

/**
 * Documented per-item limits of Azure Cosmos DB ("Azure Cosmos DB service quotas", learn.microsoft.com
 * azure/cosmos-db/concepts-limits, per-item limits): an item is at most 2 MB as the UTF-8 length of its JSON
 * representation (Azure answers 413 RequestEntityTooLarge), a partition key value at most 2,048 bytes (400), an id
 * at most 1,023 bytes, and the service refuses '/' and '\\' in an id; '?' and '#' are restricted too (the .NET
 * SDK's `Resource.Id` reference) because ids are addressed in URLs. Older releases of that page gave 255
 * characters for the id, the tightest bound any account has had.
 */
export { MAX_ITEM_BYTES };

interface OperationResult {
  statusCode: number;
  body?: unknown;
}
type DocumentOperation = (collection: unknown, input: { id?: unknown; resourceBody?: unknown }) => OperationResult;

/** An Azure-shaped error body: `code` and a `message` holding the service's `{"Errors":[…]}` text. */
function azureError(code: string, error: string): { code: string; message: string } {
  return { code, message: `Message: ${JSON.stringify({ Errors: [error] })}\r\nActivityId: 00000000-0000-0000-0000-000000000000, Request URI: /apps/local/services/local/partitions/local/replicas/local` };
}

/** The answer Azure gives an operation on an id no item can have, or null. */
function idViolation(id: unknown): OperationResult | null {
  if (typeof id !== 'string' || id === '' || isDocumentId(id)) return null;
  return { statusCode: 400, body: azureError('BadRequest', `The input name '${id.slice(0, 300)}' is invalid. Ensure to provide a unique non-empty string less than '${MAX_ID_BYTES + 1}' characters.`) };
}

/** The answer Azure gives an item that breaks a per-item limit, or null when the item is within them. */
export function itemLimitViolation(item: unknown): OperationResult | null {
  if (item === null || typeof item !== 'object') return null;
  const violation = idViolation((item as { id?: unknown }).id);
  if (violation) return violation;
  // Every container of TokenLedger is partitioned on /pk.
  const pk = (item as { pk?: unknown }).pk;
  if (typeof pk === 'string' && Buffer.byteLength(pk, 'utf8') > MAX_PARTITION_KEY_BYTES) {
    return { statusCode: 400, body: azureError('BadRequest', `Partition key value is ${Buffer.byteLength(pk, 'utf8')} bytes, over the maximum of ${MAX_PARTITION_KEY_BYTES}.`) };
  }
  if (Buffer.byteLength(JSON.stringify(item), 'utf8') > MAX_ITEM_BYTES) return { statusCode: 413, body: azureError('RequestEntityTooLarge', 'Request size is too large') };
  return null;
}

/**
 * The server accepts items of any size and any id; Azure does not. Every write (single create, upsert and replace,
 * and each operation of a bulk or batch request, which all go through these functions) is checked first, so a
 * bulk answers 400 for an operation with a bad id only, as Azure does. An item over the size limit never reaches
 * these checks inside a bulk: the request carrying it is refused whole (`refuseLargeRequests`). A read or delete
 * of an id no item can have answers 400 too: Azure does so for bulk reads and deletes of such an id
 * (github.com/Azure/azure-cosmos-dotnet-v3 issues 3456 and 4636), where the server answered 404.
 */
function enforceItemLimits(): void {
  const requireFromServer = createRequire(createRequire(import.meta.url).resolve('@vercel/cosmosdb-server'));
  const operations = requireFromServer('@vercel/cosmosdb-server/lib/handler/_document-operations') as Record<string, DocumentOperation & { limited?: boolean }>;
  type Check = (input: Parameters<DocumentOperation>[1]) => OperationResult | null;
  const ofItem: Check = (input) => itemLimitViolation(input.resourceBody);
  const ofId: Check = (input) => idViolation(input.id);
  const checks: Record<string, Check> = { createOperation: ofItem, upsertOperation: ofItem, replaceOperation: ofItem, readOperation: ofId, deleteOperation: ofId };
  for (const [name, check] of Object.entries(checks)) {
    const original = operations[name]!;
    if (original.limited) continue;
    const limited: DocumentOperation = (collection, input) => check(input) ?? original(collection, input);
    operations[name] = Object.assign(limited, { limited: true });
  }
}

export interface LocalCosmos {
  readonly endpoint: string;
  /** Any key is accepted by the local server; this one only names itself. */
  readonly key: string;
  /** Requests served so far, by method (to prove that writes are batched). */
  readonly requests: Readonly<Record<string, number>>;
  stop(): Promise<void>;
}

/**
 * Azure refuses a request whose body is over the 2 MB limit with 413 RequestEntityTooLarge, a bulk request too:
 * the whole request, not the operation inside it that is too large.
 */
function refuseLargeRequests(server: ReturnType<typeof createHttpServer>): void {
  const handlers = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (Number(req.headers['content-length'] ?? 0) <= MAX_ITEM_BYTES) {
      for (const handler of handlers) handler.call(server, req, res);
      return;
    }
    req.resume();
    res.writeHead(413, { 'content-type': 'application/json' });
    res.end(JSON.stringify(azureError('RequestEntityTooLarge', 'Request size is too large')));
  });
}

/** Azure answers at most 4 MB per request ("Azure Cosmos DB service quotas", per-request limits). */
export const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/**
 * A bulk request whose results would pass the response limit is answered in part by Azure: the operations that fit,
 * and 413 with substatus 3402 for the rest, which it did not run and the client sends again (the .NET SDK's
 * `BulkExecutionRetryPolicy`; Azure/azure-cosmos-dotnet-v3#2124). The server answers every result. Only reads can
 * pass the limit: a bulk request is at most 2 MB, so its writes' results are too; cutting the answer after the
 * server ran them leaves nothing run that Azure would not have run.
 */
function cutLargeBulkAnswers(server: ReturnType<typeof createHttpServer>): void {
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const header = (name: string) => String(req.headers[name]).toLowerCase() === 'true';
    // A transactional batch is all or nothing; only a bulk request is answered in part.
    if (req.method !== 'POST' || !header('x-ms-cosmos-is-batch-request') || header('x-ms-cosmos-batch-atomic')) return;
    const end = res.end.bind(res) as (body?: string) => ServerResponse;
    res.end = ((body?: unknown) => {
      if (typeof body !== 'string' || res.statusCode >= 300 || Buffer.byteLength(body, 'utf8') <= MAX_RESPONSE_BYTES) return end(body as string | undefined);
      let bytes = 0;
      const results = (JSON.parse(body) as unknown[]).map((result) => {
        bytes += Buffer.byteLength(JSON.stringify(result), 'utf8');
        return bytes <= MAX_RESPONSE_BYTES ? result : { statusCode: 413, subStatusCode: 3402, requestCharge: 0 };
      });
      res.statusCode = 207;
      return end(JSON.stringify(results));
    }) as typeof res.end;
  });
}

/** Starts the Cosmos DB server in this process over plain http on a free loopback port, with Azure's per-item limits. */
export async function startLocalCosmos(): Promise<LocalCosmos> {
  makeLocalQueriesLinear();
  enforceItemLimits();
  const server = createHttpServer({ keepAlive: true });
  refuseLargeRequests(server);
  cutLargeBulkAnswers(server);
  server.keepAliveTimeout = 60_000;
  const requests: Record<string, number> = {};
  server.on('request', (req: { method?: string }) => {
    const method = req.method ?? 'UNKNOWN';
    requests[method] = (requests[method] ?? 0) + 1;
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    key: 'local-cosmos-server-accepts-any-key',
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
