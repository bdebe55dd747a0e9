import { CosmosClient } from '@azure/cosmos';
import { afterAll, beforeAll } from 'vitest';
import { startLocalCosmos, type LocalCosmos } from '../../src/local/cosmos-server.js';

/**
 * Starts the local Cosmos DB server before the tests of the calling suite and stops it after them. The returned
 * function gives the suite's client (from `beforeAll` on).
 */
export function useLocalCosmos(): () => CosmosClient {
  let cosmos: LocalCosmos | undefined;
  let client: CosmosClient | undefined;
  beforeAll(async () => {
    cosmos = await startLocalCosmos();
    client = new CosmosClient({ endpoint: cosmos.endpoint, key: cosmos.key, connectionPolicy: { enableEndpointDiscovery: false } });
  });
  afterAll(async () => {
    client?.dispose();
    await cosmos?.stop();
  });
  return () => {
    if (!client) throw new Error('the local Cosmos DB server is not started yet: use the client in a test or a hook');
    return client;
  };
}
