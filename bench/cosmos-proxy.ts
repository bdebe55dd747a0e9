/**
 * A counting http proxy in front of the local Cosmos DB server. It forwards every request unchanged and
 * classifies it the way the server routes it: a POST with `x-ms-documentdb-isquery` (or a query content type) is
 * a query, a POST with `x-ms-cosmos-is-batch-request` is a bulk/batch request whose body is a JSON array of
 * operations (each counted by its `operationType`), any other POST/PUT/PATCH/DELETE is one write, GET/HEAD a read.
 */
import { Agent, createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CosmosCounts {
  /** HTTP requests by method, as the server's own counter sees them. */
  readonly byMethod: Record<string, number>;
  readonly queries: number;
  readonly bulkRequests: number;
  /** Operations inside bulk bodies, by operationType (Create, Upsert, Delete, Read, Replace, Patch). */
  readonly bulkOperations: Record<string, number>;
  /** POST (not query, not bulk), PUT, PATCH and DELETE requests: one write each. */
  readonly singleWrites: number;
  /** Writes by container (`ledger`, `deadletters`, …): bulk write operations plus single writes. */
  readonly writesByContainer: Record<string, number>;
}

export const WRITE_OPERATION_TYPES = new Set(['Create', 'Upsert', 'Replace', 'Patch', 'Delete']);

export function emptyCounts(): CosmosCounts {
  return { byMethod: {}, queries: 0, bulkRequests: 0, bulkOperations: {}, singleWrites: 0, writesByContainer: {} };
}

/** Write operations: single writes plus bulk operations that write (bulk `Read`s are reads). */
export function writeOperations(counts: CosmosCounts): number {
  let writes = counts.singleWrites;
  for (const [type, n] of Object.entries(counts.bulkOperations)) if (WRITE_OPERATION_TYPES.has(type)) writes += n;
  return writes;
}

/** The literal reading: every POST/PUT/PATCH/DELETE request that is not a bulk request (queries included), plus every bulk operation. */
export function nonGetRequestsPlusBulkOperations(counts: CosmosCounts): number {
  const nonGet = Object.entries(counts.byMethod)
    .filter(([method]) => method !== 'GET' && method !== 'HEAD')
    .reduce((sum, [, n]) => sum + n, 0);
  const bulkOps = Object.values(counts.bulkOperations).reduce((a, b) => a + b, 0);
  return nonGet - counts.bulkRequests + bulkOps;
}

export function difference(after: CosmosCounts, before: CosmosCounts): CosmosCounts {
  const sub = (a: Record<string, number>, b: Record<string, number>) => Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v - (b[k] ?? 0)]).filter(([, v]) => v !== 0));
  return {
    byMethod: sub(after.byMethod, before.byMethod),
    queries: after.queries - before.queries,
    bulkRequests: after.bulkRequests - before.bulkRequests,
    bulkOperations: sub(after.bulkOperations, before.bulkOperations),
    singleWrites: after.singleWrites - before.singleWrites,
    writesByContainer: sub(after.writesByContainer, before.writesByContainer),
  };
}

export function snapshot(counts: CosmosCounts): CosmosCounts {
  return structuredClone(counts);
}

const isTrue = (value: string | string[] | undefined) => String(value ?? '').toLowerCase() === 'true';
const add = (record: Record<string, number>, key: string, n = 1) => {
  record[key] = (record[key] ?? 0) + n;
};

function containerOf(url: string): string {
  return /\/colls\/([^/?]+)/.exec(url)?.[1] ?? '(account)';
}

export interface CountingProxy {
  readonly endpoint: string;
  readonly counts: CosmosCounts;
  stop(): Promise<void>;
}

export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const counts = emptyCounts() as { -readonly [K in keyof CosmosCounts]: CosmosCounts[K] };
  const count = (req: IncomingMessage, body: Buffer) => {
    const method = req.method ?? 'UNKNOWN';
    add(counts.byMethod, method);
    if (method === 'GET' || method === 'HEAD') return;
    const container = containerOf(req.url ?? '');
    if (method === 'POST' && (isTrue(req.headers['x-ms-documentdb-isquery']) || req.headers['content-type'] === 'application/query+json')) {
      counts.queries++;
      return;
    }
    if (method === 'POST' && isTrue(req.headers['x-ms-cosmos-is-batch-request'])) {
      counts.bulkRequests++;
      const operations = JSON.parse(body.toString('utf8')) as { operationType?: string }[];
      for (const op of operations) {
        const type = op.operationType ?? 'unknown';
        add(counts.bulkOperations, type);
        if (WRITE_OPERATION_TYPES.has(type)) add(counts.writesByContainer, container);
      }
      return;
    }
    counts.singleWrites++;
    add(counts.writesByContainer, container);
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      count(req, body);
      const forward = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host }, agent },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on('error', (error) => {
        res.statusCode = 502;
        res.end(String(error));
      });
      forward.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    counts,
    stop: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
