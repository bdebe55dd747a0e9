import functions from '@azure/functions';
import { directoryFromEnvironment, storesFromEnvironment, tokenValidatorFrom } from '../src/config/composition-root.js';
import { loadPrices } from '../src/config/core-options.js';
import { loadSettings } from '../src/config/settings.js';
import { parseMetricsResources } from '../src/domain/metrics-batches.js';
import { createChargebackHandler } from './handlers/chargeback-report.js';
import { withAccess } from './handlers/http-auth.js';

functions.app.http('chargeback', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: 'chargeback',
  handler: withAccess(
    { validator: () => tokenValidatorFrom(loadSettings()) },
    createChargebackHandler(() => {
      const settings = loadSettings();
      const stores = storesFromEnvironment(settings);
      return {
        aggregates: stores.aggregates,
        directory: directoryFromEnvironment(settings),
        prices: loadPrices(settings),
        invoiceAllocations: stores.invoiceAllocations,
        openAiAccounts: parseMetricsResources(settings.AZURE_OPENAI_RESOURCE_IDS ?? ''),
      };
    }),
  ),
});
