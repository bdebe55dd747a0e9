import { z } from 'zod';
import { GATEWAY_EVENT_SCHEMA_V1, MAX_TEXT_LENGTH, type GatewayEventV1Input } from './gateway-event.js';
import type { AdaptedEvent } from './adapted-event.js';

/**
 * APIM resource logs streamed by a diagnostic setting to Event Hubs arrive as `{"records":[…]}`.
 * `GatewayLogs` (table ApiManagementGatewayLogs) describe the HTTP exchange; `GatewayLlmLogs`
 * (table ApiManagementGatewayLlmLog) carry token counts, also for streamed completions.
 * Both use the gateway's own request id (`context.RequestId`) as `correlationId`; neither carries the caller's
 * token claims. The backend's `apim-request-id` and `x-ms-region` headers are in `GatewayLogs` only when the
 * diagnostic setting logs backend response headers (`backendResponseHeaders`, the `BackendResponseHeaders`
 * column of ApiManagementGatewayLogs).
 */
const resourceId = z.string().max(1024);

export const apimGatewayLogRecordSchema = z.object({
  category: z.literal('GatewayLogs'),
  time: z.string(),
  resourceId,
  correlationId: z.string().min(1).max(256),
  durationMs: z.number().nullish(),
  location: z.string().max(128).nullish(),
  properties: z.object({
    operationId: z.string().max(256).nullish(),
    apimSubscriptionId: z.string().max(256).nullish(),
    subscriptionId: z.string().max(256).nullish(),
    productId: z.string().max(256).nullish(),
    backendId: z.string().max(256).nullish(),
    // No length of Azure's: a URL is what the client sent (the adapter cuts what it keeps, as the policy does).
    backendUrl: z.string().max(65_536).nullish(),
    url: z.string().max(65_536).nullish(),
    method: z.string().max(64).nullish(),
    requestBody: z.string().nullish(),
    backendResponseBody: z.string().nullish(),
    backendResponseCode: z.number().int().nullish(),
    /** Headers by name; Azure Monitor writes an object, some exports a JSON string of one. Values may be lists. */
    backendResponseHeaders: z.union([z.string().max(65_536), z.record(z.string(), z.unknown())]).nullish(),
    backendTime: z.number().nullish(),
    responseCode: z.number().int().nullish(),
    /** "Status of API Management cache involvement in request processing (hit, miss, none)" (gateway log schema reference). */
    cache: z.string().max(64).nullish(),
  }),
});

const llmNumber = z.number().int().nullish();
export const apimLlmLogRecordSchema = z.object({
  category: z.literal('GatewayLlmLogs'),
  time: z.string(),
  resourceId,
  correlationId: z.string().min(1).max(256),
  location: z.string().max(128).nullish(),
  properties: z.looseObject({
    deploymentName: z.string().max(256).nullish(),
    DeploymentName: z.string().max(256).nullish(),
    modelName: z.string().max(256).nullish(),
    ModelName: z.string().max(256).nullish(),
    promptTokens: llmNumber,
    PromptTokens: llmNumber,
    completionTokens: llmNumber,
    CompletionTokens: llmNumber,
    totalTokens: llmNumber,
    TotalTokens: llmNumber,
    isStreamCompletion: z.boolean().nullish(),
    IsStreamCompletion: z.boolean().nullish(),
    /** Index of this row among the rows of one split request (Microsoft Learn, "Log token usage, prompts, and completions"). */
    sequenceNumber: z.number().int().nullish(),
    SequenceNumber: z.number().int().nullish(),
  }),
});

export const apimDiagnosticRecordSchema = z.discriminatedUnion('category', [
  apimGatewayLogRecordSchema,
  apimLlmLogRecordSchema,
]);
export type ApimDiagnosticRecord = z.infer<typeof apimDiagnosticRecordSchema>;

/** `…/PROVIDERS/MICROSOFT.APIMANAGEMENT/SERVICE/<NAME>` → `<name>` (resource ids are upper-cased in logs). */
function serviceName(id: string): string {
  const match = /\/SERVICE\/([^/]+)/i.exec(id);
  return (match?.[1] ?? id).toLowerCase();
}

