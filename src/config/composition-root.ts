import { CosmosClient, PartitionKeyDefinitionVersion, PartitionKeyKind, type Database } from '@azure/cosmos';
import { DefaultAzureCredential } from '@azure/identity';
import { LogsQueryClient } from '@azure/monitor-query-logs';
import { MetricsClient } from '@azure/monitor-query-metrics';
import { AzureReconciliationSources } from '../adapters/log-analytics/log-analytics-reconciliation-sources.js';
import { parseMetricsResources } from '../domain/metrics-batches.js';
import type { ReconcilePorts } from '../services/reconcile-windows.js';
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { ArchiveDiagnosticsSource } from '../adapters/archive/archive-diagnostics-source.js';
import { BlobArchive } from '../adapters/archive/blob-archive.js';
import { CosmosAggregateStore } from '../adapters/cosmos/cosmos-aggregate-store.js';
import { CosmosReconciliationStore } from '../adapters/cosmos/cosmos-reconciliation-store.js';
import { CosmosInvoiceAllocationStore } from '../adapters/cosmos/cosmos-invoice-allocation-store.js';
import { CosmosDeadLetterStore } from '../adapters/cosmos/cosmos-dead-letter-store.js';
import { CosmosDiagnosticsStore } from '../adapters/cosmos/cosmos-diagnostics-store.js';
import { CosmosLedgerStore } from '../adapters/cosmos/cosmos-ledger-store.js';
import { LogAnalyticsDiagnosticsSource, LogAnalyticsLlmUsageSource } from '../adapters/log-analytics/log-analytics-diagnostics-source.js';
import { TableIdentityDirectory } from '../adapters/tables/table-identity-directory.js';
import { TableWatermarkStore } from '../adapters/tables/table-watermark-store.js';
import { createTokenValidator, entraEndpoints, type TokenValidator } from '../adapters/auth/entra-token-validator.js';
import type { DashboardSignIn } from '../contracts/dashboard-sign-in.js';
import type { EditableIdentityDirectory } from '../ports/identity-directory.js';
import { REQUEST_RESPONSE_CONTAINER } from '../domain/archive-layout.js';
import type { AggregateStore } from '../ports/aggregate-store.js';
import type { DiagnosticsStore } from '../ports/diagnostics-store.js';
import type { ReconciliationStore } from '../ports/reconciliation.js';
import type { InvoiceAllocationStore } from '../ports/invoice-allocation-store.js';
import { BlobPayloadStore } from '../adapters/blob/blob-payload-store.js';
import { BlobQuarantineStore } from '../adapters/blob/blob-quarantine-store.js';
import { BlobCostExportSource } from '../adapters/blob/blob-cost-export-source.js';
import type { CostExportSource } from '../ports/cost-export-source.js';
import type { PayloadStore } from '../ports/payload-store.js';
import type { QuarantineStore } from '../ports/quarantine-store.js';
import type { GuardedIngestPorts } from '../services/ingest-or-quarantine.js';
import { OffloadingDeadLetterStore } from '../services/offloading-dead-letter-store.js';
import type { JoinPorts } from '../services/join-diagnostics.js';
import type { DirectorySettings, Settings } from './settings.js';

/** Containers and their partition keys; in Azure they are created by `infra/`, locally by `ensureContainers`. */
export const CONTAINERS = {
  ledger: { id: 'ledger', partitionKey: '/pk' },
  deadLetters: { id: 'deadletters', partitionKey: '/pk' },
  diagnostics: { id: 'diagnostics', partitionKey: '/pk' },
  aggregates: { id: 'aggregates', partitionKey: '/pk' },
} as const;

function credentialFor(settings: Pick<Settings, 'CosmosDB__clientId'>): DefaultAzureCredential {
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

/** Blob containers: payloads of dead letters too large for a Cosmos DB item, and quarantined trigger batches. */
export const BLOB_CONTAINERS = { deadLetterPayloads: 'dead-letters', quarantine: 'quarantine' } as const;

export async function ensureContainers(database: Database): Promise<void> {
  for (const { id, partitionKey } of Object.values(CONTAINERS)) {
    // As infra/modules/cosmos.bicep deploys them: version 2 (large partition keys) hashes a key's every byte.
    await database.containers.createIfNotExists({ id, partitionKey: { paths: [partitionKey], kind: PartitionKeyKind.Hash, version: PartitionKeyDefinitionVersion.V2 } });
  }
}

export interface Stores extends GuardedIngestPorts {
  readonly database: Database;
  /** Raw payloads of dead letters too large to keep in their Cosmos DB document. */
  readonly deadLetterPayloads: PayloadStore;
  readonly quarantine: QuarantineStore;
  readonly diagnostics: DiagnosticsStore;
  readonly aggregates: AggregateStore;
  readonly reconciliation: ReconciliationStore;
  /** Cost exports allocated to identities (Azure's invoice, split by token share). */
  readonly invoiceAllocations: InvoiceAllocationStore;
}

/**
 * The stores on one Cosmos DB client and one Blob service client. Dead letters go through the offloading store, so
 * no dead-letter document can exceed Cosmos DB's item limit whatever the payload.
 */
export function createStores(client: CosmosClient, settings: Settings, blobs: BlobServiceClient): Stores {
  const database = client.database(settings.TOKENLEDGER_DATABASE);
  const deadLetterPayloads = new BlobPayloadStore(blobs.getContainerClient(BLOB_CONTAINERS.deadLetterPayloads));
  return {
    database,
    deadLetterPayloads,
    quarantine: new BlobQuarantineStore(blobs.getContainerClient(BLOB_CONTAINERS.quarantine)),
    ledger: new CosmosLedgerStore(database.container(CONTAINERS.ledger.id)),
    deadLetters: new OffloadingDeadLetterStore(new CosmosDeadLetterStore(database.container(CONTAINERS.deadLetters.id)), deadLetterPayloads),
    diagnostics: new CosmosDiagnosticsStore(database.container(CONTAINERS.diagnostics.id)),
    aggregates: new CosmosAggregateStore(database.container(CONTAINERS.aggregates.id)),
    reconciliation: new CosmosReconciliationStore(database.container(CONTAINERS.aggregates.id)),
    invoiceAllocations: new CosmosInvoiceAllocationStore(database.container(CONTAINERS.aggregates.id)),
  };
}

let processStores: Stores | undefined;

/** One client per process, as the Cosmos SDK recommends, built on first use from the app settings. */
export function storesFromEnvironment(settings: Settings): Stores {
  processStores ??= createStores(createCosmosClient(settings), settings, blobServiceFrom(settings));
  return processStores;
}

/** Blob storage for dead-letter payloads and quarantined batches, with the app's managed identity. */
export function blobServiceFrom(settings: Settings): BlobServiceClient {
  if (!settings.DeadLetters__blobEndpoint) throw new Error('DeadLetters__blobEndpoint is required: oversize dead letters and quarantined batches are kept in Blob storage');
  return new BlobServiceClient(settings.DeadLetters__blobEndpoint, credentialFor(settings));
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
  const logs = workspaceId ? new LogsQueryClient(credential, { retryOptions: { maxRetries: 0 } }) : undefined;
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
    aggregates: stores.aggregates,
    ...(logs && workspaceId ? { llmUsage: new LogAnalyticsLlmUsageSource({ client: logs, workspaceId }) } : {}),
  };
  return processJoinPorts;
}

