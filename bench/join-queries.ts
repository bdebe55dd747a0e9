/**
 * Figure 3b: Log Analytics queries the join makes per 10,000 events. The join reads Azure OpenAI
 * `RequestResponse` records with `LogAnalyticsDiagnosticsSource` (the adapter the function app uses when a
 * workspace is configured, with its production window of one hour and 5 minutes of settle time), through the
 * real `LogsQueryClient`, against the local fake of the Log Analytics query API in
 * test/support/fake-log-analytics.ts, which holds a simulated day's records and counts the POSTs it answers.
 * The read loop is `joinDiagnostics`' own: readSince from the watermark until the source says there is no more.
 */
import { LogAnalyticsDiagnosticsSource } from '../src/adapters/log-analytics/log-analytics-diagnostics-source.js';
import { simulateDay } from '../src/simulator/traffic.js';
import { FakeLogAnalytics, localLogsClient, WORKSPACE } from '../test/support/fake-log-analytics.js';

const HOUR = 3_600_000;
/** As `joinPortsFromEnvironment` builds it. */
const WINDOW_MS = HOUR;
const SETTLE_MS = 5 * 60_000;

export interface JoinQueryRun {
  readonly requests: number;
  readonly events: number;
  readonly records: number;
  readonly recordsRead: number;
  readonly reads: number;
  readonly queries: number;
  readonly queriesPer10k: number;
  readonly hoursCovered: number;
}

/**
 * Simulates a day of `requests`, then reads its records from the day's start until the source has nothing
 * more, with the clock 56 hours after the day's start (late records arrive up to 30 hours after their hour).
 */
export async function measureJoinQueries(requests: number, seed: number, day: string): Promise<JoinQueryRun> {
  const simulated = simulateDay({ requests, seed, day });
  const fake = new FakeLogAnalytics(simulated);
  await fake.start();
  try {
    const dayStart = Date.parse(`${day}T00:00:00Z`);
    const now = new Date(dayStart + 56 * HOUR);
    const source = new LogAnalyticsDiagnosticsSource({ client: localLogsClient(fake.url), workspaceId: WORKSPACE, windowInMs: WINDOW_MS, settleInMs: SETTLE_MS, now: () => now });
    let watermark: string | null = new Date(dayStart).toISOString();
    let recordsRead = 0;
    let reads = 0;
    for (let more = true; more; reads++) {
      const read = await source.readSince(watermark);
      recordsRead += read.records.length + read.rejected.length;
      if (read.nextWatermark !== null) watermark = read.nextWatermark;
      more = read.more;
    }
    const events = simulated.eventLines.length;
    return {
      requests,
      events,
      records: fake.rows.length,
      recordsRead,
      reads,
      queries: fake.posts,
      queriesPer10k: (fake.posts / events) * 10_000,
      hoursCovered: (now.getTime() - SETTLE_MS - dayStart) / HOUR,
    };
  } finally {
    await fake.stop();
  }
}