/**
 * The deployment segment of an Azure OpenAI URL: `/deployments/{deployment-id}/…`, percent-decoded; as written when
 * its escapes are not UTF-8 (`gpt-4o%FF`: any client can send one).
 */
export function deploymentFromUrl(url: string | null | undefined): string | null {
  if (!url) return null;
  const segment = /\/deployments\/([^/?#]+)/i.exec(url.split(/[?#]/, 1)[0]!)?.[1];
  if (!segment) return null;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** A JSON object written as text (as APIM logs bodies and, in some exports, headers), or null. */
export function parseJsonObject(text: string | null | undefined): Record<string, unknown> | null {
  if (!text) return null;
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The headers of `backendResponseHeaders` the adapter reads (lower case). */
export const BACKEND_HEADERS_READ = ['apim-request-id', 'x-ms-region'] as const;

/** A header of `backendResponseHeaders`, found case-insensitively; a list of values gives its first. */
export function backendHeader(headers: string | Record<string, unknown> | null | undefined, name: string): string | null {
  const object = typeof headers === 'string' ? parseJsonObject(headers) : (headers ?? null);
  if (!object) return null;
  for (const [key, value] of Object.entries(object)) {
    if (key.toLowerCase() !== name) continue;
    const first = Array.isArray(value) ? value[0] : value;
    return typeof first === 'string' && first.trim() !== '' ? first.trim() : null;
  }
  return null;
}

const openAiUsageSchema = z.object({
  prompt_tokens: z.number().optional(),
  completion_tokens: z.number().optional(),
  total_tokens: z.number().optional(),
  input_tokens: z.number().optional(),
  output_tokens: z.number().optional(),
  prompt_tokens_details: z.object({ cached_tokens: z.number().optional(), audio_tokens: z.number().nullish() }).nullish(),
  input_tokens_details: z.object({ cached_tokens: z.number().optional() }).nullish(),
  // Realtime and transcription (gpt-4o-transcribe) models: input_token_details / output_token_details.
  // Realtime: cached_tokens_details says how many of the cached tokens are audio.
  input_token_details: z
    .object({ cached_tokens: z.number().optional(), audio_tokens: z.number().nullish(), cached_tokens_details: z.object({ audio_tokens: z.number().nullish() }).nullish() })
    .nullish(),
  completion_tokens_details: z.object({ reasoning_tokens: z.number().optional(), audio_tokens: z.number().nullish() }).nullish(),
  output_tokens_details: z.object({ reasoning_tokens: z.number().optional() }).nullish(),
  output_token_details: z.object({ audio_tokens: z.number().nullish() }).nullish(),
});

/** Usage of a Chat Completions / Completions / Embeddings body, or of a Responses API body. */
export function usageFromResponseBody(body: Record<string, unknown> | null): GatewayEventV1Input['usage'] {
  const parsed = openAiUsageSchema.safeParse(body?.['usage']);
  if (!parsed.success) return null;
  const u = parsed.data;
  const promptTokens = u.prompt_tokens ?? u.input_tokens;
  if (promptTokens === undefined) return null;
  // Cached audio is among the cached tokens, priced as cached: the audio tokens priced as audio are the others.
  const cachedAudio = u.input_token_details?.cached_tokens_details?.audio_tokens ?? 0;
  const audioPromptTokens = Math.max(0, (u.prompt_tokens_details?.audio_tokens ?? u.input_token_details?.audio_tokens ?? 0) - cachedAudio);
  const audioCompletionTokens = u.completion_tokens_details?.audio_tokens ?? u.output_token_details?.audio_tokens ?? 0;
  return {
    ...(audioPromptTokens > 0 ? { audioPromptTokens } : {}),
    ...(audioCompletionTokens > 0 ? { audioCompletionTokens } : {}),
    promptTokens,
    cachedTokens: u.prompt_tokens_details?.cached_tokens ?? u.input_tokens_details?.cached_tokens ?? u.input_token_details?.cached_tokens ?? 0,
    completionTokens: u.completion_tokens ?? u.output_tokens ?? 0,
    reasoningTokens: u.completion_tokens_details?.reasoning_tokens ?? u.output_tokens_details?.reasoning_tokens ?? 0,
    // Absent when the body has none, as zod leaves an absent optional key (then the fast check can vouch for it).
    ...(u.total_tokens === undefined ? {} : { totalTokens: u.total_tokens }),
  };
}

/**
 * Whether a response body's usage is not this call's to bill (the policy's rule, gateway/tokenledger-log-policy.xml):
 * - a read of a stored object, whose usage is that of the call that created it, which Azure billed: a stored Responses
 *   API response read (GET /responses/{id}, or the idempotent POST /responses/{id}/cancel), except a background
 *   response's, whose create answered no usage; a stored chat completion read or given new metadata
 *   (/chat/completions/{id});
 * - a Batch API job (`batch`, created, polled or cancelled): its usage sums its requests', billed once at the batch price;
 * - an Assistants run step (`thread.run.step`), part of its run's usage; a run (`thread.run`) other than the poll (GET)
 *   that finds it done, such as a run given new metadata.
 */
function billsNoUsage(body: Record<string, unknown> | null, method: string | null | undefined, url: string | null | undefined): boolean {
  const path = (url ?? '').split(/[?#]/, 1)[0]!.replace(/\/+$/, '').toLowerCase();
  const get = method?.toUpperCase() === 'GET';
  switch (body?.['object']) {
    case 'response':
      return (get || path.endsWith('/cancel')) && body['background'] !== true;
    case 'chat.completion':
      return !path.endsWith('/chat/completions');
    case 'batch':
    case 'thread.run.step':
      return true;
    case 'thread.run':
      return !get;
    default:
      return false;
  }
}

/** A text cut to the gateway event's length, never inside a surrogate pair (as the policy cuts it). */
function cutText(text: string | null): string | null {
  if (text === null || text.length <= MAX_TEXT_LENGTH) return text;
  const last = text.charCodeAt(MAX_TEXT_LENGTH - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? MAX_TEXT_LENGTH - 1 : MAX_TEXT_LENGTH);
}

/** The backend URL as the policy sends it: without its query string, cut to the gateway event's length. */
function backendUrlOf(url: string | null | undefined): string | null {
  return url ? cutText(url.split(/[?#]/, 1)[0]!) : null;
}

/**
 * Maps one APIM diagnostic record onto gateway event v1. Request and response bodies are read only
 * for the stream flag, the model and the usage; they are never kept.
 */
export function adaptApimRecord(record: ApimDiagnosticRecord): AdaptedEvent {
  if (record.category === 'GatewayLogs') {
    const p = record.properties;
    const responseBody = parseJsonObject(p.backendResponseBody);
    const requestBody = parseJsonObject(p.requestBody);
    const notBilledHere = billsNoUsage(responseBody, p.method, p.backendUrl ?? p.url);
    // A response APIM served from its cache never reached Azure OpenAI: Azure billed nothing, no backend answered.
    const cacheHit = p.cache?.toLowerCase() === 'hit';
    const usage = notBilledHere || cacheHit ? null : usageFromResponseBody(responseBody);
    const model = typeof responseBody?.['model'] === 'string' ? responseBody['model'] : null;
    const subscriptionId = p.apimSubscriptionId ?? p.subscriptionId ?? null;
    const apimRequestId = cacheHit ? null : backendHeader(p.backendResponseHeaders, BACKEND_HEADERS_READ[0]);
    const backendRegion = cacheHit ? null : backendHeader(p.backendResponseHeaders, BACKEND_HEADERS_READ[1]);
    const event: GatewayEventV1Input = {
      schema: GATEWAY_EVENT_SCHEMA_V1,
      gatewayRequestId: record.correlationId,
      apimRequestId,
      time: record.time,
      gateway: {
        service: serviceName(record.resourceId),
        region: record.location ?? null,
        backendId: p.backendId ?? null,
        backendUrl: backendUrlOf(p.backendUrl),
      },
      backendRegion,
      subscriptionId,
      productId: p.productId ?? null,
      caller: null,
      // As the policy reads it (`context.Request.OriginalUrl`): the client's URL's deployment segment, not the one a
      // rewrite forwards to; else (the v1 API, `/openai/v1/chat/completions`) the request body's model.
      deployment: cutText(deploymentFromUrl(p.url ?? p.backendUrl) ?? (typeof requestBody?.['model'] === 'string' ? requestBody['model'] : null)),
      model,
      operation: p.operationId ?? null,
      stream: requestBody?.['stream'] === true,
      status: httpStatus(p.responseCode) ?? httpStatus(p.backendResponseCode),
      usage,
      timings: { totalMs: nonNegative(record.durationMs), backendMs: cacheHit ? null : nonNegative(p.backendTime), ttftMs: null },
      rateLimit: null,
    };
    const missing = ['caller', 'rateLimit', 'timings.ttftMs'];
    if (!apimRequestId && !cacheHit) missing.push('apimRequestId');
    if (!backendRegion && !cacheHit) missing.push('backendRegion');
    if (!subscriptionId) missing.push('subscriptionId');
    if (!p.backendId) missing.push('gateway.backendId');
    if (!usage && !notBilledHere && !cacheHit) missing.push('usage');
    if (!model) missing.push('model');
    return { source: 'apim-gateway-logs', sourceId: record.correlationId, event, missing };
  }

  const p = record.properties;
  const promptTokens = p.promptTokens ?? p.PromptTokens ?? null;
  const completionTokens = p.completionTokens ?? p.CompletionTokens ?? null;
  const totalTokens = p.totalTokens ?? p.TotalTokens ?? null;
  // A large request is split into several rows; the message rows carry null or 0 tokens and no deployment.
  const counted = (promptTokens ?? 0) > 0 || (completionTokens ?? 0) > 0 || (totalTokens ?? 0) > 0;
  const deployment = nonEmpty(p.deploymentName ?? p.DeploymentName);
  const event: GatewayEventV1Input = {
    schema: GATEWAY_EVENT_SCHEMA_V1,
    gatewayRequestId: record.correlationId,
    apimRequestId: null,
    time: record.time,
    gateway: { service: serviceName(record.resourceId), region: record.location ?? null, backendId: null, backendUrl: null },
    backendRegion: null,
    subscriptionId: null,
    productId: null,
    caller: null,
    deployment,
    model: nonEmpty(p.modelName ?? p.ModelName),
    operation: null,
    stream: p.isStreamCompletion ?? p.IsStreamCompletion ?? false,
    status: null,
    usage: counted ? { promptTokens: promptTokens ?? 0, completionTokens: completionTokens ?? 0, ...(totalTokens === null ? {} : { totalTokens }) } : null,
    timings: null,
    rateLimit: null,
  };
  return {
    source: 'apim-llm-log',
    sourceId: record.correlationId,
    event,
    missing: [
      'apimRequestId',
      'backendRegion',
      'caller',
      'subscriptionId',
      'operation',
      'status',
      'timings',
      'rateLimit',
      'usage.cachedTokens',
      'usage.reasoningTokens',
      ...(counted ? [] : ['usage']),
      ...(deployment ? [] : ['deployment']),
    ],
  };
}

function nonEmpty(value: string | null | undefined): string | null {
  return value === null || value === undefined || value.trim() === '' ? null : value;
}

/**
 * A logged response code as an HTTP status, or null: 0 is none. APIM logs `responseCode` 0 when no response reached
 * the client (it closed the connection first), though the backend may have answered, and its tokens been billed.
 */
function httpStatus(code: number | null | undefined): number | null {
  return code === null || code === undefined || code === 0 ? null : code;
}

function nonNegative(value: number | null | undefined): number | null {
  return typeof value === 'number' && value >= 0 ? value : null;
}
