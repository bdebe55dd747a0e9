/**
 * A bulk request to a throttled partition is answered 207 with a 429 and `retryAfterMilliseconds` per operation, and
 * `@azure/cosmos`' `items.bulk` does not retry those (its retry policy sees only the request's own status:
 * Azure/azure-sdk-for-js#29100). The client must wait what the service asked (`x-ms-retry-after-ms`,
 * learn.microsoft.com/rest/api/cosmos-db/http-status-codes-for-cosmosdb) before sending them again.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CosmosClient } from '@azure/cosmos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CosmosAggregateStore } from '../../src/adapters/cosmos/cosmos-aggregate-store.js';
import { CosmosDeadLetterStore } from '../../src/adapters/cosmos/cosmos-dead-letter-store.js';
import { CosmosDiagnosticsStore } from '../../src/adapters/cosmos/cosmos-diagnostics-store.js';
import { CosmosLedgerStore } from '../../src/adapters/cosmos/cosmos-ledger-store.js';
import { CONTAINERS, ensureContainers } from '../../src/config/composition-root.js';
import { startLocalCosmos, type LocalCosmos } from '../../src/local/cosmos-server.js';
import { ingestOrQuarantine, type GuardedIngestPorts } from '../../src/services/ingest-or-quarantine.js';
import type { ReceivedEvent } from '../../src/services/ingest-batch.js';
import { simulateDay } from '../../src/simulator/traffic.js';
import { MemoryQuarantineStore } from '../support/memory-stores.js';

/** What the throttled partition tells the client to wait, per operation and in the header. */
const RETRY_AFTER_MS = 1_500;

interface SeenBulk {
  readonly at: number;
  readonly throttled: boolean;
}

/**
 * A proxy in front of the local Cosmos DB server that plays one partition out of RU for `RETRY_AFTER_MS`: from the
 * first bulk request on the `ledger` container, every bulk request on it within that time is answered as Azure answers a
 * throttled bulk: 207 with one `{statusCode: 429, subStatusCode: 3200, retryAfterMilliseconds}` per operation.
 */
async function startThrottlingProxy(target: string, bulkSeen: SeenBulk[]): Promise<{ url: string; stop: () => Promise<void> }> {
  const upstream = new URL(target);
  let throttleUntil: number | null = null;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const isLedgerBulk = req.method === 'POST' && String(req.headers['x-ms-cosmos-is-batch-request']) === 'true' && /\/colls\/ledger\/docs$/.test(req.url ?? '');
      if (isLedgerBulk) {
        const now = Date.now();
        throttleUntil ??= now + RETRY_AFTER_MS;
        const throttled = now < throttleUntil;
        bulkSeen.push({ at: now, throttled });
        if (throttled) {
          const operations = JSON.parse(body.toString('utf8')) as unknown[];
          const left = Math.max(1, throttleUntil - now);
          res.writeHead(207, {
            'content-type': 'application/json',
            'x-ms-retry-after-ms': String(left),
            'x-ms-substatus': '3200',
            'x-ms-request-charge': '0',
            'x-ms-activity-id': '00000000-0000-0000-0000-000000000429',
          });
          res.end(JSON.stringify(operations.map(() => ({ statusCode: 429, subStatusCode: 3200, requestCharge: 0, retryAfterMilliseconds: left }))));
          return;
        }
      }
      const forward = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on('error', () => res.destroy());
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function events(lines: readonly string[]): ReceivedEvent[] {
  return lines.map((body, i) => ({ body, position: { partitionId: '0', sequenceNumber: i, offset: String(i), enqueuedTimeUtc: null } }));
}

describe('Cosmos DB bulk operations throttled with 429 and retryAfterMilliseconds (207 Multi-Status)', () => {
  let cosmos: LocalCosmos;
  const clients: CosmosClient[] = [];
  const stops: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    cosmos = await startLocalCosmos();
  });
  afterAll(async () => {
    for (const client of clients) client.dispose();
    for (const stop of stops) await stop();
    await cosmos?.stop();
  });

  async function portsThroughThrottlingProxy(database: string, bulkSeen: SeenBulk[]): Promise<GuardedIngestPorts> {
    const direct = new CosmosClient({ endpoint: cosmos.endpoint, key: cosmos.key, connectionPolicy: { enableEndpointDiscovery: false } });
    clients.push(direct);
    await direct.databases.createIfNotExists({ id: database });
    await ensureContainers(direct.database(database));
    const proxy = await startThrottlingProxy(cosmos.endpoint, bulkSeen);
    stops.push(proxy.stop);
    const client = new CosmosClient({ endpoint: proxy.url, key: cosmos.key, connectionPolicy: { enableEndpointDiscovery: false } });
    clients.push(client);
    const db = client.database(database);
    return {
      ledger: new CosmosLedgerStore(db.container(CONTAINERS.ledger.id)),
      diagnostics: new CosmosDiagnosticsStore(db.container(CONTAINERS.diagnostics.id)),
      deadLetters: new CosmosDeadLetterStore(db.container(CONTAINERS.deadLetters.id)),
      aggregates: new CosmosAggregateStore(db.container(CONTAINERS.aggregates.id)),
      quarantine: new MemoryQuarantineStore(),
    };
  }

  const batch = () => events(simulateDay({ requests: 20, seed: 77, day: '2026-11-20' }).eventLines.slice(0, 20));

  it('waits the retry-after the service gave before sending a throttled bulk again, and ingests the batch', async () => {
    const bulkSeen: SeenBulk[] = [];
    const ports = await portsThroughThrottlingProxy('bulk-throttle-a', bulkSeen);
    let outcome: string;
    try {
      outcome = (await ingestOrQuarantine(batch(), ports, { lastDelivery: false })).kind;
    } catch (error) {
      outcome = `threw ${(error as Error).name}: ${(error as Error).message}`;
    }
    const earlyRetries = bulkSeen.slice(1).filter((seen, i) => bulkSeen[i]!.throttled && seen.at - bulkSeen[i]!.at < RETRY_AFTER_MS - 50);
    expect(bulkSeen[0]?.throttled).toBe(true);
    // Each retry of a throttled bulk must come no earlier than the retryAfterMilliseconds it was answered with.
    expect(earlyRetries.map((seen) => seen.at - bulkSeen[bulkSeen.indexOf(seen) - 1]!.at)).toEqual([]);
    expect(outcome).toBe('ingested');
  });

  it('does not quarantine a batch on its last delivery only because a partition was throttled for a moment', async () => {
    const bulkSeen: SeenBulk[] = [];
    const ports = await portsThroughThrottlingProxy('bulk-throttle-b', bulkSeen);
    const outcome = await ingestOrQuarantine(batch(), ports, { lastDelivery: true });
    expect(bulkSeen[0]?.throttled).toBe(true);
    expect(outcome.kind === 'quarantined' ? `quarantined (${outcome.failure}: ${outcome.reason}) after ${outcome.attempts} attempts` : outcome.kind).toBe('ingested');
  });
});
