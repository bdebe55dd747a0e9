import { z } from 'zod';
import { GATEWAY_EVENT_SCHEMA_V1 } from './gateway-event.js';
import type { AdaptedEvent } from './adapted-event.js';

/**
 * Usage payload of the AI Hub Gateway solution accelerator's `log-to-eventhub` fragment. It logs only
 * responses with status 200, and writes `timestamp` with `DateTime.UtcNow.ToString()`, i.e. the
 * invariant-culture form `MM/dd/yyyy HH:mm:ss` in UTC (ISO-8601 is accepted too).
 */
const optionalText = z.string().max(512).nullish();
/** The accelerator writes numbers; digit strings are accepted, anything else (null, "", booleans) is rejected. */
const tokenNumber = z.union([z.number().int(), z.string().regex(/^\d{1,12}$/).transform(Number)]);

export const aiHubUsageSchema = z.object({
  id: z.string().min(1).max(256),
  timestamp: z.string().max(64),
  appId: optionalText,
  subscriptionId: optionalText,
  productName: optionalText,
  model: optionalText,
  gatewayName: optionalText,
  gatewayRegion: optionalText,
  backendId: optionalText,
  routeLocation: optionalText,
  deploymentName: optionalText,
  operationName: optionalText,
  promptTokens: tokenNumber,
  responseTokens: tokenNumber,
  totalTokens: tokenNumber.nullish(),
});
export type AiHubUsage = z.infer<typeof aiHubUsageSchema>;

/** True when a payload looks like the accelerator's (so that its validation errors are the ones reported). */
export function looksLikeAiHubUsage(value: Record<string, unknown>): boolean {
  return 'promptTokens' in value && 'responseTokens' in value;
}

const INVARIANT_DATE = /^(\d{1,2})\/(\d{1,2})\/(\d{4}) (\d{1,2}):(\d{2}):(\d{2})$/;

/** `11/22/2026 10:15:03` (UTC) or an ISO-8601 string → ISO-8601 with `Z`; anything else is returned as is to fail validation. */
export function aiHubTimestampToIso(timestamp: string): string {
  const match = INVARIANT_DATE.exec(timestamp.trim());
  if (!match) return timestamp;
  const [, month, day, year, hour, minute, second] = match.map(Number) as [number, number, number, number, number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  return Number.isNaN(date.getTime()) ? timestamp : date.toISOString();
}

export function adaptAiHubUsage(payload: AiHubUsage): AdaptedEvent {
  const appId = payload.appId && payload.appId !== 'NA' ? payload.appId : null;
  return {
    source: 'ai-hub-gateway',
    sourceId: payload.id,
    event: {
      schema: GATEWAY_EVENT_SCHEMA_V1,
      gatewayRequestId: payload.id,
      apimRequestId: null,
      time: aiHubTimestampToIso(payload.timestamp),
      gateway: {
        service: payload.gatewayName ?? 'unknown',
        region: payload.gatewayRegion ?? null,
        backendId: payload.backendId ?? null,
      },
      backendRegion: payload.routeLocation ?? null,
      subscriptionId: payload.subscriptionId ?? null,
      productId: payload.productName ?? null,
      caller: appId ? { appid: appId } : null,
      deployment: payload.deploymentName ?? null,
      model: payload.model ?? null,
      operation: payload.operationName ?? null,
      stream: false,
      status: 200,
      usage: {
        promptTokens: payload.promptTokens,
        completionTokens: payload.responseTokens,
        totalTokens: payload.totalTokens ?? undefined,
      },
    },
    missing: [
      'apimRequestId',
      'caller.oid',
      'caller.tid',
      'caller.idtyp',
      'caller.upn',
      'stream',
      'timings',
      'rateLimit',
      'usage.cachedTokens',
      'usage.reasoningTokens',
      ...(appId ? [] : ['caller.appid']),
    ],
  };
}
