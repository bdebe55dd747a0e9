import type { LogsQueryOptions, LogsQueryResult } from '@azure/monitor-query-logs';
import { describe, expect, it } from 'vitest';
import { QueryRunner, QueryTimeoutError, type LogsQuerier } from '../../src/adapters/log-analytics/log-analytics-diagnostics-source.js';

const TIMESPAN = { startTime: new Date('2026-11-21T09:00:00Z'), endTime: new Date('2026-11-21T10:00:00Z') };

/** A stub client (no HTTP) that records the options of each call and answers with `answer`. */
function stubClient(answer: () => Promise<LogsQueryResult>) {
  const options: (LogsQueryOptions | undefined)[] = [];
  const client: LogsQuerier = {
    queryWorkspace: ((_workspace: string, _query: string, _timespan: unknown, queryOptions?: LogsQueryOptions) => {
      options.push(queryOptions);
      return answer();
    }) as LogsQuerier['queryWorkspace'],
  };
  return { client, options };
}

describe('QueryRunner with a stub Log Analytics client (no HTTP)', () => {
  it('sends the time limit as the service option and waits 30 s more for an answer on the connection', async () => {
    const { client, options } = stubClient(() => Promise.reject(Object.assign(new Error('gateway timeout'), { statusCode: 504 })));
    await expect(new QueryRunner(client, 'ws', { queryTimeoutInSeconds: 90 }).run('q', 'T', TIMESPAN)).rejects.toBeInstanceOf(QueryTimeoutError);
    expect(options).toEqual([{ serverTimeoutInSeconds: 90, requestOptions: { timeout: 120_000 } }]);
    expect(() => new QueryRunner(client, 'ws', { queryTimeoutInSeconds: 601 })).toThrow(/at most 600/);
  });

  it('takes the client timeout (the SDK aborts the request: AbortError) as a query past its time limit, not retried', async () => {
    const sleeps: number[] = [];
    const { client, options } = stubClient(() => Promise.reject(Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' })));
    const error = await new QueryRunner(client, 'ws', { sleep: async (ms) => void sleeps.push(ms) }).run('window', 'T', TIMESPAN).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueryTimeoutError);
    expect(String(error)).toMatch(/window ran past its limit of 120 s/);
    expect(options).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('stops waiting as soon as the run is aborted, though the SDK does not pass the signal on to its request', async () => {
    const { client } = stubClient(() => new Promise<LogsQueryResult>(() => undefined));
    const controller = new AbortController();
    const running = new QueryRunner(client, 'ws', {}).run('q', 'T', TIMESPAN, { abortSignal: controller.signal });
    controller.abort(new Error('host shutting down'));
    await expect(running).rejects.toThrow('host shutting down');
  });
});
