import type { CheckResult } from '../../src/domain/reconciliation.js';

/** A `requests` result of one hour and deployment: 10 expected, `actual` found, graded ok. */
export const requestsResult = (window: string, deployment: string, actual: number): CheckResult => ({
  check: 'requests',
  window,
  deployment,
  expected: 10,
  actual,
  driftPct: null,
  status: 'ok',
  gatewayOnly: [],
  gatewayOnlyCount: 0,
  diagnosticsOnly: [],
  diagnosticsOnlyCount: 0,
});
