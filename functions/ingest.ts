import functions from '@azure/functions';
import { storesFromEnvironment } from '../src/config/composition-root.js';
import { loadSettings } from '../src/config/settings.js';
import { createIngestHandler, INGEST_TRIGGER } from './handlers/ingest-gateway-events.js';

functions.app.eventHub('ingest', {
  connection: 'EventHubConnection',
  eventHubName: '%EVENTHUB_NAME%',
  consumerGroup: '%EVENTHUB_CONSUMER_GROUP%',
  cardinality: INGEST_TRIGGER.cardinality,
  // `dataType` is a binding property the library's option type does not list; it passes through to the binding.
  ...({ dataType: INGEST_TRIGGER.dataType } as object),
  retry: INGEST_TRIGGER.retry,
  handler: createIngestHandler(() => storesFromEnvironment(loadSettings())),
});
