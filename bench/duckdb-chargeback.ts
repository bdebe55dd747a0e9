/**
 * The chargeback by identity over a JSONL file of gateway events, as a data engineer would write it in DuckDB:
 * one typed read of the fields the chargeback needs, validation as WHERE clauses on typed columns,
 * de-duplication by GROUP BY on the request id, pricing per (day, model, deployment) cell rather than per
 * request, on DuckDB's default threads (one per core). Written from the documented rules only (no TokenLedger
 * domain code); the benchmark compares its per-identity tokens and exact cost in picodollars with `analyzeFiles`.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { loadPricesSql, rows, sqlString } from '../test/support/duckdb-chargeback-sql.js';

/** The gateway event v1 fields the chargeback reads, typed; a value of another type becomes NULL. */
const EVENT_STRUCTURE = JSON.stringify({
  schema: 'VARCHAR',
  gatewayRequestId: 'VARCHAR',
  apimRequestId: 'VARCHAR',
  time: 'TIMESTAMPTZ',
  status: 'BIGINT',
  subscriptionId: 'VARCHAR',
  deployment: 'VARCHAR',
  model: 'VARCHAR',
  caller: { oid: 'VARCHAR', appid: 'VARCHAR' },
  usage: { promptTokens: 'BIGINT', cachedTokens: 'BIGINT', completionTokens: 'BIGINT', reasoningTokens: 'BIGINT', totalTokens: 'BIGINT' },
});

/**
 * One row per line, typed. `read_json(…, columns = {…}, ignore_errors = true)` would be the shorter form, but
 * DuckDB 1.5 does not keep a broken line to itself: a line cut inside an object (`…"tid":` then a newline) runs
 * on into the next line, and that valid event comes back as a row of NULLs (12 requests lost in 300,000
 * simulated events). `read_ndjson_objects` splits at newlines first, and `json_transform` types each object;
 * the table is materialised so that the typed struct is computed once per line, not once per predicate.
 */
export function loadEventsSql(eventsFile: string): string {
  return `
    CREATE OR REPLACE TEMP TABLE events AS
    SELECT unnest(json_transform(json, ${sqlString(EVENT_STRUCTURE)}))
    FROM read_ndjson_objects(${sqlString(eventsFile)}, ignore_errors = true)`;
}

