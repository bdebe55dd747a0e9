import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { chargebackQuerySchemaAt } from '../../src/contracts/report-query.js';
import { canSeeIdentity, chargebackScope, type Principal } from '../../src/domain/access.js';
import { chargebackCsv, chargebackFocus, chargebackJson } from '../../src/domain/chargeback-formats.js';
import { describeIssues } from '../../src/domain/event-normalization.js';
import type { PriceTable } from '../../src/contracts/price-table.js';
import { pricingOf } from '../../src/domain/usage-pricing.js';
import type { AggregateStore } from '../../src/ports/aggregate-store.js';
import type { IdentityDirectory } from '../../src/ports/identity-directory.js';
import { chargebackLines, chargebackReportFor } from '../../src/services/chargeback-report.js';

export interface ChargebackHandlerPorts {
  readonly aggregates: Pick<AggregateStore, 'listUsageDocuments'>;
  readonly directory: IdentityDirectory;
  /** Costs are computed at read from usage tiles and this table: a price correction shows at once. */
  readonly prices: PriceTable;
}

/**
 * `GET /api/chargeback?from&to|month&groupBy&format`: a caller with `Chargeback.ReadAll` sees every row, any
 * other caller only their own identity's. Without a period, the current month to date. Every answer names its
 * period: `from` and `to` in JSON, and the `TokenLedger-Period` header (`from/to`, ISO 8601) in every format.
 * Every answer also names the price table its costs come from (`priceTable` in JSON, the `TokenLedger-Price-Table`
 * header). Bad parameters answer 400 with the reason.
 */
export function createChargebackHandler(ports: () => ChargebackHandlerPorts) {
  return async function chargeback(request: HttpRequest, _context: unknown, principal: Principal): Promise<HttpResponseInit> {
    const parsed = chargebackQuerySchemaAt(new Date()).safeParse(Object.fromEntries(request.query.entries()));
    if (!parsed.success) return { status: 400, jsonBody: { error: 'bad_request', reason: describeIssues('report parameters', parsed.error) } };
    const query = { ...parsed.data, scope: chargebackScope(principal) };
    const { aggregates, directory, prices } = ports();
    const currency = prices.currency;
    const pricing = pricingOf(prices);
    const rows = await directory.getAll();
    const period = { 'TokenLedger-Period': `${query.from.toISOString()}/${query.to.toISOString()}`, 'TokenLedger-Price-Table': pricing.version };
    if (query.format === 'focus') {
      const { lines } = await chargebackLines(aggregates, query, pricing);
      const visible = lines.filter((l) => canSeeIdentity(query.scope, l.identity));
      return csvResponse(chargebackFocus(visible, { directory: rows, currency, from: query.from, to: query.to }), `focus-${query.from.toISOString().slice(0, 10)}.csv`, period);
    }
    const report = await chargebackReportFor({ aggregates, directory: rows, pricing }, query, currency);
    if (query.format === 'csv') return csvResponse(chargebackCsv(report), `chargeback-${query.groupBy}-${query.from.toISOString().slice(0, 10)}.csv`, period);
    return { status: 200, jsonBody: chargebackJson(report), headers: period };
  };
}

function csvResponse(body: string, filename: string, headers: Record<string, string>): HttpResponseInit {
  return { status: 200, body, headers: { ...headers, 'Content-Type': 'text/csv; charset=utf-8', 'Content-Disposition': `attachment; filename="${filename}"` } };
}
