/**
 * The chargeback's inputs in DuckDB SQL, written from the documented rules only (no TokenLedger domain code):
 * the price table, the distinct valid requests of a JSONL file of Event Hubs bodies (v1 events, APIM LLM-log rows,
 * AI Hub Gateway payloads), and each request's price. Shared by
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

export interface RequestSources {
  /** The storage archive folder of RequestResponse records: a joined request is priced by its record's model. */
  readonly archiveDir?: string;
  /**
   * An `ApiManagementGatewayLlmLog` export (JSON lines): a streamed request whose events carry no tokens takes the
   * logged ones, as the join does. Without it, such a request has none (as the offline analysis, which has no LLM log).
   */
  readonly llmLogExport?: string;
}

/** A token count of an AI Hub payload: a JSON integer or a digit string (after the accelerator's Stream Analytics job). */
function aiHubCount(field: string): string {
  const text = `json_extract_string(j, '$.${field}')`;
  return `CASE WHEN json_type(j, '$.${field}') IN ('UBIGINT', 'BIGINT') THEN TRY_CAST(${text} AS BIGINT)
               WHEN json_type(j, '$.${field}') = 'VARCHAR' AND regexp_full_match(${text}, '[0-9]{1,12}') THEN CAST(${text} AS BIGINT) END`;
}

/** An AI Hub text field, null for the accelerator's placeholders (`NA`, `NA-HEADER`) and blanks. */
function aiHubText(field: string): string {
  return `CASE WHEN upper(trim(json_extract_string(j, '$.${field}'))) IN ('', 'NA', 'NA-HEADER') THEN NULL ELSE trim(json_extract_string(j, '$.${field}')) END`;
}

/**
 * The distinct requests of a JSONL file of Event Hubs bodies, one row per request, with the fields the chargeback
 * needs. A body is a v1 event, an AI Hub Gateway usage payload, or an Azure Monitor `{"records":[…]}` envelope
 * (APIM `GatewayLlmLogs` rows; `RequestResponse` records, which are diagnostics, not requests).
 *
 * - v1 events: validated by the v1 rules, deduplicated by `apimRequestId` (else `gatewayRequestId`).
 * - GatewayLlmLogs: the rows of one `CorrelationId` (APIM's request id, the v1 `gatewayRequestId`) are one request;
 *   its tokens are those of the row that has them (message rows carry null or 0). A v1 event of the same request
 *   keeps its own tokens when it has usage, and takes the LLM log's (no cached or reasoning split) when it has none.
 * - AI Hub payloads: `timestamp` in en-US `M/d/yyyy h:mm:ss AM|PM` (UTC; 24-hour and ISO-8601 accepted too), token
 *   counts as integers or digit strings, `NA`/`NA-HEADER` meaning unknown; one request per payload `id` (the response
 *   body's id, its own family: it never meets an APIM id). Their completion tokens include reasoning; they report none.
 *
 * What SQL here does not express: a body that is a JSON array of events, or a `{"records":[…]}` of v1 events or
 * `GatewayLogs` (the simulated files hold none); the field-by-field validation of APIM records and AI Hub payloads
 * beyond their ids, times and token counts (the pipeline dead-letters a malformed one, this skips only those); the
 * LLM-log export's CSV and query-API forms (JSON lines only); and which record wins when two with one correlation id
 * differ (the pipeline prefers one without unusable fields; the simulated records of one id are identical).
 */
