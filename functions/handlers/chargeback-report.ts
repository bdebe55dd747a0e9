import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { chargebackQuerySchemaAt } from '../../src/contracts/report-query.js';
import { chargebackScope, type Principal } from '../../src/domain/access.js';
import { chargebackCsv, chargebackJson } from '../../src/domain/chargeback-formats.js';
import { focusCsv } from '../../src/domain/focus-export.js';
import type { PriceTable } from '../../src/contracts/price-table.js';
import { pricingOf } from '../../src/domain/usage-pricing.js';
import type { AggregateStore } from '../../src/ports/aggregate-store.js';
import type { IdentityDirectory } from '../../src/ports/identity-directory.js';
import { chargebackReportFor, listPriceFocus } from '../../src/services/chargeback-report.js';
import { allocationFocus } from '../../src/domain/allocation-formats.js';
import { invoiceReport, invoiceReportCsv, visibleAllocations, type InvoiceGroupBy } from '../../src/domain/invoice-report.js';
import type { InvoiceAllocationStore } from '../../src/ports/invoice-allocation-store.js';
import { storedInvoiceFor } from '../../src/services/invoice-report.js';
import { parseQuery } from './query-parameters.js';

export interface ChargebackHandlerPorts {
  readonly aggregates: Pick<AggregateStore, 'listUsageDocuments'>;
  readonly directory: IdentityDirectory;
  /** Costs are computed at read from usage tiles and this table: a price correction shows at once. */
  readonly prices: PriceTable;
  /** Cost exports allocated by the `allocate` timer, for `basis=invoice`. */
  readonly invoiceAllocations: Pick<InvoiceAllocationStore, 'listHeads' | 'listAllocations' | 'getAllocatedExport'>;
  /** The Azure OpenAI accounts by region (`AZURE_OPENAI_RESOURCE_IDS`): the FOCUS export's ResourceId and subscription. */
  readonly openAiAccounts?: readonly { readonly region: string; readonly resourceId: string }[];
}

/**
 * `GET /api/chargeback?from&to|month&groupBy&format&basis`: `basis=list` (the default) prices the ledger's usage at
 * the price table's list prices; `basis=invoice` reports the stored allocations of Azure's invoice (the cost rows
 * charged in the period), with each team's difference to the list-price estimate, and answers `basis` in JSON and
 * the `TokenLedger-Basis` header. On either basis a caller with `Chargeback.ReadAll` sees every row, any other
 * caller only their own identity's (never the invoice's unallocated part). Without a period, the current month to date. Every answer names its
 * period: `from` and `to` in JSON, and the `TokenLedger-Period` header (`from/to`, ISO 8601) in every format.
 * Every answer also names the price table its costs come from (`priceTable` in JSON, the `TokenLedger-Price-Table`
 * header). Bad parameters answer 400 with the reason.
 */
export function createChargebackHandler(ports: () => ChargebackHandlerPorts) {
  return async function chargeback(request: HttpRequest, _context: unknown, principal: Principal): Promise<HttpResponseInit> {
    const parsed = parseQuery(request, chargebackQuerySchemaAt, 'report parameters');
    if (!parsed.ok) return parsed.response;
    const query = { ...parsed.query, scope: chargebackScope(principal) };
    const { aggregates, directory, prices, invoiceAllocations, openAiAccounts = [] } = ports();
    const currency = prices.currency;
    const pricing = pricingOf(prices);
    const rows = await directory.getAll();
    const period = { 'TokenLedger-Period': `${query.from.toISOString()}/${query.to.toISOString()}`, 'TokenLedger-Price-Table': pricing.version, 'TokenLedger-Basis': query.basis };
    if (query.basis === 'invoice') {
      const { allocations, exports } = await storedInvoiceFor(invoiceAllocations, query);
      const visible = visibleAllocations(allocations, query.scope);
      if (query.format === 'focus') return csvResponse(allocationFocus(visible, rows, { matcher: pricing.matcher, currency }), `focus-invoice-${query.from.toISOString().slice(0, 10)}.csv`, period);
      const estimates = await chargebackReportFor({ aggregates, directory: rows, pricing }, { ...query, groupBy: 'team' }, currency);
      let report;
      try {
        report = invoiceReport(visible, { groupBy: query.groupBy as InvoiceGroupBy, directory: rows, estimates: estimates.rows.map((r) => ({ team: r.key, costPico: r.costPico })), estimateCurrency: currency });
      } catch (error) {
        if (error instanceof RangeError) return { status: 409, jsonBody: { error: 'conflict', reason: error.message }, headers: period };
        throw error;
      }
      if (query.format === 'csv') return csvResponse(invoiceReportCsv(report), `chargeback-invoice-${query.groupBy}-${query.from.toISOString().slice(0, 10)}.csv`, period);
      return { status: 200, jsonBody: { ...report, from: query.from.toISOString(), to: query.to.toISOString(), priceTable: pricing.version, exports }, headers: period };
    }
    if (query.format === 'focus') {
      const focus = await listPriceFocus({ aggregates, directory: rows, pricing, accounts: openAiAccounts }, query, currency);
      return csvResponse(focusCsv(focus), `focus-${query.from.toISOString().slice(0, 10)}.csv`, period);
    }
    const report = await chargebackReportFor({ aggregates, directory: rows, pricing }, query, currency);
    if (query.format === 'csv') return csvResponse(chargebackCsv(report), `chargeback-${query.groupBy}-${query.from.toISOString().slice(0, 10)}.csv`, period);
    return { status: 200, jsonBody: { basis: query.basis, ...(chargebackJson(report) as object) }, headers: period };
  };
}

function csvResponse(body: string, filename: string, headers: Record<string, string>): HttpResponseInit {
  return { status: 200, body, headers: { ...headers, 'Content-Type': 'text/csv; charset=utf-8', 'Content-Disposition': `attachment; filename="${filename}"` } };
}