/**
 * The cost export container the allocation timer reads, with the app's managed identity; null when no export is
 * configured.
 */
export function costExportSourceFrom(settings: Settings): CostExportSource | null {
  if (!settings.CostExport__blobEndpoint) return null;
  const container = new BlobServiceClient(settings.CostExport__blobEndpoint, credentialFor(settings)).getContainerClient(settings.COST_EXPORT_CONTAINER);
  return new BlobCostExportSource(container, settings.COST_EXPORT_PREFIX);
}

/** The process' token validators, by issuer and audience. */
const processValidators = new Map<string, TokenValidator>();

/**
 * Validates callers' Entra ID tokens for the tenant and audience in the settings: one validator per issuer and
 * audience in the process, shared by every route (one key cache, one download).
 */
export function tokenValidatorFrom(settings: Settings): TokenValidator {
  if (!settings.AUTH_TENANT_ID || !settings.AUTH_AUDIENCE) throw new Error('AUTH_TENANT_ID and AUTH_AUDIENCE are required for HTTP endpoints');
  const { issuer, jwksUri, tenantId } = entraEndpoints(settings.AUTH_TENANT_ID, settings.AUTH_AUTHORITY_HOST);
  const key = `${issuer}\n${settings.AUTH_AUDIENCE}`;
  let validator = processValidators.get(key);
  if (!validator) processValidators.set(key, (validator = createTokenValidator({ issuer, jwksUri, tenantId, audience: settings.AUTH_AUDIENCE })));
  return validator;
}

/** The dashboard's public sign-in settings, or null when no dashboard app registration is configured. */
export function dashboardSignInFrom(settings: Settings): DashboardSignIn | null {
  if (!settings.DASHBOARD_CLIENT_ID || !settings.AUTH_TENANT_ID || !settings.AUTH_AUDIENCE) return null;
  return {
    authority: entraEndpoints(settings.AUTH_TENANT_ID, settings.AUTH_AUTHORITY_HOST).authority,
    clientId: settings.DASHBOARD_CLIENT_ID,
    scope: settings.DASHBOARD_SCOPE || `openid profile offline_access ${settings.AUTH_AUDIENCE}/user_impersonation`,
  };
}

let processDirectory: EditableIdentityDirectory | undefined;

/**
 * One directory client per process, as the stores: a credential caches its tokens, so a client made per request
 * would ask the managed identity endpoint for a token on every request ("reuse credential instances").
 */
export function directoryFromEnvironment(settings: DirectorySettings): EditableIdentityDirectory {
  if (!settings.Tables__endpoint) throw new Error('Tables__endpoint is not set: the identity directory is in its Table storage');
  processDirectory ??= new TableIdentityDirectory(new TableClient(settings.Tables__endpoint, 'identities', credentialFor(settings)));
  return processDirectory;
}

/** The reconciliation timer's ports: Log Analytics and Azure Monitor metrics on Azure's side, the ledger on ours. */
export function reconcilePortsFromEnvironment(settings: Settings): ReconcilePorts {
  const workspaceId = settings.LOG_ANALYTICS_WORKSPACE_ID;
  if (!workspaceId || !settings.Tables__endpoint) throw new Error('reconciliation needs LOG_ANALYTICS_WORKSPACE_ID and Tables__endpoint');
  const credential = credentialFor(settings);
  const resources = parseMetricsResources(settings.AZURE_OPENAI_RESOURCE_IDS ?? '');
  const stores = storesFromEnvironment(settings);
  return {
    ledger: stores.ledger,
    results: stores.reconciliation,
    watermarks: new TableWatermarkStore(new TableClient(settings.Tables__endpoint, 'watermarks', credential)),
    sources: new AzureReconciliationSources({
      logs: new LogsQueryClient(credential, { retryOptions: { maxRetries: 0 } }),
      workspaceId,
      ...(resources.length > 0 ? { metrics: { clientFor: (endpoint: string) => new MetricsClient(endpoint, credential), resources } } : {}),
    }),
  };
}
