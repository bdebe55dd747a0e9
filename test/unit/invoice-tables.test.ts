import { describe, expect, it } from 'vitest';
import { invoiceTables, type InvoiceTableBody } from '../../src/cli/invoice-tables.js';

/**
 * An invoice report grouped by team, as `GET /api/chargeback?basis=invoice` answers it: invoice parts at the cost
 * export's scale (8 decimals), list-price estimates at 12, so that six decimals on screen must round both.
 */
const BODY: InvoiceTableBody = {
  groupBy: 'team',
  currency: 'USD',
  rows: [
    { key: 'Ads', billedCost: '12.34567850', effectiveCost: '12.34567850', reasons: null },
    { key: 'Ops', billedCost: '3.00000050', effectiveCost: '3.00000050', reasons: null },
    { key: 'Search', billedCost: '7.65432150', effectiveCost: '7.65432150', reasons: null },
  ],
  totals: { billedCost: '23.00000050', effectiveCost: '23.00000050' },
  teams: [
    { team: 'Ads', estimate: '12.345677400000', billedCost: '12.34567850' },
    { team: 'Ops', estimate: '2.999999400000', billedCost: '3.00000050' },
    { team: 'Search', estimate: '7.654320400000', billedCost: '7.65432150' },
  ],
  exports: ['focus/daily/20261001-20261031/run/part_0.csv'],
};

describe('invoice tables of report chargeback --basis invoice', () => {
  it("shows each team's invoice as its row does, and its difference as the invoice minus the estimate shown", () => {
    const lines = invoiceTables(BODY).split('\n').map((line) => line.trim().split(/\s{2,}/));
    const rows = lines.slice(2, 5);
    expect(rows).toEqual([
      ['Ads', '12.345679', '12.345679'],
      ['Ops', '3.000000', '3.000000'],
      ['Search', '7.654321', '7.654321'],
    ]);
    expect(lines[5]).toEqual(['TOTAL', '23.000000', '23.000000']);
    const teams = lines.slice(lines.findIndex((l) => l[0]!.startsWith('List-price estimate')) + 3, -1);
    expect(teams).toEqual([
      ['Ads', '12.345677', '12.345679', '0.000002'],
      ['Ops', '2.999999', '3.000000', '0.000001'],
      ['Search', '7.654320', '7.654321', '0.000001'],
    ]);
  });

  it('shows the unallocated amount by reason adding up to the unallocated row as the table shows it', () => {
    // Allocation splits each cost row at its own scale, so parts of a millionth are ordinary.
    const reasons = [
      { reason: 'tokens Azure billed that no gateway request accounts for', billedCost: '0.0000005' },
      { reason: 'unattributed requests (no caller identity)', billedCost: '0.0000005' },
    ];
    const text = invoiceTables({
      ...BODY,
      rows: [
        { key: 'Search', billedCost: '1.0000004', effectiveCost: '1.0000004', reasons: null },
        { key: 'unallocated', billedCost: '0.0000010', effectiveCost: '0.0000010', reasons },
      ],
      totals: { billedCost: '1.0000014', effectiveCost: '1.0000014' },
      teams: null,
    });
    const lines = text.split('\n').map((line) => line.trim().split(/\s{2,}/));
    expect(lines.slice(2, 5)).toEqual([
      ['Search', '1.000000', '1.000000'],
      ['unallocated', '0.000001', '0.000001'],
      ['TOTAL', '1.000001', '1.000001'],
    ]);
    expect(text).toContain('unallocated 0.000001 billed: tokens Azure billed that no gateway request accounts for\n');
    expect(text).toContain('unallocated 0.000000 billed: unattributed requests (no caller identity)\n');
  });
});
