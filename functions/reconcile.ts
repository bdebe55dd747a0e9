import functions from '@azure/functions';
import { reconcilePortsFromEnvironment, storesFromEnvironment, tokenValidatorFrom } from '../src/config/composition-root.js';
import { gatewayObjectIds } from '../src/config/core-options.js';
import { loadSettings } from '../src/config/settings.js';
import { APP_ROLES } from '../src/contracts/access.js';
import { withAccess } from './handlers/http-auth.js';
import { createReconciliationHandler } from './handlers/operations-reports.js';
import { createReconcileHandler } from './handlers/reconcile.js';

functions.app.timer('reconcile', {
  schedule: '%RECONCILE_SCHEDULE%',
  handler: createReconcileHandler(
    () => reconcilePortsFromEnvironment(loadSettings()),
    () => ({ watermarkName: 'reconcile', gatewayObjectIds: gatewayObjectIds(loadSettings()) }),
  ),
});

functions.app.http('reconciliation', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: 'reconciliation',
  handler: withAccess(
    { validator: () => tokenValidatorFrom(loadSettings()), role: APP_ROLES.operationsRead },
    createReconciliationHandler(() => storesFromEnvironment(loadSettings()).reconciliation),
  ),
});
