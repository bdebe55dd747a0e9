import type { CosmosClient } from '@azure/cosmos';
import { BlobServiceClient } from '@azure/storage-blob';
import { createCosmosClient, createStores, ensureContainers, type Stores } from '../config/composition-root.js';
import { loadSettings, type Settings } from '../config/settings.js';
import { TableIdentityDirectory } from '../adapters/tables/table-identity-directory.js';
import type { EditableIdentityDirectory } from '../ports/identity-directory.js';
import { armResourceId } from '../simulator/cost-export.js';
import { BACKENDS } from '../simulator/population.js';
import { startAzurite, type Azurite } from './azurite.js';
import { startTokenIssuer, type LocalTokenIssuer, type LocalTokenIssuerOptions } from './token-issuer.js';
import { startLocalCosmos, type LocalCosmos } from './cosmos-server.js';

export interface LocalStack {
  readonly cosmos: LocalCosmos;
  readonly azurite: Azurite;
  /** A local Entra-like token issuer (JWKS over http) standing in for Microsoft Entra ID. */
  readonly issuer: LocalTokenIssuer;
  readonly directory: EditableIdentityDirectory;
  readonly settings: Settings;
  readonly client: CosmosClient;
  /** Azurite's blob service (dead-letter payloads, quarantined batches), with its development key. */
  readonly blobs: BlobServiceClient;
  readonly stores: Stores;
  stop(): Promise<void>;
}

/**
 * The Cosmos DB server in this process, Azurite as a child process and a local token issuer, with the
 * project's containers created and settings pointing at them.
 */
export async function startLocalStack(options: { readonly issuer?: LocalTokenIssuerOptions } = {}): Promise<LocalStack> {
  const [cosmos, azurite, issuer] = await Promise.all([startLocalCosmos(), startAzurite(), startTokenIssuer(options.issuer)]);
  try {
    const settings = loadSettings({
      CosmosDB__accountEndpoint: cosmos.endpoint,
      CosmosDB__key: cosmos.key,
      TOKENLEDGER_DATABASE: 'tokenledger',
      AUTH_TENANT_ID: issuer.tenantId,
      AUTH_AUDIENCE: issuer.audience,
      AUTH_AUTHORITY_HOST: new URL(issuer.issuer).origin,
      DeadLetters__blobEndpoint: azurite.blobEndpoint,
      // The simulated Azure OpenAI accounts, as a deployment lists its own: reports name them as FOCUS ResourceIds.
      AZURE_OPENAI_RESOURCE_IDS: BACKENDS.map((b) => `${b.regionCode}=${armResourceId(b.account)}`).join(','),
    });
    const client = createCosmosClient(settings);
    const { database } = await client.databases.createIfNotExists({ id: settings.TOKENLEDGER_DATABASE });
    await ensureContainers(database);
    const blobs = BlobServiceClient.fromConnectionString(azurite.connectionString);
    const stores = createStores(client, settings, blobs);
    return {
      cosmos,
      azurite,
      issuer,
      directory: TableIdentityDirectory.fromConnectionString(azurite.connectionString),
      settings,
      client,
      blobs,
      stores,
      stop: async () => {
        client.dispose();
        await Promise.all([cosmos.stop(), azurite.stop(), issuer.stop()]);
      },
    };
  } catch (error) {
    await Promise.all([cosmos.stop(), azurite.stop(), issuer.stop()]);
    throw error;
  }
}