/** Valid v1 events, one per request id (any of identical redeliveries), summed per cell, priced per cell, summed per identity. */
export const BY_IDENTITY_SQL = `
  WITH valid AS (
    SELECT
      coalesce(lower(trim(apimRequestId)), lower(trim(gatewayRequestId))) AS id,
      CAST(time AS DATE) AS day,
      coalesce(nullif(lower(trim(caller.oid)), ''), nullif(lower(trim(caller.appid)), ''), nullif(trim(subscriptionId), ''), 'unattributed') AS identity,
      model, deployment,
      coalesce(usage.promptTokens, 0) AS prompt, coalesce(usage.cachedTokens, 0) AS cached,
      coalesce(usage.completionTokens, 0) AS completion, coalesce(usage.reasoningTokens, 0) AS reasoning
    FROM events
    WHERE schema = 'tokenledger.gateway/v1'
      AND trim(gatewayRequestId) <> ''
      AND (apimRequestId IS NULL OR trim(apimRequestId) <> '')
      AND time <= now() + INTERVAL 1 DAY
      AND (status IS NULL OR status BETWEEN 100 AND 599)
      AND (usage IS NULL OR (
        usage.promptTokens BETWEEN 0 AND 100000000
        AND coalesce(usage.cachedTokens, 0) BETWEEN 0 AND usage.promptTokens
        AND coalesce(usage.completionTokens, 0) BETWEEN 0 AND 100000000
        AND coalesce(usage.reasoningTokens, 0) BETWEEN 0 AND coalesce(usage.completionTokens, 0)
        AND (usage.totalTokens IS NULL OR usage.totalTokens = usage.promptTokens + coalesce(usage.completionTokens, 0))))
  ),
  requests AS (
    SELECT min({day: day, identity: identity, model: model, deployment: deployment, prompt: prompt, cached: cached, completion: completion, reasoning: reasoning}) AS r
    FROM valid GROUP BY id
  ),
  cells AS (
    SELECT r.day AS day, r.identity AS identity, r.model AS model, r.deployment AS deployment, count(*) AS requests,
      sum(r.prompt) AS prompt, sum(r.cached) AS cached, sum(r.completion) AS completion, sum(r.reasoning) AS reasoning
    FROM requests GROUP BY ALL
  ),
  prices_in_cells AS (
    SELECT DISTINCT day, model, deployment FROM cells
  ),
  owner AS (
    -- The model's own entry, else the longest entry it continues with versions only (a date, four digits, a short
    -- number, -preview), whatever its dates: a name continued otherwise is another model.
    SELECT k.model, arg_max(p.model_prefix, length(p.model_prefix)) AS prefix
    FROM (SELECT DISTINCT model FROM prices_in_cells) k
    JOIN prices p ON k.model = p.model_prefix OR (starts_with(k.model, p.model_prefix || '-')
      AND regexp_full_match(k.model[length(p.model_prefix) + 1:], '(?i)(-(\\d{4}-\\d{2}-\\d{2}|\\d{4}|\\d{1,3}(\\.\\d+)?|preview))+'))
    GROUP BY k.model
  ),
  priced AS (
    -- A deployment entry in effect that day first, else the owning model prefix's entry.
    SELECT k.*,
      coalesce(d.input_micros, m.input_micros) AS input_micros,
      coalesce(d.cached_micros, m.cached_micros) AS cached_micros,
      coalesce(d.output_micros, m.output_micros) AS output_micros
    FROM prices_in_cells k
    LEFT JOIN prices d ON d.deployment = k.deployment AND d.from_day <= k.day AND (d.to_day IS NULL OR k.day < d.to_day)
    LEFT JOIN owner o ON o.model = k.model
    LEFT JOIN prices m ON m.model_prefix = o.prefix AND m.from_day <= k.day AND (m.to_day IS NULL OR k.day < m.to_day)
  )
  -- Cost is linear in the token counts, so a cell's sums priced once equal the sum of its requests' costs.
  SELECT c.identity AS key,
    CAST(sum(c.requests) AS BIGINT) AS requests,
    CAST(sum(c.prompt) AS BIGINT) AS prompt, CAST(sum(c.cached) AS BIGINT) AS cached,
    CAST(sum(c.completion) AS BIGINT) AS completion, CAST(sum(c.reasoning) AS BIGINT) AS reasoning,
    CAST(sum(CASE WHEN p.input_micros IS NULL THEN 0 ELSE
      CAST(c.prompt - c.cached AS HUGEINT) * p.input_micros + CAST(c.cached AS HUGEINT) * p.cached_micros + CAST(c.completion AS HUGEINT) * p.output_micros
    END) AS VARCHAR) AS cost_pico
  FROM cells c
  JOIN priced p ON p.day = c.day AND p.model IS NOT DISTINCT FROM c.model AND p.deployment IS NOT DISTINCT FROM c.deployment
  GROUP BY c.identity`;

export interface IdentityTotals {
  readonly requests: number;
  readonly promptTokens: number;
  readonly cachedTokens: number;
  readonly completionTokens: number;
  readonly reasoningTokens: number;
  readonly costPico: bigint;
}

export interface DuckChargeback {
  readonly byIdentity: ReadonlyMap<string, IdentityTotals>;
  readonly totalPico: bigint;
  readonly requests: number;
  readonly threads: number;
  readonly seconds: number;
}

/** Wall time covers everything from opening an in-memory database to the per-identity rows in JavaScript (DuckDB's default threads: one per core). */
export async function duckdbChargeback(eventsFile: string, pricesFile: string, threads?: number): Promise<DuckChargeback> {
  const started = performance.now();
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  try {
    // Request days are UTC days: casting a TIMESTAMPTZ to DATE uses the session time zone.
    await connection.run("SET TimeZone = 'UTC'");
    if (threads !== undefined) await connection.run(`SET threads = ${Math.max(1, Math.floor(threads))}`);
    await connection.run(loadPricesSql(pricesFile));
    await connection.run(loadEventsSql(eventsFile));
    const byIdentity = new Map<string, IdentityTotals>();
    for (const row of await rows(connection, BY_IDENTITY_SQL)) {
      byIdentity.set(String(row['key']), {
        requests: Number(row['requests']),
        promptTokens: Number(row['prompt']),
        cachedTokens: Number(row['cached']),
        completionTokens: Number(row['completion']),
        reasoningTokens: Number(row['reasoning']),
        costPico: BigInt(String(row['cost_pico'])),
      });
    }
    const seconds = (performance.now() - started) / 1000;
    const [setting] = await rows(connection, "SELECT current_setting('threads') AS threads");
    let totalPico = 0n;
    let requests = 0;
    for (const t of byIdentity.values()) {
      totalPico += t.costPico;
      requests += t.requests;
    }
    return { byIdentity, totalPico, requests, threads: Number(setting?.['threads']), seconds };
  } finally {
    connection.closeSync();
    db.closeSync();
  }
}
