import { describe, expect, it } from 'vitest';
import { chargebackQuerySchemaAt, daySchemaAt, lastMonth, latencyQuerySchemaAt, operationsQuerySchemaAt, requestsQuerySchemaAt, trafficQuerySchemaAt, weightsQuerySchemaAt } from '../../src/contracts/report-query.js';
import { MAX_TEXT_LENGTH } from '../../src/contracts/gateway-event.js';
import { isCanonicalInstant } from '../../src/contracts/utc-instant.js';
import { GROUP_BY } from '../../src/domain/chargeback.js';

const NOW = new Date('2026-12-03T17:42:10.500Z');
const chargeback = chargebackQuerySchemaAt(NOW);
const operations = operationsQuerySchemaAt(NOW);
const messages = (result: { success: boolean; error?: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } }) =>
  (result.error?.issues ?? []).map((issue) => `${issue.path.map(String).join('.')}: ${issue.message}`);

describe('chargeback report parameters', () => {
  it('turns a month into its first instant and the first instant of the next month', () => {
    const q = chargeback.parse({ month: '2026-10' });
    expect(q.from.toISOString()).toBe('2026-10-01T00:00:00.000Z');
    expect(q.to.toISOString()).toBe('2026-11-01T00:00:00.000Z');
    expect(q.period).toBe('month');
    expect(q.groupBy).toBe('identity');
    expect(q.format).toBe('json');
    const december = chargeback.parse({ month: '2026-12' });
    expect(december.to.toISOString()).toBe('2027-01-01T00:00:00.000Z');
  });

  it('reads from and to as dates at UTC midnight, or as instants with an offset', () => {
    const q = chargeback.parse({ from: '2026-03-01', to: '2026-03-15', groupBy: 'team', format: 'focus' });
    expect(q).toEqual({ from: new Date('2026-03-01T00:00:00Z'), to: new Date('2026-03-15T00:00:00Z'), period: 'range', groupBy: 'team', format: 'focus', basis: 'list' });
    const instants = chargeback.parse({ from: '2026-03-01T06:00:00+02:00', to: '2026-03-02T00:00:00Z' });
    expect(instants.from.toISOString()).toBe('2026-03-01T04:00:00.000Z');
  });

  it('reports at list prices unless the invoice is asked for, which groups by identity, team or cost center only', () => {
    expect(chargeback.parse({ month: '2026-10' }).basis).toBe('list');
    expect(chargeback.parse({ month: '2026-10', basis: 'invoice', groupBy: 'costCenter' })).toMatchObject({ basis: 'invoice', groupBy: 'costCenter' });
    expect(messages(chargeback.safeParse({ month: '2026-10', basis: 'invoice', groupBy: 'deployment' }))).toEqual([
      "groupBy: basis=invoice groups by identity, team, costCenter: the invoice's rows name resources and meters, not models or deployments",
    ]);
    expect(messages(chargeback.safeParse({ month: '2026-10', basis: 'bill' }))[0]).toMatch(/^basis: /);
  });

  it("takes whole UTC days on the invoice basis, the grain of Azure's cost rows, and its month to date ends with today", () => {
    expect(messages(chargeback.safeParse({ from: '2026-10-15T00:00:00Z', to: '2026-10-15T01:00:00Z', basis: 'invoice' }))).toEqual([
      "to: 2026-10-15T01:00:00.000Z is inside a day: basis=invoice sets Azure's cost rows, charged by the UTC day, against the estimate, so use 2026-10-15 or 2026-10-16",
    ]);
    expect(chargeback.parse({ from: '2026-10-15', to: '2026-10-16', basis: 'invoice' })).toMatchObject({ from: new Date('2026-10-15T00:00:00Z'), to: new Date('2026-10-16T00:00:00Z') });
    expect(chargeback.parse({ basis: 'invoice' })).toMatchObject({ from: new Date('2026-12-01T00:00:00Z'), to: new Date('2026-12-04T00:00:00Z'), period: 'default' });
  });

  it('defaults to the current month to date, up to the end of the current UTC hour', () => {
    const q = chargeback.parse({});
    expect(q.period).toBe('default');
    expect(q.from.toISOString()).toBe('2026-12-01T00:00:00.000Z');
    expect(q.to.toISOString()).toBe('2026-12-03T18:00:00.000Z');
    const firstMinute = chargebackQuerySchemaAt(new Date('2027-01-01T00:00:00.000Z')).parse({});
    expect([firstMinute.from.toISOString(), firstMinute.to.toISOString()]).toEqual(['2027-01-01T00:00:00.000Z', '2027-01-01T01:00:00.000Z']);
  });

  it('refuses a range whose end is not after its start', () => {
    expect(chargeback.safeParse({ from: '2026-03-15', to: '2026-03-01' }).success).toBe(false);
    const same = chargeback.safeParse({ from: '2026-03-01', to: '2026-03-01' });
    expect(same.success).toBe(false);
    expect(same.error?.issues.map((issue) => issue.path)).toEqual([['to']]);
  });

  it('accepts a range of 400 days and refuses a longer one', () => {
    expect(chargeback.safeParse({ from: '2026-01-01', to: '2027-02-05' }).success).toBe(true);
    const tooLong = chargeback.safeParse({ from: '2026-01-01', to: '2027-02-06' });
    expect(tooLong.success).toBe(false);
    expect(tooLong.error?.issues[0]?.message).toMatch(/400 days/);
  });

  it('refuses an unknown groupBy or format', () => {
    expect(chargeback.safeParse({ month: '2026-10', groupBy: 'region' }).success).toBe(false);
    expect(chargeback.safeParse({ month: '2026-10', format: 'xlsx' }).success).toBe(false);
    for (const groupBy of GROUP_BY) expect(chargeback.safeParse({ month: '2026-10', groupBy }).success).toBe(true);
  });

  it('refuses a parameter it does not read, case included, naming it and the ones it reads', () => {
    expect(messages(chargeback.safeParse({ Month: '2026-10' }))).toEqual([': unknown parameter "Month" (expected from, to, month, groupBy, format, basis)']);
    expect(messages(chargeback.safeParse({ month: '2026-10', groupby: 'team', fromat: 'csv' }))).toEqual([': unknown parameter "groupby", "fromat" (expected from, to, month, groupBy, format, basis)']);
  });

  it('refuses half a range, a month beside a range, and a month that does not exist', () => {
    expect(messages(chargeback.safeParse({ from: '2026-10-01' }))).toEqual(['to: give both from and to, or a month, or neither (the current month to date)']);
    expect(messages(chargeback.safeParse({ to: '2026-10-01' }))[0]).toMatch(/^from: give both/);
    expect(messages(chargeback.safeParse({ month: '2026-10', from: '2026-10-01', to: '2026-10-02' }))[0]).toMatch(/^month: give either month or from and to/);
    expect(messages(chargeback.safeParse({ month: '2026-13' }))).toEqual(['month: expected a month such as 2026-11 (YYYY-MM)']);
  });

  it('refuses years before 2000 instead of reading 0099 as 1999', () => {
    expect(messages(chargeback.safeParse({ month: '0099-12' }))).toEqual(['month: the year is before 2000 (expected a month such as 2026-11)']);
    // A text that is no month at all is told only that.
    for (const month of ['abcd', '', '\uff12\uff10\uff12\uff16-10']) expect(messages(chargeback.safeParse({ month }))).toEqual(['month: expected a month such as 2026-11 (YYYY-MM)']);
    expect(messages(chargeback.safeParse({ from: '0099-12-01', to: '2026-01-01' }))[0]).toMatch(/^from: the year 0099 is before 2000/);
    // The year as written is 2000, but the instant is 1999-12-31T23:00Z.
    expect(messages(chargeback.safeParse({ from: '2000-01-01T00:00:00+01:00', to: '2000-01-02' }))).toEqual(['from: "2000-01-01T00:00:00+01:00" is before 2000-01-01T00:00Z in UTC: periods start in 2000 or later']);
    expect(chargeback.safeParse({ from: '2000-01-01T00:00:00-01:00', to: '2000-01-02' }).success).toBe(true);
    expect(chargeback.safeParse({ month: '2000-01' }).success).toBe(true);
  });

  it('says which format it expects when a date is not one', () => {
    const result = messages(chargeback.safeParse({ from: 'yesterday', to: '2026-11-02' }));
    expect(result).toEqual(['from: expected a UTC date such as 2026-11-01 or an instant with an offset such as 2026-11-01T10:00:00Z, not "yesterday"']);
    expect(messages(chargeback.safeParse({ from: '2026-11-01T10:00:00', to: '2026-11-02' }))[0]).toMatch(/^from: expected a UTC date/);
  });

  it('refuses impossible calendar days and times instead of rolling them over', () => {
    expect(messages(chargeback.safeParse({ from: '2026-02-30', to: '2026-03-02' }))[0]).toMatch(/^from: 2026-02-30 is not a day of the calendar/);
    expect(messages(chargeback.safeParse({ from: '2026-02-01T24:00:00Z', to: '2026-03-02' }))[0]).toMatch(/is not a time of day/);
    expect(chargeback.safeParse({ from: '2028-02-29', to: '2028-03-01' }).success).toBe(true);
  });

  it('refuses a period that starts or ends inside an hour, naming the whole hours around it', () => {
    const result = messages(chargeback.safeParse({ from: '2026-11-15T10:30:00Z', to: '2026-11-15T11:00:00Z' }));
    expect(result).toEqual(['from: 2026-11-15T10:30:00.000Z is inside an hour: reports count whole UTC hours, so use 2026-11-15T10:00Z or 2026-11-15T11:00Z']);
    expect(messages(chargeback.safeParse({ from: '2026-11-15T10:00:00+05:30', to: '2026-11-16' }))[0]).toMatch(/^from: 2026-11-15T04:30:00.000Z is inside an hour/);
    expect(chargeback.safeParse({ from: '2026-11-15T10:00:00Z', to: '2026-11-15T11:00:00.000Z' }).success).toBe(true);
  });

  it('refuses a fraction of a millisecond instead of cutting it, and accepts zeros past the millisecond', () => {
    for (const to of ['2026-10-16T00:00:00.0005Z', '2026-10-16T00:00:00.000000001Z', '2026-10-16T00:00:00.123456+00:00']) {
      expect(messages(chargeback.safeParse({ from: '2026-10-15', to }))).toEqual([expect.stringMatching(`^to: ${JSON.stringify(to).replace(/[.+]/g, '\\$&')} names a fraction of a millisecond; periods are kept to the millisecond`)]);
    }
    const exact = chargeback.safeParse({ from: '2026-10-15T00:00:00.000000Z', to: '2026-10-16T00:00:00.0000000Z' });
    expect(exact.success && [exact.data.from.toISOString(), exact.data.to.toISOString()]).toEqual(['2026-10-15T00:00:00.000Z', '2026-10-16T00:00:00.000Z']);
  });
});

