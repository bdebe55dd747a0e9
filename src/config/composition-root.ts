import { CosmosClient, type Database } from '@azure/cosmos';
import { DefaultAzureCredential } from '@azure/identity';
import { LogsQueryClient } from '@azure/monitor-query-logs';
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { ArchiveDiagnosticsSource } from '../adapters/archive/archive-diagnostics-source.js';
import { BlobArchive } from '../adapters/archive/blob-archive.js';
import { CosmosDeadLetterStore } from '../adapters/cosmos/cosmos-dead-letter-store.js';
import { CosmosDiagnosticsStore } from '../adapters/cosmos/cosmos-diagnostics-store.js';
import { CosmosLedgerStore } from '../adapters/cosmos/cosmos-ledger-store.js';
import { LogAnalyticsDiagnosticsSource, LogAnalyticsLlmUsageSource } from '../adapters/log-analytics/log-analytics-diagnostics-source.js';
import { TableWatermarkStore } from '../adapters/tables/table-watermark-store.js';
import { REQUEST_RESPONSE_CONTAINER } from '../domain/archive-layout.js';
import type { DiagnosticsStore } from '../ports/diagnostics-store.js';
import type { IngestPorts } from '../services/ingest-batch.js';
import type { JoinPorts } from '../services/join-diagnostics.js';
import type { Settings } from './settings.js';

/** Containers and their partition keys; in Azure they are created by `infra/`, locally by `ensureContainers`. */
export const CONTAINERS = {
  ledger: { id: 'ledger', partitionKey: '/pk' },
  deadLetters: { id: 'deadletters', partitionKey: '/pk' },
  diagnostics: { id: 'diagnostics', partitionKey: '/pk' },
} as const;

function credentialFor(settings: Settings): DefaultAzureCredential {
  return new DefaultAzureCredential(settings.CosmosDB__clientId ? { managedIdentityClientId: settings.CosmosDB__clientId } : {});
}

export function createCosmosClient(settings: Settings): CosmosClient {
  const endpoint = settings.CosmosDB__accountEndpoint;
  if (settings.CosmosDB__key !== undefined) {
    // Local emulator only (settings refuse a key for any non-loopback endpoint).
    return new CosmosClient({ endpoint, key: settings.CosmosDB__key, connectionPolicy: { enableEndpointDiscovery: false } });
  }
  return new CosmosClient({ endpoint, aadCredentials: credentialFor(settings) });
}

export async function ensureContainers(database: Database): Promise<void> {
  for (const { id, partitionKey } of Object.values(CONTAINERS)) {
    await database.containers.createIfNotExists({ id, partitionKey: { paths: [partitionKey] } });
  }
}

export interface Stores extends IngestPorts {
  readonly database: Database;
  readonly diagnostics: DiagnosticsStore;
}

export function createStores(client: CosmosClient, settings: Settings): Stores {
  const database = client.database(settings.TOKENLEDGER_DATABASE);
  return {
    database,
    ledger: new CosmosLedgerStore(database.container(CONTAINERS.ledger.id)),
    deadLetters: new CosmosDeadLetterStore(database.container(CONTAINERS.deadLetters.id)),
    diagnostics: new CosmosDiagnosticsStore(database.container(CONTAINERS.diagnostics.id)),
  };
}

let processStores: Stores | undefined;

/** One client per process, as the Cosmos SDK recommends, built on first use from the app settings. */
export function storesFromEnvironment(settings: Settings): Stores {
  processStores ??= createStores(createCosmosClient(settings), settings);
  return processStores;
}

let processJoinPorts: JoinPorts | undefined;

/**
 * The join reads Log Analytics when a workspace is configured, else the storage archive; watermarks live in
 * Table storage. All clients authenticate with the function app's managed identity.
 */
export function joinPortsFromEnvironment(settings: Settings): JoinPorts {
  if (processJoinPorts) return processJoinPorts;
  const credential = credentialFor(settings);
  if (!settings.Tables__endpoint) throw new Error('Tables__endpoint is required for the join watermark');
  const watermarks = new TableWatermarkStore(new TableClient(settings.Tables__endpoint, 'watermarks', credential));
  const workspaceId = settings.LOG_ANALYTICS_WORKSPACE_ID;
  const logs = workspaceId ? new LogsQueryClient(credential) : undefined;
  let source: JoinPorts['source'];
  if (logs && workspaceId) {
    source = new LogAnalyticsDiagnosticsSource({ client: logs, workspaceId, windowInMs: 3_600_000, settleInMs: 5 * 60_000 });
  } else if (settings.Archive__blobEndpoint) {
    const container = new BlobServiceClient(settings.Archive__blobEndpoint, credential).getContainerClient(REQUEST_RESPONSE_CONTAINER);
    source = new ArchiveDiagnosticsSource(new BlobArchive(container));
  } else {
    throw new Error('the join needs LOG_ANALYTICS_WORKSPACE_ID or Archive__blobEndpoint');
  }
  const stores = storesFromEnvironment(settings);
  processJoinPorts = {
    source,
    watermarks,
    ledger: stores.ledger,
    diagnostics: stores.diagnostics,
    deadLetters: stores.deadLetters,
    ...(logs && workspaceId ? { llmUsage: new LogAnalyticsLlmUsageSource({ client: logs, workspaceId }) } : {}),
  };
  return processJoinPorts;
}
