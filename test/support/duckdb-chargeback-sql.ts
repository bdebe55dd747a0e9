/**
 * The chargeback's inputs in DuckDB SQL, written from the documented rules only (no TokenLedger domain code):
 * the price table, the valid and deduplicated v1 requests of a JSONL file, and each request's price. Shared by
 * test/integration/chargeback-vs-duckdb.test.ts (the independent check) and bench/ (the speed comparison).
 */
import type { DuckDBConnection } from '@duckdb/node-api';

export const sqlString = (text: string) => `'${text.replace(/'/g, "''")}'`;

export async function rows(connection: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
  const reader = await connection.runAndReadAll(sql);
  return reader.getRowObjects() as Record<string, unknown>[];
}

/** Price entries from a price file, amounts parsed from their decimal strings into integer micro-USD per 1M tokens. */
export function loadPricesSql(pricesFile: string): string {
  // DECIMAL(18,6) holds every amount the format allows (at most 6 decimals) exactly.
  const micros = (field: string) => `CAST(CAST(json_extract_string(e, '$.${field}') AS DECIMAL(18, 6)) * 1000000 AS BIGINT)`;
  return `
    CREATE OR REPLACE TABLE prices AS
    WITH doc AS (SELECT CAST(content AS JSON) AS j FROM read_text(${sqlString(pricesFile)})),
         entries AS (SELECT unnest(json_extract(j, '$.prices[*]')) AS e FROM doc)
    SELECT
      json_extract_string(e, '$.model') AS model_prefix,
      json_extract_string(e, '$.deployment') AS deployment,
      CAST(json_extract_string(e, '$.from') AS DATE) AS from_day,
      CAST(json_extract_string(e, '$.to') AS DATE) AS to_day,
      ${micros('inputPer1M')} AS input_micros,
      coalesce(${micros('cachedInputPer1M')}, ${micros('inputPer1M')}) AS cached_micros,
      coalesce(${micros('outputPer1M')}, 0) AS output_micros
    FROM entries`;
}

/** The distinct valid gateway events, one row per request, with the fields the chargeback needs. */
export function loadRequestsSql(eventsFile: string): string {
  const token = (name: string) => `json_extract(j, '$.usage.${name}')`;
  const int = (path: string) => `json_type(j, '${path}') IN ('UBIGINT', 'BIGINT')`;
  const count = (name: string) => `TRY_CAST(json_extract_string(j, '$.usage.${name}') AS BIGINT)`;
  const optionalCount = (name: string) =>
    `(json_type(j, '$.usage.${name}') IS NULL OR (${int(`$.usage.${name}`)} AND ${count(name)} BETWEEN 0 AND 100000000))`;
  return `
    CREATE OR REPLACE TABLE requests AS
    WITH raw AS (
      SELECT json AS j FROM read_json_objects(${sqlString(eventsFile)}, format = 'newline_delimited', ignore_errors = true)
    ),
    valid AS (
      SELECT j, TRY_CAST(json_extract_string(j, '$.time') AS TIMESTAMPTZ) AS ts
      FROM raw
      WHERE json_type(j) = 'OBJECT'
        AND json_type(j, '$.schema') = 'VARCHAR' AND json_extract_string(j, '$.schema') = 'tokenledger.gateway/v1'
        AND json_type(j, '$.gatewayRequestId') = 'VARCHAR' AND trim(json_extract_string(j, '$.gatewayRequestId')) <> ''
        AND (json_type(j, '$.apimRequestId') = 'NULL'
             OR (json_type(j, '$.apimRequestId') = 'VARCHAR' AND trim(json_extract_string(j, '$.apimRequestId')) <> ''))
        AND json_type(j, '$.time') = 'VARCHAR'
        AND TRY_CAST(json_extract_string(j, '$.time') AS TIMESTAMPTZ) IS NOT NULL
        AND TRY_CAST(json_extract_string(j, '$.time') AS TIMESTAMPTZ) <= now() + INTERVAL 1 DAY
        AND (json_type(j, '$.status') = 'NULL'
             OR (${int('$.status')} AND TRY_CAST(json_extract_string(j, '$.status') AS BIGINT) BETWEEN 100 AND 599))
        AND (json_type(j, '$.usage') IS NULL OR json_type(j, '$.usage') = 'NULL' OR (
              json_type(j, '$.usage') = 'OBJECT'
              AND ${int('$.usage.promptTokens')} AND ${count('promptTokens')} BETWEEN 0 AND 100000000
              AND ${optionalCount('cachedTokens')}
              AND ${optionalCount('completionTokens')}
              AND ${optionalCount('reasoningTokens')}
              AND ${optionalCount('totalTokens')}
              AND coalesce(${count('cachedTokens')}, 0) <= ${count('promptTokens')}
              AND coalesce(${count('reasoningTokens')}, 0) <= coalesce(${count('completionTokens')}, 0)
              AND (${token('totalTokens')} IS NULL
                   OR ${count('totalTokens')} = ${count('promptTokens')} + coalesce(${count('completionTokens')}, 0))))
    ),
    distinct_requests AS (
      SELECT *,
        coalesce(lower(trim(json_extract_string(j, '$.apimRequestId'))), lower(trim(json_extract_string(j, '$.gatewayRequestId')))) AS id
      FROM valid
      QUALIFY row_number() OVER (PARTITION BY id ORDER BY CAST(j AS VARCHAR)) = 1
    )
    SELECT
      id,
      ts,
      CAST(ts AS DATE) AS day,
      coalesce(
        nullif(lower(trim(json_extract_string(j, '$.caller.oid'))), ''),
        nullif(lower(trim(json_extract_string(j, '$.caller.appid'))), ''),
        nullif(trim(json_extract_string(j, '$.subscriptionId')), ''),
        'unattributed') AS identity,
      json_extract_string(j, '$.model') AS model,
      json_extract_string(j, '$.deployment') AS deployment,
      coalesce(${count('promptTokens')}, 0) AS prompt,
      coalesce(${count('cachedTokens')}, 0) AS cached,
      coalesce(${count('completionTokens')}, 0) AS completion,
      coalesce(${count('reasoningTokens')}, 0) AS reasoning
    FROM distinct_requests`;
}

/** Each request with the price entry in effect on its UTC day (deployment entry first, else the owning model prefix). */
export const PRICED_SQL = `
  CREATE OR REPLACE TABLE priced AS
  WITH prefixes AS (SELECT DISTINCT model_prefix AS prefix FROM prices WHERE model_prefix IS NOT NULL),
  owner AS (
    -- The longest prefix in the table owns the model, whatever its dates: a shorter prefix is another model.
    SELECT r.id, arg_max(p.prefix, length(p.prefix)) AS prefix
    FROM requests r JOIN prefixes p ON r.model = p.prefix OR starts_with(r.model, p.prefix || '-')
    GROUP BY r.id
  )
  SELECT r.*,
    prompt + completion > 0 AS has_tokens,
    coalesce(d.input_micros, m.input_micros) AS input_micros,
    coalesce(d.cached_micros, m.cached_micros) AS cached_micros,
    coalesce(d.output_micros, m.output_micros) AS output_micros
  FROM requests r
  LEFT JOIN prices d
    ON d.deployment = r.deployment AND d.from_day <= r.day AND (d.to_day IS NULL OR r.day < d.to_day)
  LEFT JOIN owner o ON o.id = r.id
  LEFT JOIN prices m
    ON m.model_prefix = o.prefix AND m.from_day <= r.day AND (m.to_day IS NULL OR r.day < m.to_day)`;
