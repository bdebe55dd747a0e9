/**
 * The chargeback by identity in DuckDB SQL over a JSONL file of gateway events, with the SQL of
 * test/support/duckdb-chargeback-sql.ts (written from the documented rules, no TokenLedger domain code),
 * restricted to what the benchmark compares: per-identity tokens and exact cost in picodollars.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { loadPricesSql, loadRequestsSql, PRICED_SQL, rows } from '../test/support/duckdb-chargeback-sql.js';

const COST_SQL =
  'CASE WHEN has_tokens AND input_micros IS NOT NULL THEN CAST(prompt - cached AS HUGEINT) * input_micros + CAST(cached AS HUGEINT) * cached_micros + CAST(completion AS HUGEINT) * output_micros ELSE CAST(0 AS HUGEINT) END';

const BY_IDENTITY_SQL = `
  SELECT identity AS key,
    CAST(count(*) AS BIGINT) AS requests,
    CAST(sum(prompt) AS BIGINT) AS prompt, CAST(sum(cached) AS BIGINT) AS cached,
    CAST(sum(completion) AS BIGINT) AS completion, CAST(sum(reasoning) AS BIGINT) AS reasoning,
    CAST(sum(${COST_SQL}) AS VARCHAR) AS cost_pico
  FROM priced
  GROUP BY ALL`;

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
    await connection.run(loadRequestsSql(eventsFile));
    await connection.run(PRICED_SQL);
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
