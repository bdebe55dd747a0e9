import { GATEWAY_EVENT_SCHEMA_V1, type GatewayEventV1Input } from '../contracts/gateway-event.js';
import { simulatedCostExport, type AzureCall, type InvoiceTruth } from './cost-export.js';
import { Random } from './random.js';
import {
  AI_HUB_GATEWAY,
  AZURE_SUBSCRIPTION,
  BACKENDS,
  DEPLOYMENTS,
  GATEWAY,
  GATEWAY_OBJECT_ID,
  RESOURCE_GROUP,
  createIdentities,
  type SimulatedBackend,
  type SimulatedDeployment,
  type SimulatedIdentity,
} from './population.js';

export interface SimulationOptions {
  readonly requests: number;
  readonly seed: number;
  /** UTC day to simulate, `YYYY-MM-DD`. */
  readonly day: string;
  /**
   * Inject the faults reconciliation must find: gateway events lost before Event Hubs (~0.5 %) and a token
   * drift in Azure Monitor metrics (one hour of one deployment reports twice its prompt tokens).
   */
  readonly faults?: boolean;
}

/** One `ApiManagementGatewayLlmLog` row, as a Log Analytics export (JSON lines) holds it. */
export interface LlmLogRow {
  readonly TimeGenerated: string;
  readonly CorrelationId: string;
  readonly DeploymentName: string;
  readonly ModelName: string;
  readonly PromptTokens: number;
  readonly CompletionTokens: number;
  readonly TotalTokens: number;
  readonly IsStreamCompletion: boolean;
}

/** What each reconciliation check must report, and nothing else. */
export interface ReconciliationTruth {
  readonly gatewayObjectId: string;
  /** `apim-request-id`s of answered requests whose gateway event was lost but whose diagnostic record exists. */
  readonly lostEvents: readonly string[];
  /** Gateway request ids of lost events that APIM's LLM log counted (answered with tokens). */
  readonly lostGatewayRequestIds: readonly string[];
  /** `apim-request-id`s of gateway requests whose diagnostic record is missing. */
  readonly missingDiagnostics: readonly string[];
  /** CorrelationIds of calls that bypassed the gateway, and those made with an account key. */
  readonly bypass: readonly string[];
  readonly keyBased: readonly string[];
  /** The (hour, deployment) whose metrics report more prompt tokens than were processed. */
  readonly tokenDrift: { readonly hour: string; readonly deployment: string } | null;
}

/** What the pipeline must find: computed from the simulated requests themselves, never by pipeline code. */
export interface GroundTruth {
  readonly seed: number;
  readonly day: string;
  readonly requests: number;
  readonly events: {
    readonly lines: number;
    readonly distinct: number;
    readonly duplicates: number;
    readonly malformed: number;
    /** Lines of APIM GatewayLlmLogs records of requests a v1 event already tells: merged, no entry of their own. */
    readonly llmLogLines: number;
    /** Lines of Azure OpenAI RequestResponse records: diagnostics, neither entries nor dead letters. */
    readonly diagnosticLines: number;
  };
  /** How many distinct requests or lines each source mix holds, so a reader sees every one was exercised. */
  readonly sources: SourceMix;
  readonly ledgerEntries: number;
  readonly deadLetters: number;
  readonly identities: readonly IdentityTotals[];
  readonly join: { readonly matched: number; readonly noDiagnostics: number; readonly bypass: number };
  readonly diagnostics: { readonly records: number; readonly late: number; readonly missing: number; readonly bypass: number };
  readonly reconciliation: ReconciliationTruth;
  /** What Azure bills for the day (the cost export), and how much of it allocation can place. */
  readonly invoice: InvoiceTruth;
}

export interface SourceMix {
  /** Requests told by a v1 event only. */
  readonly v1: number;
  /** Requests told by an AI Hub Gateway usage payload, as the accelerator's policy writes it (numbers, CRLF indentation). */
  readonly aiHubPayloads: number;
  /** ... of which `main`'s payload without `cachedTokens` (the rest are `citadel-v1`'s). */
  readonly aiHubWithoutCachedTokens: number;
  /** Requests told by the accelerator's stored usage record (Stream Analytics output: token counts as digit strings). */
  readonly aiHubUsageRecords: number;
  /** AI Hub payloads and records with a 12 AM or 12 PM hour. */
  readonly aiHubTwelveOClock: number;
  /** Requests told by a v1 event and by APIM GatewayLlmLogs rows (one event hub line each). */
  readonly v1AndLlmLog: number;
  /** ... of which interrupted streams: the v1 event has no usage, the LLM-log token row has it. */
  readonly v1AndLlmLogInterrupted: number;
  /** GatewayLlmLogs rows on the event hub (token rows and message rows). */
  readonly llmLogRows: number;
  /** Azure OpenAI RequestResponse records delivered over the event hub as `{"records":[…]}` (also in the archive). */
  readonly requestResponseOverEventHubs: number;
  /** Streams interrupted before their usage arrived, whose tokens come from APIM's LLM log. */
  readonly interruptedStreams: number;
}