describe('request list parameters', () => {
  const requests = requestsQuerySchemaAt(NOW);

  it('read pageSize written in decimal digits only, up to its bound', () => {
    const pageSize = (value: string) => {
      const result = requests.safeParse({ month: '2026-11', pageSize: value });
      return result.success ? result.data.pageSize : messages(result);
    };
    expect([pageSize('7'), pageSize('40')]).toEqual([7, 40]);
    for (const written of ['0x10', '1e2', '0b11', '  7', '7.0', '07', '0', '-1', '']) {
      expect(pageSize(written)).toEqual([`pageSize: expected a whole number written in digits, such as ${requests.safeParse({ month: '2026-11' }).data!.pageSize}, not ${JSON.stringify(written)}`]);
    }
    expect(pageSize('100000')).toEqual([expect.stringMatching(/^pageSize: Too big/)]);
  });
});

describe('the last instant a period may reach', () => {
  const canonical = (q: { from: Date; to: Date }) => [q.from, q.to].every((d) => isCanonicalInstant(d.toISOString()));

  it('refuses the month 9999-12, whose end 10000-01-01 has no YYYY-MM-DD form, and accepts 9999-11', () => {
    const expected = ['month: the month must end before 10000-01-01, so 9999-11 is the last (expected a month such as 2026-11)'];
    expect(messages(chargeback.safeParse({ month: '9999-12' }))).toEqual(expected);
    expect(messages(requestsQuerySchemaAt(NOW).safeParse({ month: '9999-12' }))).toEqual(expected);
    const last = chargeback.parse({ month: '9999-11' });
    expect(last.to.toISOString()).toBe('9999-12-01T00:00:00.000Z');
    expect(canonical(last)).toBe(true);
  });

  it('refuses a from or to at 10000-01-01 or later in UTC, offsets included, naming it, and accepts 9999-12-31T23:00Z, the last whole hour before', () => {
    expect(messages(chargeback.safeParse({ from: '9999-12-01', to: '9999-12-31T23:00:00-01:00' }))).toEqual([
      'to: "9999-12-31T23:00:00-01:00" is 10000-01-01T00:00Z or later in UTC: a period must end before 10000-01-01',
    ]);
    expect(messages(requestsQuerySchemaAt(NOW).safeParse({ from: '9999-12-31T23:00:00-02:00', to: '9999-12-31T23:00:00-03:00' })).map((m) => m.split(':')[0])).toEqual(['from', 'to']);
    for (const schema of [operations, latencyQuerySchemaAt(NOW), trafficQuerySchemaAt(NOW), weightsQuerySchemaAt(NOW)]) {
      expect(messages(schema.safeParse({ from: '9999-12-31', to: '9999-12-31T20:00:00-04:00' }))).toEqual([
        'to: "9999-12-31T20:00:00-04:00" is 10000-01-01T00:00Z or later in UTC: a period must end before 10000-01-01',
      ]);
    }
    expect(canonical(chargeback.parse({ from: '9999-12-01', to: '9999-12-31T23:00:00Z' }))).toBe(true);
    expect(canonical(operations.parse({ to: '9999-12-31T22:00:00-01:00' }))).toBe(true);
  });
});

