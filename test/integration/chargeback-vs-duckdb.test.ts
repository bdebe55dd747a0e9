/**
 * The chargeback computed a second time, independently, in DuckDB SQL over the same simulated files, and compared
 * with TokenLedger's numbers to the exact picodollar.
 *
 * The SQL side is written from the documented rules only (prices/README.md, the v1 contract in
 * src/contracts/gateway-event.ts, the AI Hub Gateway and APIM record rules in src/contracts/, the identity
 * precedence in src/domain/identity.ts); it imports no TokenLedger domain code. TokenLedger is checked two ways: the
 * offline `analyzeFiles` and the whole pipeline on the local stack (`runDemo`: Event Hubs trigger → ledger → join →
 * rollup tiles → chargeback reports). The simulated events mix v1 events, AI Hub Gateway payloads and stored usage
 * records, APIM LLM-log rows (of requests a v1 event tells too) and RequestResponse records. The pipeline's join also
 * takes APIM's LLM-log export for streams cut short; `analyzeFiles` has no LLM log, so each is compared with the SQL
 * given the same inputs.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPriceTable } from '../../src/contracts/price-table.js';
import type { ChargebackLine } from '../../src/domain/chargeback.js';
import { runDemo, type DemoSummary } from '../../src/local/demo.js';
import { startLocalStack, type LocalStack } from '../../src/local/local-stack.js';
import { analyzeFiles, type AnalyzeResult } from '../../src/services/analyze-files.js';
import { SIMULATION_FILES, writeSimulation } from '../../src/simulator/files.js';
import { simulateDay } from '../../src/simulator/traffic.js';
import { loadPricesSql, loadRequestsSql, PRICED_SQL, rows, sqlString, type RequestSources } from '../support/duckdb-chargeback-sql.js';

const SIMULATION = { requests: 6000, seed: 99, day: '2026-10-15' } as const;
const PRICES_FILE = fileURLToPath(new URL('../../prices/default-prices.json', import.meta.url));
const UNMAPPED = '(unmapped)';
const silentProgress = { step: () => {}, bar: () => ({ increment: () => {}, stop: () => {} }) };

/** Tokens and exact cost (picodollars, as a decimal string) of one group. */
interface Group {
  requests: number;
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  reasoningTokens: number;
  costPico: string;
}

type Groups = Record<string, Group>;

/** How a cost is computed in SQL; the `wrong…` variants exist to show that the comparison can fail. */
type CostVariant = 'documented' | 'wrongCachedAtInputPrice' | 'wrongReasoningChargedTwice';


function costSql(variant: CostVariant): string {
  const uncached = 'CAST(prompt - cached AS HUGEINT) * input_micros';
  const cachedPart = variant === 'wrongCachedAtInputPrice' ? 'CAST(cached AS HUGEINT) * input_micros' : 'CAST(cached AS HUGEINT) * cached_micros';
  const output =
    variant === 'wrongReasoningChargedTwice' ? 'CAST(completion + reasoning AS HUGEINT) * output_micros' : 'CAST(completion AS HUGEINT) * output_micros';
  return `CASE WHEN has_tokens AND input_micros IS NOT NULL THEN ${uncached} + ${cachedPart} + ${output} ELSE CAST(0 AS HUGEINT) END`;
}

function groupsSql(keyExpression: string, variant: CostVariant = 'documented'): string {
  return `
    SELECT ${keyExpression} AS key,
      CAST(count(*) AS BIGINT) AS requests,
      CAST(sum(prompt) AS BIGINT) AS prompt, CAST(sum(cached) AS BIGINT) AS cached,
      CAST(sum(completion) AS BIGINT) AS completion, CAST(sum(reasoning) AS BIGINT) AS reasoning,
      CAST(sum(${costSql(variant)}) AS VARCHAR) AS cost_pico
    FROM priced p
    LEFT JOIN directory d ON d.identity = p.identity
    GROUP BY ALL`;
}

function toGroups(result: Record<string, unknown>[]): Groups {
  return Object.fromEntries(
    result.map((row) => [
      String(row['key']),
      {
        requests: Number(row['requests']),
        promptTokens: Number(row['prompt']),
        cachedTokens: Number(row['cached']),
        completionTokens: Number(row['completion']),
        reasoningTokens: Number(row['reasoning']),
        costPico: String(row['cost_pico']),
      },
    ]),
  );
}

