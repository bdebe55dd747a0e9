import { createChargebackHandler } from '../../functions/handlers/chargeback-report.js';
import { withAccess } from '../../functions/handlers/http-auth.js';
import { loadPrices, tokenValidatorFrom } from '../config/composition-root.js';
import { startHttpHost, type HttpHost, type HttpRoute } from './http-host.js';
import type { LocalStack } from './local-stack.js';

/** The HTTP functions' handlers, bound to the local stack, behind the same access checks as in Azure. */
export function localRoutes(stack: LocalStack): HttpRoute[] {
  const validator = () => tokenValidatorFrom(stack.settings);
  const currency = loadPrices(stack.settings).currency;
  return [
    {
      route: 'chargeback',
      methods: ['GET'],
      handler: withAccess({ validator }, createChargebackHandler(() => ({ aggregates: stack.stores.aggregates, directory: stack.directory, currency }))),
    },
  ];
}

export function startLocalApi(stack: LocalStack, port = 0): Promise<HttpHost> {
  return startHttpHost(localRoutes(stack), port);
}
