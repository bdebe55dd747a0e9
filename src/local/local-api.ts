import { createChargebackHandler } from '../../functions/handlers/chargeback-report.js';
import { parseMetricsResources } from '../domain/metrics-batches.js';
import { createDashboardHandler } from '../../functions/handlers/dashboard.js';
import { withAccess } from '../../functions/handlers/http-auth.js';
import { createLatencyHandler, createReconciliationHandler, createTrafficHandler, createWeightsHandler } from '../../functions/handlers/operations-reports.js';
import { createRequestsHandler, createRequestTraceHandler } from '../../functions/handlers/requests.js';
import { APP_ROLES } from '../contracts/access.js';
import { loadPrices, rollupOptionsFrom, tokenValidatorFrom } from '../config/composition-root.js';
import { startHttpHost, type HttpHost, type HttpRoute } from './http-host.js';
import type { LocalStack } from './local-stack.js';

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
      route: 'dashboard/{*path}',
      methods: ['GET'],
      handler: createDashboardHandler(),
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

export function startLocalApi(stack: LocalStack, port = 0): Promise<HttpHost> {
  return startHttpHost(localRoutes(stack), port);
}