export function loadRequestsSql(eventsFile: string, sources: RequestSources = {}): string {
  const token = (name: string) => `json_extract(j, '$.usage.${name}')`;
  const int = (path: string) => `json_type(j, '${path}') IN ('UBIGINT', 'BIGINT')`;
  const count = (name: string) => `TRY_CAST(json_extract_string(j, '$.usage.${name}') AS BIGINT)`;
  const optionalCount = (name: string) =>
    `(json_type(j, '$.usage.${name}') IS NULL OR (${int(`$.usage.${name}`)} AND ${count(name)} BETWEEN 0 AND 100000000))`;
  const llmCount = (name: string) => `coalesce(TRY_CAST(json_extract_string(r, '$.properties.${name}') AS BIGINT), 0)`;
  const exportCount = (name: string) => `coalesce(TRY_CAST(json_extract_string(x, '$.${name}') AS BIGINT), 0)`;
  const llmExport = sources.llmLogExport
    ? `SELECT lower(json_extract_string(x, '$.CorrelationId')) AS gid,
              max(${exportCount('PromptTokens')}) AS prompt, max(${exportCount('CompletionTokens')}) AS completion
       FROM (SELECT json AS x FROM read_json_objects(${sqlString(sources.llmLogExport)}, format = 'newline_delimited'))
       GROUP BY gid`
    : 'SELECT NULL::VARCHAR AS gid, NULL::BIGINT AS prompt, NULL::BIGINT AS completion WHERE false';
  const archive = sources.archiveDir
    ? `SELECT lower(json_extract_string(d, '$.correlationId')) AS correlation_id,
              CASE WHEN json_type(d, '$.properties') = 'VARCHAR' THEN CAST(json_extract_string(d, '$.properties') AS JSON)
                   ELSE json_extract(d, '$.properties') END AS p
       FROM (SELECT json AS d FROM read_json_objects(${sqlString(`${sources.archiveDir}/insights-logs-requestresponse/**/*.json`)}, format = 'newline_delimited'))`
    : 'SELECT NULL::VARCHAR AS correlation_id, NULL::JSON AS p WHERE false';
  return `
    CREATE OR REPLACE TABLE requests AS
    -- Read once and validated once, though several sources below use them.
    WITH raw AS MATERIALIZED (
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
    distinct_requests AS MATERIALIZED (
      SELECT *,
        coalesce(lower(trim(json_extract_string(j, '$.apimRequestId'))), lower(trim(json_extract_string(j, '$.gatewayRequestId')))) AS id
      FROM valid
      QUALIFY row_number() OVER (PARTITION BY id ORDER BY CAST(j AS VARCHAR)) = 1
    ),
    llm_rows AS (
      SELECT r,
        lower(json_extract_string(r, '$.correlationId')) AS gid,
        ${llmCount('promptTokens')} AS prompt,
        ${llmCount('completionTokens')} AS completion,
        nullif(trim(json_extract_string(r, '$.properties.modelName')), '') AS model,
        nullif(trim(json_extract_string(r, '$.properties.deploymentName')), '') AS deployment,
        TRY_CAST(json_extract_string(r, '$.time') AS TIMESTAMPTZ) AS ts
      FROM (SELECT unnest(json_extract(j, '$.records[*]')) AS r FROM raw WHERE json_type(j, '$.records') = 'ARRAY')
      WHERE json_extract_string(r, '$.category') = 'GatewayLlmLogs'
        AND trim(coalesce(json_extract_string(r, '$.correlationId'), '')) <> ''
    ),
    -- Redelivered copies repeat rows: one request per CorrelationId, its tokens from the row that counted them.
    llm AS (
      SELECT gid,
        arg_max(prompt, prompt + completion) AS prompt,
        arg_max(completion, prompt + completion) AS completion,
        max(prompt + completion) > 0 AS counted,
        arg_max(model, prompt + completion) AS model,
        arg_max(deployment, prompt + completion) AS deployment,
        min(ts) AS ts
      FROM llm_rows GROUP BY gid
    ),
    llm_export AS (${llmExport}),
    v1 AS (
      SELECT
        r.id,
        least(r.ts, l.ts) AS ts,
        coalesce(
          nullif(lower(trim(json_extract_string(j, '$.caller.oid'))), ''),
          nullif(lower(trim(json_extract_string(j, '$.caller.appid'))), ''),
          nullif(trim(json_extract_string(j, '$.subscriptionId')), ''),
          'unattributed') AS identity,
        coalesce(json_extract_string(j, '$.model'), l.model) AS model,
        coalesce(json_extract_string(j, '$.deployment'), l.deployment) AS deployment,
        lower(trim(json_extract_string(j, '$.apimRequestId'))) AS apim_request_id,
        CASE WHEN json_type(j, '$.usage') = 'OBJECT' THEN 'gateway' WHEN l.counted THEN 'llm-log'
             WHEN json_extract_string(j, '$.stream') = 'true' AND x.gid IS NOT NULL THEN 'llm-export' ELSE 'none' END AS tokens_from,
        coalesce(${count('promptTokens')}, 0) AS v1_prompt,
        coalesce(${count('cachedTokens')}, 0) AS v1_cached,
        coalesce(${count('completionTokens')}, 0) AS v1_completion,
        coalesce(${count('reasoningTokens')}, 0) AS v1_reasoning,
        l.prompt AS llm_prompt, l.completion AS llm_completion, x.prompt AS export_prompt, x.completion AS export_completion
      FROM distinct_requests r
      LEFT JOIN llm l ON l.gid = lower(trim(json_extract_string(r.j, '$.gatewayRequestId')))
      LEFT JOIN llm_export x ON x.gid = lower(trim(json_extract_string(r.j, '$.gatewayRequestId')))
    ),
    -- LLM-log rows with no v1 event: a request of their own, with nobody to charge.
    llm_only AS (
      SELECT l.gid AS id, l.ts, 'unattributed' AS identity, l.model, l.deployment, NULL::VARCHAR AS apim_request_id, 'llm-log' AS tokens_from,
        CASE WHEN l.counted THEN l.prompt ELSE 0 END AS prompt, 0::BIGINT AS cached,
        CASE WHEN l.counted THEN l.completion ELSE 0 END AS completion, 0::BIGINT AS reasoning
      FROM llm l ANTI JOIN (SELECT lower(trim(json_extract_string(j, '$.gatewayRequestId'))) AS gid FROM distinct_requests) r ON r.gid = l.gid
      WHERE l.ts IS NOT NULL
    ),
    ai_hub AS (
      SELECT j,
        coalesce(
          try_strptime(trim(json_extract_string(j, '$.timestamp')), '%m/%d/%Y %I:%M:%S %p'),
          try_strptime(trim(json_extract_string(j, '$.timestamp')), '%m/%d/%Y %H:%M:%S'),
          CAST(TRY_CAST(json_extract_string(j, '$.timestamp') AS TIMESTAMPTZ) AS TIMESTAMP)) AS utc,
        ${aiHubCount('promptTokens')} AS prompt,
        ${aiHubCount('responseTokens')} AS completion,
        ${aiHubCount('cachedTokens')} AS cached
      FROM raw
      WHERE json_type(j) = 'OBJECT' AND json_type(j, '$.schema') IS NULL AND json_type(j, '$.category') IS NULL
        AND json_type(j, '$.promptTokens') IS NOT NULL AND json_type(j, '$.responseTokens') IS NOT NULL
        AND json_type(j, '$.id') = 'VARCHAR' AND trim(json_extract_string(j, '$.id')) <> ''
    ),
    ai_hub_requests AS (
      SELECT
        'ai-hub:' || lower(trim(json_extract_string(j, '$.id'))) AS id,
        -- en-US times are UTC without a zone.
        timezone('UTC', utc) AS ts,
        coalesce(lower(${aiHubText('appId')}), ${aiHubText('subscriptionId')}, 'unattributed') AS identity,
        ${aiHubText('model')} AS model,
        ${aiHubText('deploymentName')} AS deployment,
        NULL::VARCHAR AS apim_request_id, 'ai-hub' AS tokens_from,
        prompt, coalesce(cached, 0) AS cached, completion, 0::BIGINT AS reasoning
      FROM ai_hub
      WHERE utc IS NOT NULL AND prompt IS NOT NULL AND completion IS NOT NULL
        AND (json_type(j, '$.cachedTokens') IS NULL OR json_type(j, '$.cachedTokens') = 'NULL' OR cached IS NOT NULL)
        AND coalesce(cached, 0) <= prompt
      QUALIFY row_number() OVER (PARTITION BY id ORDER BY CAST(j AS VARCHAR)) = 1
    ),
    all_requests AS (
      SELECT id, ts, identity, model, deployment, apim_request_id, tokens_from,
        CASE tokens_from WHEN 'gateway' THEN v1_prompt WHEN 'llm-log' THEN llm_prompt WHEN 'llm-export' THEN export_prompt ELSE 0 END AS prompt,
        CASE tokens_from WHEN 'gateway' THEN v1_cached ELSE 0 END AS cached,
        CASE tokens_from WHEN 'gateway' THEN v1_completion WHEN 'llm-log' THEN llm_completion WHEN 'llm-export' THEN export_completion ELSE 0 END AS completion,
        CASE tokens_from WHEN 'gateway' THEN v1_reasoning ELSE 0 END AS reasoning
      FROM v1
      UNION ALL SELECT * FROM llm_only
      UNION ALL SELECT * FROM ai_hub_requests
    ),
    -- One record per correlation id; a joined request is priced by the record's model name and version.
    records AS (
      SELECT correlation_id,
        any_value(json_extract_string(p, '$.modelName')) AS model_name,
        any_value(json_extract_string(p, '$.modelVersion')) AS model_version
      FROM (${archive}) GROUP BY correlation_id
    )
    SELECT
      a.id, a.ts, CAST(a.ts AS DATE) AS day, a.identity,
      coalesce(a.model, d.model_name) AS model,
      coalesce(d.model_name || coalesce('-' || d.model_version, ''), a.model) AS pricing_model,
      a.deployment, a.tokens_from, a.prompt, a.cached, a.completion, a.reasoning
    FROM all_requests a
    LEFT JOIN records d ON d.correlation_id = a.apim_request_id`;
}

/** Each request with the price entry in effect on its UTC day (deployment entry first, else the owning model prefix). */
export const PRICED_SQL = `
  CREATE OR REPLACE TABLE priced AS
  WITH prefixes AS (SELECT DISTINCT model_prefix AS prefix FROM prices WHERE model_prefix IS NOT NULL),
  owner AS (
    -- The model's own entry, else the longest entry it continues with versions only (a date, four digits, a short
    -- number, -preview), whatever its dates: a name continued otherwise is another model.
    SELECT r.id, arg_max(p.prefix, length(p.prefix)) AS prefix
    FROM requests r JOIN prefixes p ON r.pricing_model = p.prefix OR (starts_with(r.pricing_model, p.prefix || '-')
      AND regexp_full_match(r.pricing_model[length(p.prefix) + 1:], '(?i)(-(\\d{4}-\\d{2}-\\d{2}|\\d{4}|\\d{1,3}(\\.\\d+)?|preview))+'))
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