export interface IdentityTotals {
  readonly identity: string;
  readonly kind: SimulatedIdentity['kind'];
  readonly requests: number;
  readonly promptTokens: number;
  readonly cachedTokens: number;
  readonly completionTokens: number;
  readonly reasoningTokens: number;
}

export interface SimulatedDay {
  /** Event Hubs bodies in delivery order (duplicates, reordering and malformed events included). */
  readonly eventLines: readonly string[];
  /** Archive blob path → JSON lines, in the order Azure appends them (by receive time). */
  readonly archive: ReadonlyMap<string, readonly string[]>;
  /** Every call Azure OpenAI answered and bills, through the gateway or not. */
  readonly azureCalls: readonly AzureCall[];
  /** The day's Azure OpenAI charges as a Cost Management "Cost and usage details (FOCUS)" CSV export. */
  readonly costExport: string;
  /** Its data rows. */
  readonly costExportRows: number;
  readonly identities: readonly SimulatedIdentity[];
  /** APIM's LLM log (every request the backend answered with tokens, interrupted streams included). */
  readonly llmLog: readonly LlmLogRow[];
  /** Azure Monitor metrics of the Azure OpenAI accounts, in the REST API's response shape (PT1H grain). */
  readonly metrics: unknown;
  readonly groundTruth: GroundTruth;
}

const DAY_MS = 86_400_000;
/** .NET ticks (100 ns) between 0001-01-01 and the Unix epoch. */
const EPOCH_TICKS = 621_355_968_000_000_000n;
/** Traffic by UTC hour: a working-day curve over Europe and the US. */
const HOURLY_WEIGHT = [2, 1, 1, 1, 1, 2, 4, 7, 10, 12, 12, 11, 10, 11, 12, 12, 11, 9, 7, 5, 4, 3, 3, 2];

function ticks(ms: number): string {
  return (BigInt(Math.round(ms)) * 10_000n + EPOCH_TICKS).toString();
}

function archivePath(account: string, receivedMs: number): string {
  const d = new Date(receivedMs);
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `insights-logs-requestresponse/resourceId=/SUBSCRIPTIONS/${AZURE_SUBSCRIPTION.toUpperCase()}/RESOURCEGROUPS/${RESOURCE_GROUP}` +
    `/PROVIDERS/MICROSOFT.COGNITIVESERVICES/ACCOUNTS/${account.toUpperCase()}` +
    `/y=${d.getUTCFullYear()}/m=${two(d.getUTCMonth() + 1)}/d=${two(d.getUTCDate())}/h=${two(d.getUTCHours())}/m=00/PT1H.json`
  );
}

interface Usage {
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  reasoningTokens: number;
}

function simulateUsage(random: Random, deployment: SimulatedDeployment): Usage {
  const promptTokens = Math.max(5, Math.round(random.logNormal(deployment.operation === 'Embeddings_Create' ? 300 : 900, 0.9)));
  if (deployment.operation === 'Embeddings_Create') return { promptTokens, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 };
  // Prompt caching applies to prompts of at least 1,024 tokens, in 128-token increments.
  const cachedTokens = promptTokens >= 1024 && random.chance(0.4) ? Math.floor((promptTokens * random.next()) / 128) * 128 : 0;
  const visible = Math.max(1, Math.round(random.logNormal(220, 0.8)));
  const reasoningTokens = deployment.reasoning ? Math.round(random.logNormal(600, 0.7)) : 0;
  return { promptTokens, cachedTokens, completionTokens: visible + reasoningTokens, reasoningTokens };
}

function requestTime(random: Random, dayStart: number): number {
  const hour = random.weighted([...HOURLY_WEIGHT.keys()], (h) => HOURLY_WEIGHT[h]!);
  return dayStart + hour * 3_600_000 + Math.floor(random.next() * 3_600_000);
}

/** How long after a response ends Azure OpenAI stamps its `RequestResponse` record. */
const RECORD_WRITE_DELAY_MS = 3_000;

