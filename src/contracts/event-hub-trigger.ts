import { z } from 'zod';
import type { SourcePosition } from './dead-letter.js';

/** One Event Hubs event as the trigger delivers it: a body and where it was read from. */
export interface ReceivedEvent {
  readonly body: unknown;
  readonly position: Omit<SourcePosition, 'itemIndex'>;
}

/**
 * `context.triggerMetadata` of an Event Hubs trigger with cardinality "many". The host lower-cases the first
 * letter of every key (`SequenceNumberArray` → `sequenceNumberArray`).
 */
export const eventHubTriggerMetadataSchema = z.object({
  partitionContext: z.object({ partitionId: z.string() }).partial().nullish(),
  sequenceNumberArray: z.array(z.coerce.number()).nullish(),
  offsetArray: z.array(z.coerce.string()).nullish(),
  enqueuedTimeUtcArray: z.array(z.coerce.string()).nullish(),
});
export type EventHubTriggerMetadata = z.infer<typeof eventHubTriggerMetadataSchema>;

/** Pairs each body with its position; metadata the host did not send is recorded as unknown, never invented. */
export function receivedEvents(bodies: readonly unknown[], metadata: unknown): ReceivedEvent[] {
  const parsed = eventHubTriggerMetadataSchema.safeParse(metadata ?? {});
  const meta = parsed.success ? parsed.data : {};
  return bodies.map((body, i) => ({
    body,
    position: {
      partitionId: meta.partitionContext?.partitionId ?? 'unknown',
      sequenceNumber: meta.sequenceNumberArray?.[i] ?? null,
      offset: meta.offsetArray?.[i] ?? null,
      enqueuedTimeUtc: meta.enqueuedTimeUtcArray?.[i] ?? null,
    },
  }));
}