/** TokenLedger rows (report rows or lines) summed by a key. */
function sumBy<T extends Omit<Group, 'costPico'> & { costPico: bigint }>(items: readonly T[], keyOf: (item: T) => string): Groups {
  const sums = new Map<string, Omit<Group, 'costPico'> & { costPico: bigint }>();
  for (const item of items) {
    const key = keyOf(item);
    const sum = sums.get(key) ?? { requests: 0, promptTokens: 0, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0, costPico: 0n };
    sum.requests += item.requests;
    sum.promptTokens += item.promptTokens;
    sum.cachedTokens += item.cachedTokens;
    sum.completionTokens += item.completionTokens;
    sum.reasoningTokens += item.reasoningTokens;
    sum.costPico += item.costPico;
    sums.set(key, sum);
  }
  return Object.fromEntries([...sums].map(([key, sum]) => [key, { ...sum, costPico: sum.costPico.toString() }]));
}

const costs = (groups: Groups) => Object.fromEntries(Object.entries(groups).map(([key, g]) => [key, g.costPico]));
const tokens = (groups: Groups) => Object.fromEntries(Object.entries(groups).map(([key, { costPico: _cost, ...rest }]) => [key, rest]));
const total = (groups: Groups) => Object.values(groups).reduce((sum, g) => sum + BigInt(g.costPico), 0n);

/**
 * The DuckDB chargeback of one simulation directory and price file: with `withLlmLogExport`, streams cut short take
 * the LLM-log export's tokens, as the pipeline's join does. The tables are replaced on every call: `totalOf` reads
 * the last one loaded.
 */
async function duckChargeback(connection: DuckDBConnection, dir: string, pricesFile: string, options: { withLlmLogExport?: boolean } = {}) {
  const sources: RequestSources = {
    archiveDir: join(dir, SIMULATION_FILES.diagnostics),
    ...(options.withLlmLogExport ? { llmLogExport: join(dir, SIMULATION_FILES.llmLog) } : {}),
  };
  await connection.run(loadPricesSql(pricesFile));
  await connection.run(loadRequestsSql(join(dir, SIMULATION_FILES.events), sources));
  await connection.run(PRICED_SQL);
  const byIdentity = (variant: CostVariant = 'documented') => rows(connection, groupsSql('p.identity', variant)).then(toGroups);
  const unpriced = await rows(connection, 'SELECT DISTINCT model FROM priced WHERE has_tokens AND input_micros IS NULL ORDER BY model');
  const tokensFrom = await rows(connection, 'SELECT tokens_from, CAST(count(*) AS INTEGER) AS n FROM priced GROUP BY tokens_from');
  return {
    identity: await byIdentity(),
    team: toGroups(await rows(connection, groupsSql(`coalesce(d.team, '${UNMAPPED}')`))),
    unpricedModels: unpriced.map((row) => String(row['model'] ?? '(unknown)')),
    /** Requests by where the SQL took their tokens: gateway, llm-log (rows on the hub), llm-export, ai-hub, none. */
    tokensFrom: Object.fromEntries(tokensFrom.map((row) => [String(row['tokens_from']), Number(row['n'])])),
    totalOf: async (variant: CostVariant) => total(await byIdentity(variant)),
  };
}