function diagnosticRecord(
  random: Random,
  r: { apimRequestId: string; time: number; durationMs: number; status: number; stream: boolean; usage: Usage | null },
  backend: SimulatedBackend,
  deployment: SimulatedDeployment,
  objectId: string,
): Record<string, unknown> {
  const properties = {
    apiName: 'Azure OpenAI API version 2024-10-21',
    requestTime: '__REQUEST_TICKS__',
    requestLength: 200 + (r.usage?.promptTokens ?? 100) * 4,
    responseTime: '__RESPONSE_TICKS__',
    responseLength: 300 + (r.usage?.completionTokens ?? 20) * 4,
    objectId,
    streamType: r.stream ? 'Streaming' : 'Non-Streaming',
    modelDeploymentName: deployment.deployment,
    modelName: deployment.modelName,
    modelVersion: deployment.modelVersion,
  };
  // Ticks exceed 2^53: written as exact integer literals, as Azure writes them.
  const propertiesJson = JSON.stringify(properties)
    .replace('"__REQUEST_TICKS__"', ticks(r.time))
    .replace('"__RESPONSE_TICKS__"', ticks(r.time + r.durationMs));
  return {
    Tenant: backend.regionCode,
    callerIpAddress: `10.20.${random.int(0, 255)}.***`,
    category: 'RequestResponse',
    correlationId: r.apimRequestId,
    durationMs: r.durationMs,
    event: 'ShoeboxCallResult',
    location: backend.regionCode,
    operationName: deployment.operation,
    // Real archives hold `properties` both as a JSON string and as an object.
    properties: random.chance(0.5) ? propertiesJson : { __raw: propertiesJson },
    resourceId: `/SUBSCRIPTIONS/${AZURE_SUBSCRIPTION.toUpperCase()}/RESOURCEGROUPS/${RESOURCE_GROUP}/PROVIDERS/MICROSOFT.COGNITIVESERVICES/ACCOUNTS/${backend.account.toUpperCase()}`,
    resultSignature: String(r.status),
    // Written when the response ends, and a little later: the archived sample's time is 2.8 s after its responseTime.
    time: new Date(r.time + r.durationMs + RECORD_WRITE_DELAY_MS).toISOString().replace('Z', '0000Z'),
  };
}

/**
 * APIM's `GatewayLlmLogs` records of one request as a diagnostic setting streams them to Event Hubs: a large
 * request is split over several rows (Microsoft Learn, "Log token usage, prompts, and completions for LLM APIs"),
 * one with the tokens, deployment and model, the others with messages only: null or 0 tokens, an empty deployment.
 * The token row is not always the first.
 */
function llmLogRecordsLine(random: Random, gatewayRequestId: string, endMs: number, deployment: SimulatedDeployment, usage: Usage, stream: boolean): { line: string; rows: number } {
  const rows = random.int(2, 4);
  const tokenRow = random.int(0, rows - 1);
  const row = (sequenceNumber: number) => {
    const counted = sequenceNumber === tokenRow;
    const empty = random.chance(0.5) ? null : 0;
    return {
      time: new Date(endMs).toISOString(),
      resourceId: `/SUBSCRIPTIONS/${AZURE_SUBSCRIPTION.toUpperCase()}/RESOURCEGROUPS/${RESOURCE_GROUP}/PROVIDERS/MICROSOFT.APIMANAGEMENT/SERVICE/${GATEWAY.service.toUpperCase()}`,
      category: 'GatewayLlmLogs',
      operationName: 'Microsoft.ApiManagement/GatewayLlmLogs',
      correlationId: gatewayRequestId,
      location: GATEWAY.region,
      properties: {
        deploymentName: counted ? deployment.deployment : '',
        modelName: counted ? deployment.modelName : '',
        promptTokens: counted ? usage.promptTokens : empty,
        completionTokens: counted ? usage.completionTokens : empty,
        totalTokens: counted ? usage.promptTokens + usage.completionTokens : empty,
        isStreamCompletion: stream,
        sequenceNumber,
      },
    };
  };
  return { line: JSON.stringify({ records: Array.from({ length: rows }, (_, i) => row(i)) }), rows };
}

/** Serialises a record; an object `properties` is spliced in raw so its tick values stay exact. */
function recordLine(record: Record<string, unknown>): string {
  const properties = record['properties'];
  if (typeof properties === 'string') return JSON.stringify(record);
  const raw = (properties as { __raw: string }).__raw;
  return JSON.stringify({ ...record, properties: '__PROPERTIES__' }).replace('"__PROPERTIES__"', raw);
}

