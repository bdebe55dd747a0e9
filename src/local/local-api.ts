import { createChargebackHandler } from '../../functions/handlers/chargeback-report.js';
import { parseMetricsResources } from '../domain/metrics-batches.js';
import { createDashboardHandler } from '../../functions/handlers/dashboard.js';
import { createDirectoryEntryHandler, createDirectoryHandler, directoryRoles } from '../../functions/handlers/directory.js';
import { withAccess } from '../../functions/handlers/http-auth.js';
import { createLatencyHandler, createReconciliationHandler, createTrafficHandler, createWeightsHandler } from '../../functions/handlers/operations-reports.js';
import { createRequestsHandler, createRequestTraceHandler } from '../../functions/handlers/requests.js';
import { APP_ROLES } from '../contracts/access.js';
import { dashboardSignInFrom, tokenValidatorFrom } from '../config/composition-root.js';
import { loadPrices, rollupOptionsFrom } from '../config/core-options.js';
import { startHttpHost, type HttpHost, type HttpRoute } from './http-host.js';
import type { LocalStack } from './local-stack.js';
import { DEMO_CLIENT_APP_ID } from './token-issuer.js';

/** The HTTP functions' handlers, bound to the local stack, behind the same access checks as in Azure. */
export function localRoutes(stack: LocalStack): HttpRoute[] {
  const validator = () => tokenValidatorFrom(stack.settings);
  const prices = loadPrices(stack.settings);
  const requestsPorts = () => ({
    ledger: stack.stores.ledger,
    diagnostics: stack.stores.diagnostics,
    directory: stack.directory,
    prices,
    identity: rollupOptionsFrom(stack.settings).identity ?? {},
  });
  return [
    {
      route: 'chargeback',
      methods: ['GET'],
      handler: withAccess({ validator }, createChargebackHandler(() => ({ aggregates: stack.stores.aggregates, directory: stack.directory, prices, invoiceAllocations: stack.stores.invoiceAllocations, openAiAccounts: parseMetricsResources(stack.settings.AZURE_OPENAI_RESOURCE_IDS ?? '') }))),
    },
    {
      route: 'requests',
      methods: ['GET'],
      handler: withAccess({ validator }, createRequestsHandler(requestsPorts)),
    },
    {
      route: 'requests/{id}',
      methods: ['GET'],
      handler: withAccess({ validator }, createRequestTraceHandler(requestsPorts)),
    },
    {
      route: 'directory',
      methods: ['GET', 'POST'],
      handler: withAccess({ validator, role: directoryRoles }, createDirectoryHandler(() => ({ directory: stack.directory }))),
    },
    {
      route: 'directory/{*identity}',
      methods: ['GET', 'PUT', 'DELETE'],
      handler: withAccess({ validator, role: directoryRoles }, createDirectoryEntryHandler(() => ({ directory: stack.directory }))),
    },
    {
      route: 'dashboard/{*path}',
      methods: ['GET'],
      handler: createDashboardHandler({ signIn: () => dashboardSignInFrom({ ...stack.settings, DASHBOARD_CLIENT_ID: DEMO_CLIENT_APP_ID }) }),
    },
    ...(
      [
        ['latency', createLatencyHandler],
        ['weights', createWeightsHandler],
        ['traffic', createTrafficHandler],
      ] as const
    ).map(([route, create]) => ({
      route,
      methods: ['GET'],
      handler: withAccess({ validator, role: APP_ROLES.operationsRead }, create(() => stack.stores)),
    })),
    {
      route: 'reconciliation',
      methods: ['GET'],
      handler: withAccess({ validator, role: APP_ROLES.operationsRead }, createReconciliationHandler(() => stack.stores.reconciliation)),
    },
  ];
}

/** The local API; the dashboard under it signs in at the stack's token issuer as the demo client application. */
export async function startLocalApi(stack: LocalStack, port = 0): Promise<HttpHost> {
  const host = await startHttpHost(localRoutes(stack), port);
  stack.issuer.registerSignInClient(`${host.url}/api/dashboard/`, DEMO_CLIENT_APP_ID);
  return host;
}
