import type { DirectoryRow } from '../contracts/directory.js';
import { canSeeIdentity, type ChargebackScope } from '../domain/access.js';
import { chargebackReport, type ChargebackLine, type ChargebackReport, type GroupBy } from '../domain/chargeback.js';
import { coverRange, tileKey } from '../domain/tile-windows.js';
import type { AggregateStore } from '../ports/aggregate-store.js';
import type { StoreOptions } from '../ports/ledger-store.js';

export interface ChargebackQuery {
  readonly from: Date;
  readonly to: Date;
  readonly groupBy: GroupBy;
  /** Whose rows the caller may see: a report never shows rows the caller may not see. */
  readonly scope: ChargebackScope;
}

export interface ChargebackReportPorts {
  readonly aggregates: Pick<AggregateStore, 'getChargebackTiles'>;
  readonly directory: ReadonlyMap<string, DirectoryRow>;
}

export interface ChargebackReportResult extends ChargebackReport {
  readonly from: string;
  readonly to: string;
  /** Tiles read (coarsest first): the report's total is exactly the sum of their lines. */
  readonly tiles: readonly string[];
}

/** Lines of [from, to) (whole hours) from the fewest tiles that cover it, one query for all of them. */
export async function chargebackLines(aggregates: Pick<AggregateStore, 'getChargebackTiles'>, range: { from: Date; to: Date }, options: StoreOptions = {}) {
  const ids = coverRange(range.from, range.to).map(({ grain, window }) => tileKey('chargeback', grain, window).id);
  const tiles = await aggregates.getChargebackTiles(ids, options);
  return { ids, lines: tiles.flatMap((t) => t.lines) as ChargebackLine[] };
}

export async function chargebackReportFor(ports: ChargebackReportPorts, query: ChargebackQuery, currency: string, options: StoreOptions = {}): Promise<ChargebackReportResult> {
  const { ids, lines } = await chargebackLines(ports.aggregates, query, options);
  const visible = lines.filter((line) => canSeeIdentity(query.scope, line.identity));
  const report = chargebackReport(visible, { groupBy: query.groupBy, directory: ports.directory, currency });
  return { ...report, from: query.from.toISOString(), to: query.to.toISOString(), tiles: ids };
}
