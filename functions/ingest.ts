import functions from '@azure/functions';
import { storesFromEnvironment } from '../src/config/composition-root.js';
import { loadSettings } from '../src/config/settings.js';
import { createIngestHandler } from './handlers/ingest-gateway-events.js';

functions.app.eventHub('ingest', {
  connection: 'EventHubConnection',
  eventHubName: '%EVENTHUB_NAME%',
  consumerGroup: '%EVENTHUB_CONSUMER_GROUP%',
  cardinality: 'many',
  // Event Hubs triggers checkpoint past a failed batch unless a retry policy holds it: retry transient store errors indefinitely.
  retry: { strategy: 'exponentialBackoff', maxRetryCount: -1, minimumInterval: 2_000, maximumInterval: 300_000 },
  handler: createIngestHandler(() => storesFromEnvironment(loadSettings())),
});
