import functions from '@azure/functions';
import { directoryFromEnvironment, storesFromEnvironment, tokenValidatorFrom } from '../src/config/composition-root.js';
import { loadPrices, rollupOptionsFrom } from '../src/config/core-options.js';
import { loadSettings } from '../src/config/settings.js';
import { withAccess } from './handlers/http-auth.js';
import { createRequestsHandler, createRequestTraceHandler, type RequestsHandlerPorts } from './handlers/requests.js';

const validator = () => tokenValidatorFrom(loadSettings());
const ports = (): RequestsHandlerPorts => {
  const settings = loadSettings();
  const stores = storesFromEnvironment(settings);
  return {
    ledger: stores.ledger,
    diagnostics: stores.diagnostics,
    directory: directoryFromEnvironment(settings),
    prices: loadPrices(settings),
    identity: rollupOptionsFrom(settings).identity ?? {},
  };
};

functions.app.http('requests', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: 'requests',
  handler: withAccess({ validator }, createRequestsHandler(ports)),
});

functions.app.http('requestTrace', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: 'requests/{id}',
  handler: withAccess({ validator }, createRequestTraceHandler(ports)),
});