describe('operations report parameters', () => {
  it('default to the last 24 whole UTC hours, the current one included', () => {
    const q = operations.parse({});
    expect([q.from.toISOString(), q.to.toISOString(), q.period]).toEqual(['2026-12-02T18:00:00.000Z', '2026-12-03T18:00:00.000Z', 'default']);
  });

  it('fill a missing end with the end of the current hour, and a missing start with 24 hours before the end', () => {
    expect(operations.parse({ from: '2026-12-01' }).to.toISOString()).toBe('2026-12-03T18:00:00.000Z');
    expect(operations.parse({ to: '2026-11-16' }).from.toISOString()).toBe('2026-11-15T00:00:00.000Z');
  });

  it('refuse a to whose missing start, 24 hours before it, is before 2000, naming from as for a given one', () => {
    // README (Periods): years start at 2000; with only `to`, `from` is 24 hours earlier.
    for (const schema of [operations, latencyQuerySchemaAt(NOW), trafficQuerySchemaAt(NOW), weightsQuerySchemaAt(NOW)]) {
      expect(messages(schema.safeParse({ to: '2000-01-01T01:00Z' }))).toEqual([
        'from: 24 hours before to is 1999-12-31T01:00Z, before 2000-01-01T00:00Z in UTC: periods start in 2000 or later, so give a from',
      ]);
    }
    expect(operations.parse({ to: '2000-01-02' }).from.toISOString()).toBe('2000-01-01T00:00:00.000Z');
    expect(operations.parse({ from: '2000-01-01', to: '2000-01-01T01:00Z' }).from.toISOString()).toBe('2000-01-01T00:00:00.000Z');
  });

  it('validate dates, whole hours and the 93-day bound like the chargeback', () => {
    expect(messages(operations.safeParse({ from: '2026-11-15T10:15:00Z', to: '2026-11-16' }))[0]).toMatch(/^from: .* is inside an hour/);
    expect(messages(operations.safeParse({ from: '0026-11-15', to: '2026-11-16' }))[0]).toMatch(/^from: the year 0026 is before 2000/);
    expect(messages(operations.safeParse({ from: '2026-01-01', to: '2026-06-01' }))[0]).toMatch(/93 days/);
    expect(operations.parse({ from: '2026-11-15', to: '2026-11-16', deployment: 'gpt-4o' }).deployment).toBe('gpt-4o');
  });
});

