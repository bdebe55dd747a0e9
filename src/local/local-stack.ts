import type { CosmosClient } from '@azure/cosmos';
import { createCosmosClient, createStores, ensureContainers, type Stores } from '../config/composition-root.js';
import { loadSettings, type Settings } from '../config/settings.js';
import { startAzurite, type Azurite } from './azurite.js';
import { startLocalCosmos, type LocalCosmos } from './cosmos-server.js';

export interface LocalStack {
  readonly cosmos: LocalCosmos;
  readonly azurite: Azurite;
  readonly settings: Settings;
  readonly client: CosmosClient;
  readonly stores: Stores;
  stop(): Promise<void>;
}

/** The Cosmos DB server in this process and Azurite as a child process, with the project's containers created. */
export async function startLocalStack(): Promise<LocalStack> {
  const [cosmos, azurite] = await Promise.all([startLocalCosmos(), startAzurite()]);
  try {
    const settings = loadSettings({ CosmosDB__accountEndpoint: cosmos.endpoint, CosmosDB__key: cosmos.key, TOKENLEDGER_DATABASE: 'tokenledger' });
    const client = createCosmosClient(settings);
    const { database } = await client.databases.createIfNotExists({ id: settings.TOKENLEDGER_DATABASE });
    await ensureContainers(database);
    const stores = createStores(client, settings);
    return {
      cosmos,
      azurite,
      settings,
      client,
      stores,
      stop: async () => {
        client.dispose();
        await Promise.all([cosmos.stop(), azurite.stop()]);
      },
    };
  } catch (error) {
    await Promise.all([cosmos.stop(), azurite.stop()]);
    throw error;
  }
}
