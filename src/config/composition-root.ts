import { CosmosClient, type Database } from '@azure/cosmos';
import { DefaultAzureCredential } from '@azure/identity';
import { CosmosDeadLetterStore } from '../adapters/cosmos/cosmos-dead-letter-store.js';
import { CosmosLedgerStore } from '../adapters/cosmos/cosmos-ledger-store.js';
import type { IngestPorts } from '../services/ingest-batch.js';
import type { Settings } from './settings.js';

/** Containers and their partition keys; in Azure they are created by `infra/`, locally by `ensureContainers`. */
export const CONTAINERS = {
  ledger: { id: 'ledger', partitionKey: '/pk' },
  deadLetters: { id: 'deadletters', partitionKey: '/pk' },
} as const;

export function createCosmosClient(settings: Settings): CosmosClient {
  const endpoint = settings.CosmosDB__accountEndpoint;
  if (settings.CosmosDB__key !== undefined) {
    // Local emulator only (settings refuse a key for any non-loopback endpoint).
    return new CosmosClient({ endpoint, key: settings.CosmosDB__key, connectionPolicy: { enableEndpointDiscovery: false } });
  }
  const credential = new DefaultAzureCredential(settings.CosmosDB__clientId ? { managedIdentityClientId: settings.CosmosDB__clientId } : {});
  return new CosmosClient({ endpoint, aadCredentials: credential });
}

export async function ensureContainers(database: Database): Promise<void> {
  for (const { id, partitionKey } of Object.values(CONTAINERS)) {
    await database.containers.createIfNotExists({ id, partitionKey: { paths: [partitionKey] } });
  }
}

export interface Stores extends IngestPorts {
  readonly database: Database;
}

export function createStores(client: CosmosClient, settings: Settings): Stores {
  const database = client.database(settings.TOKENLEDGER_DATABASE);
  return {
    database,
    ledger: new CosmosLedgerStore(database.container(CONTAINERS.ledger.id)),
    deadLetters: new CosmosDeadLetterStore(database.container(CONTAINERS.deadLetters.id)),
  };
}

let processStores: Stores | undefined;

/** One client per process, as the Cosmos SDK recommends, built on first use from the app settings. */
export function storesFromEnvironment(settings: Settings): Stores {
  processStores ??= createStores(createCosmosClient(settings), settings);
  return processStores;
}
