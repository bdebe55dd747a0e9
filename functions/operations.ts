import functions from '@azure/functions';
import { storesFromEnvironment, tokenValidatorFrom } from '../src/config/composition-root.js';
import { loadSettings } from '../src/config/settings.js';
import { APP_ROLES } from '../src/contracts/access.js';
import { withAccess } from './handlers/http-auth.js';
import { createLatencyHandler, createTrafficHandler, createWeightsHandler } from './handlers/operations-reports.js';

const validator = () => tokenValidatorFrom(loadSettings());
const stores = () => storesFromEnvironment(loadSettings());

for (const [route, create] of [
  ['latency', createLatencyHandler],
  ['weights', createWeightsHandler],
  ['traffic', createTrafficHandler],
] as const) {
  functions.app.http(route, {
    methods: ['GET'],
    authLevel: 'anonymous',
    route,
    handler: withAccess({ validator, role: APP_ROLES.operationsRead }, create(stores)),
  });
}