describe('the parameters each operations report reads', () => {
  it('are the window and deployment, with groupBy=region for latency and the output format for weights', () => {
    expect(latencyQuerySchemaAt(NOW).parse({ from: '2026-11-15', to: '2026-11-16', deployment: 'chat', groupBy: 'region' })).toMatchObject({ deployment: 'chat', groupBy: 'region' });
    expect(operationsQuerySchemaAt(NOW).parse({ from: '2026-11-15', to: '2026-11-16', deployment: 'chat' }).deployment).toBe('chat');
    expect(trafficQuerySchemaAt(NOW).parse({ from: '2026-11-15', to: '2026-11-16' }).period).toBe('range');
    expect(weightsQuerySchemaAt(NOW).parse({ deployment: 'chat' })).toMatchObject({ deployment: 'chat', format: 'json', period: 'default' });
    expect(weightsQuerySchemaAt(NOW).parse({ format: 'apim', apimService: 'contoso-ai-gateway' })).toMatchObject({ format: 'apim', apimService: 'contoso-ai-gateway' });
  });

  it('take a deployment or a filter as long as the ledger keeps one (512 characters), so every report row can be asked for', () => {
    const name = 'd'.repeat(MAX_TEXT_LENGTH);
    for (const schema of [latencyQuerySchemaAt(NOW), operationsQuerySchemaAt(NOW), weightsQuerySchemaAt(NOW)]) expect(schema.parse({ deployment: name }).deployment).toBe(name);
    expect(requestsQuerySchemaAt(NOW).parse({ deployment: name, model: name, team: name }).filter).toEqual({ deployment: name, model: name, team: name });
    expect(messages(requestsQuerySchemaAt(NOW).safeParse({ deployment: `${name}d` }))[0]).toMatch(/^deployment: /);
    expect(messages(weightsQuerySchemaAt(NOW).safeParse({ deployment: `${name}d` }))[0]).toMatch(/^deployment: /);
  });

  it('refuse any other, so that a filter a report does not apply is not taken for one it does', () => {
    expect(messages(latencyQuerySchemaAt(NOW).safeParse({ groupby: 'region' }))).toEqual([': unknown parameter "groupby" (expected from, to, deployment, groupBy)']);
    expect(messages(operationsQuerySchemaAt(NOW).safeParse({ groupBy: 'region' }))).toEqual([': unknown parameter "groupBy" (expected from, to, deployment)']);
    expect(messages(trafficQuerySchemaAt(NOW).safeParse({ deployment: 'chat' }))).toEqual([': unknown parameter "deployment" (expected from, to)']);
    expect(messages(weightsQuerySchemaAt(NOW).safeParse({ apimservice: 'x' }))).toEqual([': unknown parameter "apimservice" (expected from, to, deployment, format, apimService)']);
    expect(messages(requestsQuerySchemaAt(NOW).safeParse({ identiy: 'x' }))[0]).toMatch(/^: unknown parameter "identiy" \(expected from, to, month, identity, /);
  });

  it('need the API Management service for a template or a Bicep file', () => {
    expect(messages(weightsQuerySchemaAt(NOW).safeParse({ format: 'bicep' }))).toEqual([
      'apimService: format=apim and format=bicep need apimService, the API Management service the pools belong to (resources are named <service>/<pool>)',
    ]);
    expect(messages(weightsQuerySchemaAt(NOW).safeParse({ format: 'apim', apimService: 'not a name' }))[0]).toMatch(/^apimService: an API Management service name has/);
  });
});

describe('simulated day', () => {
  const daySchema = daySchemaAt(new Date('2026-12-06T16:00:00Z'));

  it('accepts a real day and refuses an impossible one or a typo year', () => {
    expect(daySchemaAt(new Date('2028-03-01T00:00:00Z')).safeParse('2028-02-29').success).toBe(true);
    expect(daySchema.safeParse('2026-02-30').error?.issues[0]?.message).toBe('2026-02-30 is not a day of the calendar');
    expect(daySchema.safeParse('0026-02-01').error?.issues[0]?.message).toBe('the year 0026 is before 2000');
    expect(daySchema.safeParse('2026-2-1').error?.issues[0]?.message).toMatch(/expected a UTC day such as/);
  });

  it('refuses a day after today, whose events ingestion would refuse as more than a day ahead of the clock', () => {
    expect(daySchema.safeParse('2026-12-06').success).toBe(true);
    for (const day of ['2026-12-07', '2027-06-15', '9999-11-30']) {
      expect(daySchema.safeParse(day).error?.issues[0]?.message).toBe(`${day} is after today (2026-12-06, UTC): events more than a day ahead of the clock are refused, so a simulated day is today or earlier`);
    }
  });
});

describe('lastMonth', () => {
  it('is the month before, across a year boundary', () => {
    expect(lastMonth(new Date('2026-01-15T00:00:00Z'))).toBe('2025-12');
    expect(lastMonth(new Date('2026-03-31T23:59:59Z'))).toBe('2026-02');
  });
});
