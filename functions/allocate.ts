import functions from '@azure/functions';
import { costExportSourceFrom, storesFromEnvironment } from '../src/config/composition-root.js';
import { loadPrices, rollupOptionsFrom } from '../src/config/core-options.js';
import { loadSettings } from '../src/config/settings.js';
import { createAllocateTimerHandler } from './handlers/allocate-invoice.js';

functions.app.timer('allocate', {
  schedule: '%ALLOCATE_SCHEDULE%',
  handler: createAllocateTimerHandler(
    () => {
      const settings = loadSettings();
      const exports = costExportSourceFrom(settings);
      if (!exports) return null;
      const stores = storesFromEnvironment(settings);
      return { exports, ledger: stores.ledger, diagnostics: stores.diagnostics, allocations: stores.invoiceAllocations };
    },
    () => {
      const settings = loadSettings();
      return { identity: rollupOptionsFrom(settings).identity, prices: loadPrices(settings) };
    },
  ),
});