/** `DateTime.UtcNow.ToString()` on APIM (culture en-US): `M/d/yyyy h:mm:ss tt`, the hour after midnight being 12 AM. */
export function enUsTimestamp(ms: number): string {
  const d = new Date(ms);
  const hour = d.getUTCHours();
  const two = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()} ${hour % 12 === 0 ? 12 : hour % 12}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} ${hour < 12 ? 'AM' : 'PM'}`;
}

/** Json.NET's `JObject.ToString()`: two-space indentation, `"key": value`, CRLF line ends (APIM runs on Windows). */
function newtonsoftIndented(fields: Record<string, string | number>): string {
  return `{\r\n${Object.entries(fields).map(([key, value]) => `  ${JSON.stringify(key)}: ${JSON.stringify(value)}`).join(',\r\n')}\r\n}`;
}

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** The response body's `id`, which the accelerator logs as the payload id; an embeddings body has none, so it logs a new GUID. */
function responseId(random: Random, deployment: SimulatedDeployment): string {
  if (deployment.operation === 'Embeddings_Create') return random.uuid();
  if (deployment.operation === 'Responses_Create') return `resp_${Array.from({ length: 48 }, () => random.int(0, 15).toString(16)).join('')}`;
  return `chatcmpl-${Array.from({ length: 29 }, () => BASE62[random.int(0, 61)]).join('')}`;
}

/** The APIM operation display name the accelerator logs as `operationName`. */
const AI_HUB_OPERATION: Record<SimulatedDeployment['operation'], string> = {
  ChatCompletions_Create: 'Creates a completion for the chat message',
  Embeddings_Create: 'Get a vector representation of a given input that can be easily consumed by machine learning models and algorithms.',
  Responses_Create: 'Creates a model response.',
};

/**
 * One request as the AI Hub Gateway accelerator reports it (Azure-Samples/ai-hub-gateway-solution-accelerator):
 * the usage payload `frag-openai-usage.xml` logs to Event Hubs (`citadel-v1`, with `cachedTokens`; `main`, without),
 * or the usage record its Stream Analytics job stores (`src/usage-reports/usage-record.json`: token counts as
 * digit strings, three fields of the job added), replayed onto the hub. Only responses with status 200 are logged.
 */
function aiHubLine(
  random: Random,
  r: { loggedMs: number; enqueuedMs: number; identity: SimulatedIdentity; deployment: SimulatedDeployment; backend: SimulatedBackend; usage: Usage },
  form: 'citadel-v1' | 'main' | 'usage-record',
): string {
  const { deployment, backend, usage } = r;
  const fields: Record<string, string | number> = {
    id: responseId(random, deployment),
    timestamp: enUsTimestamp(r.loggedMs),
    appId: 'NA-HEADER',
    subscriptionId: r.identity.subscriptionId,
    productName: `${r.identity.team.replace(/\s+/g, '-')}-AI`,
    // The response body's `object`, as the accelerator logs it: an embeddings answer is a `list`.
    targetService: deployment.operation === 'Embeddings_Create' ? 'list' : 'chat.completion',
    model: deployment.model,
    gatewayName: AI_HUB_GATEWAY.service,
    gatewayRegion: AI_HUB_GATEWAY.region,
    aiGatewayId: 'managed',
    RequestIp: `203.0.113.${random.int(1, 254)}`,
    operationName: AI_HUB_OPERATION[deployment.operation],
    sessionId: 'NA-HEADER',
    endUserId: 'NA-HEADER',
    backendId: backend.backendId,
    routeLocation: backend.regionCode,
    routeName: backend.regionDisplayName.replace(/\s+/g, ''),
    deploymentName: deployment.deployment,
  };
  const tokens = { promptTokens: usage.promptTokens, responseTokens: usage.completionTokens, totalTokens: usage.promptTokens + usage.completionTokens };
  if (form === 'main') return newtonsoftIndented({ ...fields, ...tokens });
  const citadel = { ...fields, ...tokens, audioTokens: 0, cachedTokens: usage.cachedTokens };
  if (form === 'citadel-v1') return newtonsoftIndented(citadel);
  const enqueued = new Date(r.enqueuedMs).toISOString().replace('Z', '0000Z');
  const digits = Object.fromEntries(Object.entries(citadel).map(([key, value]) => [key, typeof value === 'number' && key !== 'PartitionId' ? String(value) : value]));
  return JSON.stringify({ ...digits, EventProcessedUtcTime: new Date(r.enqueuedMs + random.int(200, 900)).toISOString().replace('Z', '0000Z'), PartitionId: random.int(0, 3), EventEnqueuedUtcTime: enqueued }, null, 4);
}

/** An event hub line as the events file holds it: one body per line, a producer's indentation removed (raw CR and LF never occur inside JSON strings). */
export function singleLine(body: string): string {
  return body.includes('\n') || body.includes('\r') ? body.replace(/[\r\n]+ */g, '') : body;
}

const MALFORMED: readonly ((valid: string, n: number) => string)[] = [
  (valid) => valid.slice(0, Math.floor(valid.length / 2)),
  (valid) => valid.replace(/"promptTokens":\d+/, '"promptTokens":-12'),
  (valid) => valid.replace(/"promptTokens":\d+/, '"promptTokens":"12a"'),
  (valid) => valid.replace(/"gatewayRequestId":"[^"]+",/, ''),
  (valid) => valid.replace(/"time":"[^"]+"/, '"time":"yesterday"'),
  (valid) => valid.replace(GATEWAY_EVENT_SCHEMA_V1, 'tokenledger.gateway/v0'),
  (valid) => valid.replace(/"status":\d+/, '"status":999'),
  (_valid, n) => `plain text, not an event #${n}`,
  (_valid, n) => JSON.stringify({ note: 'an object of no known shape', n }),
  (valid) => valid.replace(/"time":"\d{4}/, '"time":"2999'),
];

