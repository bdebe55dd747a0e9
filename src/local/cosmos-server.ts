import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { createHttpServer } from '@vercel/cosmosdb-server';

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

export interface LocalCosmos {
  readonly endpoint: string;
  /** Any key is accepted by the local server; this one only names itself. */
  readonly key: string;
  /** Requests served so far, by method (to prove that writes are batched). */
  readonly requests: Readonly<Record<string, number>>;
  stop(): Promise<void>;
}

/** Starts the Cosmos DB server in this process over plain http on a free loopback port. */
export async function startLocalCosmos(): Promise<LocalCosmos> {
  makeLocalQueriesLinear();
  const server = createHttpServer({ keepAlive: true });
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