describe('chargeback: TokenLedger against an independent DuckDB computation', () => {
  let simDir: string;
  let demoDir: string;
  let db: DuckDBInstance;
  let connection: DuckDBConnection;
  let stack: LocalStack | undefined;
  let pricesJson: unknown;
  /** The SQL given what `analyzeFiles` reads (events and archive). */
  let duck: Awaited<ReturnType<typeof duckChargeback>>;
  /** The SQL given what the pipeline reads (events, archive and the LLM-log export the join takes). */
  let duckPipeline: Awaited<ReturnType<typeof duckChargeback>>;
  let analyzed: AnalyzeResult;
  /** `analyzeFiles` given the LLM-log export too, as the pipeline's join has it. */
  let analyzedWithLlmLog: AnalyzeResult;
  let demo: DemoSummary;

  const analyze = (dir: string, prices: unknown, options: { withLlmLogExport?: boolean } = {}) =>
    analyzeFiles({
      eventsFile: join(dir, SIMULATION_FILES.events),
      diagnosticsDir: join(dir, SIMULATION_FILES.diagnostics),
      prices: loadPriceTable(prices),
      directoryCsv: join(dir, SIMULATION_FILES.directory),
      ...(options.withLlmLogExport ? { llmLogFile: join(dir, SIMULATION_FILES.llmLog) } : {}),
    });
  const teamOf = (result: AnalyzeResult) => (line: ChargebackLine) => result.directory.get(line.identity)?.team ?? UNMAPPED;

  beforeAll(async () => {
    simDir = await mkdtemp(join(tmpdir(), 'tokenledger-duckdb-'));
    demoDir = await mkdtemp(join(tmpdir(), 'tokenledger-duckdb-demo-'));
    await writeSimulation(simDir, simulateDay(SIMULATION));
    pricesJson = JSON.parse(await readFile(PRICES_FILE, 'utf8'));
    const stackStarting = startLocalStack();

    db = await DuckDBInstance.create(':memory:');
    connection = await db.connect();
    // Request days are UTC days: casting a TIMESTAMPTZ to DATE uses the session time zone.
    await connection.run("SET TimeZone = 'UTC'");
    await connection.run(`
      CREATE TABLE directory AS
      SELECT CASE WHEN regexp_full_match(trim(identity), '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}')
                  THEN lower(trim(identity)) ELSE trim(identity) END AS identity,
             team, costCenter
      FROM read_csv(${sqlString(join(simDir, SIMULATION_FILES.directory))}, header = true, all_varchar = true)`);
    duckPipeline = await duckChargeback(connection, simDir, PRICES_FILE, { withLlmLogExport: true });
    duck = await duckChargeback(connection, simDir, PRICES_FILE);

    analyzed = await analyze(simDir, pricesJson);
    analyzedWithLlmLog = await analyze(simDir, pricesJson, { withLlmLogExport: true });

    stack = await stackStarting;
    demo = await runDemo(stack, { ...SIMULATION, outDir: demoDir }, silentProgress);
    // The whole pipeline on the local stack and two SQL runs: minutes on a busy machine.
  }, 300_000);

  afterAll(async () => {
    await stack?.stop();
    connection?.closeSync();
    db?.closeSync();
    for (const dir of [simDir, demoDir]) if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('finds the same requests and identities as the ground truth, whichever source told them', async () => {
    const truth = JSON.parse(await readFile(join(simDir, SIMULATION_FILES.groundTruth), 'utf8')) as {
      events: { llmLogLines: number; diagnosticLines: number };
      sources: { aiHubPayloads: number; aiHubUsageRecords: number; aiHubWithoutCachedTokens: number; aiHubTwelveOClock: number; v1AndLlmLog: number; v1AndLlmLogInterrupted: number; requestResponseOverEventHubs: number; interruptedStreams: number };
      ledgerEntries: number;
      identities: { identity: string; kind: string; requests: number; promptTokens: number; cachedTokens: number; completionTokens: number; reasoningTokens: number }[];
    };
    const [{ n }] = (await rows(connection, 'SELECT CAST(count(*) AS INTEGER) AS n FROM requests')) as [{ n: number }];
    expect(n).toBe(truth.ledgerEntries);
    // Every source mix is in the events, so equal totals prove each is read: AI Hub payloads (CRLF-indented, en-US
    // times, 12 AM and 12 PM included) and stored usage records (digit strings) are requests of their own; LLM-log
    // rows merge into their v1 request, giving tokens only to streams cut short; RequestResponse lines add nothing.
    const s = truth.sources;
    for (const count of [s.aiHubPayloads, s.aiHubUsageRecords, s.aiHubWithoutCachedTokens, s.aiHubTwelveOClock, s.v1AndLlmLog, s.v1AndLlmLogInterrupted, s.requestResponseOverEventHubs]) expect(count).toBeGreaterThan(0);
    expect(duck.tokensFrom['ai-hub']).toBe(s.aiHubPayloads + s.aiHubUsageRecords);
    expect(duck.tokensFrom['llm-log']).toBe(s.v1AndLlmLogInterrupted);
    expect(duckPipeline.tokensFrom['llm-log']! + duckPipeline.tokensFrom['llm-export']!).toBe(s.interruptedStreams);
    expect(analyzed.entries).toBe(truth.ledgerEntries);
    expect(tokens(duckPipeline.identity)).toEqual(Object.fromEntries(truth.identities.map(({ identity, kind: _kind, ...t }) => [identity, t])));
  });

  it('analyzeFiles: cost per identity and per team equal DuckDB to the picodollar', () => {
    const byIdentity = sumBy(analyzed.lines, (line) => line.identity);
    const byTeam = sumBy(analyzed.lines, teamOf(analyzed));
    expect(Object.keys(duck.identity).length).toBeGreaterThanOrEqual(30);
    expect(Object.keys(duck.team).length).toBeGreaterThanOrEqual(5);
    expect(costs(byIdentity)).toEqual(costs(duck.identity));
    expect(costs(byTeam)).toEqual(costs(duck.team));
    // The report built from the lines carries the same exact numbers.
    expect(costs(sumBy(analyzed.report.rows, (row) => row.key))).toEqual(costs(duck.identity));
    expect(analyzed.report.totals.costPico).toBe(total(duck.identity));
  });

  it('analyzeFiles with the LLM-log export: cost and tokens per identity equal DuckDB given the export, to the picodollar', () => {
    expect(costs(sumBy(analyzedWithLlmLog.lines, (line) => line.identity))).toEqual(costs(duckPipeline.identity));
    expect(tokens(sumBy(analyzedWithLlmLog.lines, (line) => line.identity))).toEqual(tokens(duckPipeline.identity));
    expect(analyzedWithLlmLog.report.totals.tokenSources['llm-log']).toBe(duckPipeline.tokensFrom['llm-log']! + duckPipeline.tokensFrom['llm-export']!);
  });

  it('analyzeFiles: prompt, cached, completion and reasoning tokens per identity equal DuckDB', () => {
    expect(tokens(sumBy(analyzed.lines, (line) => line.identity))).toEqual(tokens(duck.identity));
    expect(tokens(sumBy(analyzed.lines, teamOf(analyzed)))).toEqual(tokens(duck.team));
  });

  it('the pipeline on the local stack: chargeback by identity and by team equal DuckDB to the picodollar', () => {
    const identityRows = demo.chargeback.identity.rows;
    const teamRows = demo.chargeback.team.rows;
    expect(Object.fromEntries(identityRows.map((r) => [r.key, r.costPico.toString()]))).toEqual(costs(duckPipeline.identity));
    expect(Object.fromEntries(teamRows.map((r) => [r.key, r.costPico.toString()]))).toEqual(costs(duckPipeline.team));
    expect(tokens(sumBy(identityRows, (r) => r.key))).toEqual(tokens(duckPipeline.identity));
    expect(tokens(sumBy(teamRows, (r) => r.key))).toEqual(tokens(duckPipeline.team));
    expect(demo.sources.requestsByTokenSource['llm-log']).toBe(duckPipeline.tokensFrom['llm-log']! + duckPipeline.tokensFrom['llm-export']!);
    expect(demo.sources.ledgerEntriesBySource['ai-hub-gateway']).toBe(duckPipeline.tokensFrom['ai-hub']);
  });

  it('grand totals are equal everywhere, to the picodollar', () => {
    const expected = total(duck.identity);
    expect(expected).toBeGreaterThan(0n);
    expect(total(duck.team)).toBe(expected);
    expect(analyzed.lines.reduce((sum, line) => sum + line.costPico, 0n)).toBe(expected);
    const pipeline = total(duckPipeline.identity);
    expect(total(duckPipeline.team)).toBe(pipeline);
    expect(demo.chargeback.identity.totals.costPico).toBe(pipeline);
    expect(demo.chargeback.team.totals.costPico).toBe(pipeline);
    // The LLM-log export charges the streams cut short whose rows were not on the event hub: the pipeline's join has
    // it, analyzeFiles has not.
    expect(pipeline).toBeGreaterThan(expected);
  });

  it('reports the same unpriced models as DuckDB', () => {
    expect(duck.unpricedModels).toEqual([...new Set(analyzed.report.unpriced.map((u) => u.model))].sort());
  });

  it('with a price table that lacks some models, both sides leave the same models unpriced and still agree on cost', async () => {
    const file = pricesJson as { prices: { model: string | null }[] };
    const reduced = { ...file, prices: file.prices.filter((p) => p.model !== 'gpt-4.1' && p.model !== 'o3-mini') };
    const reducedFile = join(simDir, 'reduced-prices.json');
    await writeFile(reducedFile, JSON.stringify(reduced));
    try {
      const reducedDuck = await duckChargeback(connection, simDir, reducedFile);
      const reducedTokenLedger = await analyze(simDir, reduced);
      // `o3-mini` is the model APIM's LLM log names for the o3-mini streams cut short that its rows on the hub told.
      expect(reducedDuck.unpricedModels).toEqual(['gpt-4.1-2025-04-14', 'o3-mini', 'o3-mini-2025-01-31']);
      expect([...new Set(reducedTokenLedger.report.unpriced.map((u) => u.model))].sort()).toEqual(reducedDuck.unpricedModels);
      expect(costs(sumBy(reducedTokenLedger.lines, (line) => line.identity))).toEqual(costs(reducedDuck.identity));
      expect(total(reducedDuck.identity)).toBeLessThan(total(duck.identity));
    } finally {
      // Restore the documented price table for the tests that follow.
      await connection.run(loadPricesSql(PRICES_FILE));
      await connection.run(PRICED_SQL);
    }
  });

  it('can fail: wrong SQL pricing rules give totals that differ from TokenLedger', async () => {
    const tokenLedgerTotal = analyzed.report.totals.costPico;
    expect(await duck.totalOf('documented')).toBe(tokenLedgerTotal);
    expect(await duck.totalOf('wrongCachedAtInputPrice')).not.toBe(tokenLedgerTotal);
    expect(await duck.totalOf('wrongCachedAtInputPrice')).toBeGreaterThan(tokenLedgerTotal);
    expect(await duck.totalOf('wrongReasoningChargedTwice')).toBeGreaterThan(tokenLedgerTotal);
  });
});