export function simulateDay(options: SimulationOptions): SimulatedDay {
  const random = new Random(options.seed);
  const dayStart = Date.parse(`${options.day}T00:00:00Z`);
  if (Number.isNaN(dayStart)) throw new Error(`invalid day ${options.day}: expected YYYY-MM-DD`);
  const identities = createIdentities(random);
  const totals = new Map<string, { kind: SimulatedIdentity['kind']; requests: number; promptTokens: number; cachedTokens: number; completionTokens: number; reasoningTokens: number }>();
  const timed: { at: number; line: string }[] = [];
  const archive = new Map<string, { at: number; line: string }[]>();
  const addRecord = (account: string, receivedMs: number, line: string) => {
    const path = archivePath(account, receivedMs);
    const blob = archive.get(path) ?? [];
    blob.push({ at: receivedMs, line });
    archive.set(path, blob);
  };
  let matched = 0;
  let noDiagnostics = 0;
  let late = 0;
  let missing = 0;
  let lostWithRecord = 0;
  // Faults, the LLM log and metrics draw from their own generator, so they never change the rest of the day.
  const extra = new Random(options.seed ^ 0x5eed);
  const llmLog: LlmLogRow[] = [];
  // Other sources of the same requests on the gateway's event hub, from their own generator as well: APIM
  // GatewayLlmLogs records split over rows, and Azure OpenAI RequestResponse records a diagnostic setting streams.
  const sources = new Random(options.seed ^ 0x50c5);
  const sideLines: string[] = [];
  let llmLogLines = 0;
  let diagnosticLines = 0;
  const aiHub = { payloads: 0, usageRecords: 0, withoutCachedTokens: 0, twelveOClock: 0, records: 0 };
  const mix = { llmLogRows: 0, v1AndLlmLogInterrupted: 0, interruptedStreams: 0 };
  const metricTokens = new Map<string, { hour: string; deployment: string; prompt: number; generated: number }>();
  const countTokens = (time: number, deployment: string, prompt: number, generated: number) => {
    const hour = new Date(time).toISOString().slice(0, 13);
    const cell = metricTokens.get(`${hour}|${deployment}`) ?? { hour, deployment, prompt: 0, generated: 0 };
    cell.prompt += prompt;
    cell.generated += generated;
    metricTokens.set(`${hour}|${deployment}`, cell);
  };
  const lostEvents: string[] = [];
  const lostGatewayRequestIds: string[] = [];
  const missingDiagnostics: string[] = [];
  const bypassIds: string[] = [];
  const keyBased: string[] = [];
  const azureCalls: AzureCall[] = [];
  const billed = (time: number, backend: SimulatedBackend, deployment: SimulatedDeployment, usage: Usage, origin: AzureCall['origin']): AzureCall => {
    const call = { time, backend, deployment, promptTokens: usage.promptTokens, cachedTokens: usage.cachedTokens, completionTokens: usage.completionTokens, origin };
    azureCalls.push(call);
    return call;
  };

  for (let i = 0; i < options.requests; i++) {
    const identity = random.weighted(identities, (x) => x.activity);
    const deployment = random.weighted(DEPLOYMENTS, (d) => d.share);
    const backend = random.weighted(BACKENDS, (b) => b.weight);
    const time = requestTime(random, dayStart);
    // The accelerator's usage fragment reads `usage` from a whole response body: its callers do not stream.
    const stream = deployment.operation === 'ChatCompletions_Create' && random.chance(0.3) && !identity.viaAiHub;
    const gatewayThrottled = random.chance(0.005);
    const backendThrottled = !gatewayThrottled && random.chance(backend.throttleRate);
    const backendError = !gatewayThrottled && !backendThrottled && random.chance(backend.errorRate);
    const interrupted = stream && random.chance(0.05);
    const status = gatewayThrottled || backendThrottled ? 429 : backendError ? random.pick([500, 503]) : 200;
    const fullUsage = simulateUsage(random, deployment);
    const usage = status === 200 && !interrupted ? fullUsage : null;
    const outputTokens = usage?.completionTokens ?? 0;
    const serviceMs = gatewayThrottled
      ? 0
      : status === 429
        ? random.int(5, 40)
        : Math.round((backend.baseMs * (deployment.operation === 'Embeddings_Create' ? 0.3 : 1) + (outputTokens / 100) * backend.msPer100Tokens) * random.logNormal(1, 0.25));
    const backendMs = gatewayThrottled ? null : serviceMs + random.int(4, 30);
    const apimRequestId = gatewayThrottled ? null : random.uuid();
    const event: GatewayEventV1Input = {
      schema: GATEWAY_EVENT_SCHEMA_V1,
      gatewayRequestId: random.uuid(),
      apimRequestId,
      time: new Date(time).toISOString(),
      gateway: { ...GATEWAY, backendId: gatewayThrottled ? null : backend.backendId, backendUrl: gatewayThrottled ? null : `https://${backend.account}.openai.azure.com/` },
      backendRegion: gatewayThrottled ? null : backend.regionDisplayName,
      subscriptionId: identity.subscriptionId,
      productId: 'ai-standard',
      caller: identity.caller,
      deployment: deployment.deployment,
      model: usage ? deployment.model : null,
      operation: deployment.operation,
      stream,
      status,
      usage: usage ? { ...usage, totalTokens: usage.promptTokens + usage.completionTokens } : null,
      timings: { totalMs: (backendMs ?? 0) + random.int(2, 15), backendMs, ttftMs: stream && status === 200 ? Math.round(backend.baseMs * random.logNormal(1, 0.3)) : null },
      rateLimit: gatewayThrottled ? null : { remainingRequests: random.int(0, 300), remainingTokens: random.int(0, 300_000) },
    };
    const endMs = time + (backendMs ?? 0);
    const enqueuedAt = endMs + random.int(50, 2000);
    const t = totals.get(identity.identity) ?? { kind: identity.kind, requests: 0, promptTokens: 0, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 };
    const cutShort = interrupted && status === 200;
    if (identity.viaAiHub) {
      if (status === 200) {
        countTokens(time, deployment.deployment, fullUsage.promptTokens, fullUsage.completionTokens);
        billed(time, backend, deployment, fullUsage, 'aiHub');
      }
      if (usage) {
        // Logged when the response is sent; the day's last second keeps its requests in the day.
        const loggedMs = Math.min(endMs, dayStart + DAY_MS - 1000);
        const form = sources.chance(0.25) ? 'usage-record' : usage.cachedTokens === 0 && sources.chance(0.5) ? 'main' : 'citadel-v1';
        timed.push({ at: enqueuedAt, line: aiHubLine(sources, { loggedMs, enqueuedMs: enqueuedAt, identity, deployment, backend, usage }, form) });
        aiHub.payloads++;
        totals.set(identity.identity, t);
        if (form === 'usage-record') aiHub.usageRecords++;
        if (form === 'main') aiHub.withoutCachedTokens++;
        if (new Date(loggedMs).getUTCHours() % 12 === 0) aiHub.twelveOClock++;
        t.requests++;
        t.promptTokens += usage.promptTokens;
        // `main`'s payload has no cachedTokens; neither form counts reasoning tokens (they are in responseTokens).
        t.cachedTokens += form === 'main' ? 0 : usage.cachedTokens;
        t.completionTokens += usage.completionTokens;
        // No apim-request-id: the payload never joins a RequestResponse record.
        noDiagnostics++;
      }
      // The accelerator's gateway calls the same accounts with its own managed identity: from TokenLedger's side,
      // those records bypassed the gateway.
      if (apimRequestId && !random.chance(0.01)) {
        const record = diagnosticRecord(random, { apimRequestId, time, durationMs: serviceMs, status, stream, usage }, backend, deployment, AI_HUB_GATEWAY.objectId);
        addRecord(backend.account, endMs + random.int(3, 10) * 60_000, recordLine(record));
        bypassIds.push(apimRequestId);
        aiHub.records++;
      }
      continue;
    }
    const lost = Boolean(options.faults && apimRequestId && extra.chance(0.005));
    // Azure bills what the backend processed: the whole usage of a stream cut short, too.
    const call = status === 200 ? billed(time, backend, deployment, fullUsage, lost ? 'lostEvent' : cutShort ? 'cutShort' : 'gateway') : null;
    if (status === 200) {
      // The backend processed these tokens even when the client's stream was interrupted: APIM's LLM log and
      // Azure Monitor count them.
      llmLog.push({
        TimeGenerated: new Date(endMs).toISOString(),
        CorrelationId: event.gatewayRequestId,
        DeploymentName: deployment.deployment,
        ModelName: deployment.modelName,
        PromptTokens: fullUsage.promptTokens,
        CompletionTokens: fullUsage.completionTokens,
        TotalTokens: fullUsage.promptTokens + fullUsage.completionTokens,
        IsStreamCompletion: stream,
      });
      countTokens(time, deployment.deployment, fullUsage.promptTokens, fullUsage.completionTokens);
    }
    if (lost) {
      if (status === 200) lostGatewayRequestIds.push(event.gatewayRequestId);
    } else {
      timed.push({ at: enqueuedAt, line: JSON.stringify(event) });
      // An interrupted stream is charged what APIM's LLM log counted: prompt and completion tokens, no cached or
      // reasoning breakdown (the log has none). The join takes them from the log, or the ingest from its rows here.
      const charged = usage ?? (cutShort ? { ...fullUsage, cachedTokens: 0, reasoningTokens: 0 } : null);
      if (cutShort) mix.interruptedStreams++;
      if (charged && sources.chance(cutShort ? 0.3 : 0.03)) {
        // APIM's own record of the request, split over rows: merged into the v1 event's request, its tokens taken
        // only when the event has none.
        const llm = llmLogRecordsLine(sources, event.gatewayRequestId, endMs, deployment, fullUsage, stream);
        sideLines.push(llm.line);
        llmLogLines++;
        mix.llmLogRows += llm.rows;
        if (cutShort) mix.v1AndLlmLogInterrupted++;
      }
      totals.set(identity.identity, t);
      t.requests++;
      if (charged) {
        t.promptTokens += charged.promptTokens;
        t.cachedTokens += charged.cachedTokens;
        t.completionTokens += charged.completionTokens;
        t.reasoningTokens += charged.reasoningTokens;
      }
    }

    if (!apimRequestId || random.chance(0.01)) {
      if (call?.origin === 'gateway') call.origin = 'noDiagnostics';
      if (lost) continue;
      noDiagnostics++;
      if (apimRequestId) {
        missing++;
        missingDiagnostics.push(apimRequestId);
      }
      continue;
    }
    if (lost) {
      lostWithRecord++;
      // A failed call bills nothing: the checks take its record for an attempt the gateway retried.
      if (status < 400) lostEvents.push(apimRequestId!);
    } else matched++;
    const isLate = random.chance(0.03);
    if (isLate) late++;
    const delayMs = isLate ? random.int(1, 30) * 3_600_000 : random.int(3, 10) * 60_000;
    const record = diagnosticRecord(random, { apimRequestId, time, durationMs: serviceMs, status, stream, usage }, backend, deployment, GATEWAY_OBJECT_ID);
    addRecord(backend.account, endMs + delayMs, recordLine(record));
    if (sources.chance(0.02)) {
      // The same record, also streamed to Event Hubs by a second diagnostic setting.
      sideLines.push(`{"records":[${recordLine(record)}]}`);
      diagnosticLines++;
    }
  }

  // Direct calls that skipped the gateway: an Entra caller (objectId set) or an account key (objectId empty).
  const bypass = Math.max(1, Math.round(options.requests * 0.01));
  for (let i = 0; i < bypass; i++) {
    const backend = random.weighted(BACKENDS, (b) => b.weight);
    const deployment = random.weighted(DEPLOYMENTS, (d) => d.share);
    const time = requestTime(random, dayStart);
    const caller = random.pick(identities).caller;
    const objectId = random.chance(0.5) && caller ? caller.oid : '';
    const durationMs = Math.round(backend.baseMs * random.logNormal(2, 0.3));
    const correlationId = random.uuid();
    const record = diagnosticRecord(random, { apimRequestId: correlationId, time, durationMs, status: 200, stream: false, usage: null }, backend, deployment, objectId);
    addRecord(backend.account, time + durationMs + random.int(3, 10) * 60_000, recordLine(record));
    bypassIds.push(correlationId);
    if (objectId === '') keyBased.push(correlationId);
    const tokens = simulateUsage(extra, deployment);
    countTokens(time, deployment.deployment, tokens.promptTokens, tokens.completionTokens);
    billed(time, backend, deployment, tokens, 'bypass');
  }

  const cells = [...metricTokens.values()].sort((a, b) => (a.hour < b.hour ? -1 : a.hour > b.hour ? 1 : a.deployment < b.deployment ? -1 : 1));
  const medianPrompt = [...cells].sort((a, b) => a.prompt - b.prompt)[Math.floor(cells.length / 2)]?.prompt ?? 0;
  const busiest = cells.filter((c) => c.prompt > medianPrompt);
  const drifted = options.faults && busiest.length > 0 ? busiest[extra.int(0, busiest.length - 1)]! : null;
  if (drifted) drifted.prompt *= 2;
  const series = (name: 'ProcessedPromptTokens' | 'GeneratedTokens') => ({
    name: { value: name, localizedValue: name === 'ProcessedPromptTokens' ? 'Processed Prompt Tokens' : 'Generated Completion Tokens' },
    unit: 'Count',
    timeseries: DEPLOYMENTS.map((d) => ({
      metadatavalues: [{ name: { value: 'ModelDeploymentName' }, value: d.deployment }],
      data: cells.filter((c) => c.deployment === d.deployment).map((c) => ({ timeStamp: `${c.hour}:00:00Z`, total: name === 'ProcessedPromptTokens' ? c.prompt : c.generated })),
    })),
  });
  const metrics = { cost: 0, timespan: `${options.day}T00:00:00Z/${options.day}T23:59:59Z`, interval: 'PT1H', value: [series('ProcessedPromptTokens'), series('GeneratedTokens')] };

  // Delivery order: by enqueue time, with local reordering, redelivered duplicates and ~1 % malformed events.
  timed.sort((a, b) => a.at - b.at);
  const lines = timed.map((t) => t.line);
  for (let i = 0; i < lines.length; i++) {
    if (random.chance(0.1)) {
      const j = Math.min(lines.length - 1, i + random.int(1, 20));
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
    }
  }
  const malformedCount = Math.max(1, Math.round(options.requests * 0.01));
  const seen = new Set(lines);
  for (let n = 0; n < malformedCount; n++) {
    let bad: string;
    do bad = MALFORMED[n % MALFORMED.length]!(random.pick(timed).line, n);
    while (seen.has(bad));
    seen.add(bad);
    lines.splice(random.int(0, lines.length), 0, bad);
  }
  for (const line of sideLines) lines.splice(sources.int(0, lines.length), 0, line);
  const distinct = lines.length;
  const delivered: string[] = [];
  let duplicates = 0;
  const pending: { at: number; line: string }[] = [];
  lines.forEach((line, index) => {
    delivered.push(line);
    if (random.chance(0.02)) {
      pending.push({ at: index + random.int(1, 200), line });
      duplicates++;
    }
    for (let k = pending.length - 1; k >= 0; k--) {
      if (pending[k]!.at <= index) {
        delivered.push(pending[k]!.line);
        pending.splice(k, 1);
      }
    }
  });
  for (const p of pending) delivered.push(p.line);

  const sortedArchive = new Map<string, string[]>();
  for (const [path, blob] of [...archive.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    sortedArchive.set(path, blob.sort((a, b) => a.at - b.at).map((r) => r.line));
  }
  const records = [...sortedArchive.values()].reduce((sum, blob) => sum + blob.length, 0);
  const ledgerEntries = [...totals.values()].reduce((sum, t) => sum + t.requests, 0);
  const invoice = simulatedCostExport(options.day, azureCalls);
  return {
    eventLines: delivered,
    archive: sortedArchive,
    azureCalls,
    costExport: invoice.csv,
    costExportRows: invoice.rows,
    identities,
    llmLog,
    metrics,
    groundTruth: {
      seed: options.seed,
      day: options.day,
      requests: options.requests,
      // Distinct lines = ledger entries + dead letters + APIM LLM-log lines (merged into their v1 request) +
      // RequestResponse lines (diagnostics, not requests).
      events: { lines: delivered.length, distinct, duplicates, malformed: malformedCount, llmLogLines, diagnosticLines },
      sources: {
        v1: ledgerEntries - aiHub.payloads - llmLogLines,
        aiHubPayloads: aiHub.payloads - aiHub.usageRecords,
        aiHubWithoutCachedTokens: aiHub.withoutCachedTokens,
        aiHubUsageRecords: aiHub.usageRecords,
        aiHubTwelveOClock: aiHub.twelveOClock,
        v1AndLlmLog: llmLogLines,
        v1AndLlmLogInterrupted: mix.v1AndLlmLogInterrupted,
        llmLogRows: mix.llmLogRows,
        requestResponseOverEventHubs: diagnosticLines,
        interruptedStreams: mix.interruptedStreams,
      },
      ledgerEntries,
      deadLetters: malformedCount,
      identities: [...totals.entries()]
        .map(([identity, t]) => ({ identity, ...t }))
        .sort((a, b) => (a.identity < b.identity ? -1 : 1)),
      // The join cannot tell a lost gateway event from a bypass call: both are records without a request.
      // AI Hub payloads carry no apim-request-id, so the records of their requests are bypass records too.
      join: { matched, noDiagnostics, bypass: bypass + lostWithRecord + aiHub.records },
      diagnostics: { records, late, missing, bypass: bypass + aiHub.records },
      reconciliation: {
        gatewayObjectId: GATEWAY_OBJECT_ID,
        lostEvents,
        lostGatewayRequestIds,
        missingDiagnostics,
        bypass: bypassIds,
        keyBased,
        tokenDrift: drifted ? { hour: drifted.hour, deployment: drifted.deployment } : null,
      },
      invoice: invoice.truth,
    },
  };
}
