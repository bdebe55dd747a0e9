import { z } from 'zod';
import type { SourcePosition } from './dead-letter.js';

/** One Event Hubs event as the trigger delivers it: a body and where it was read from. */
export interface ReceivedEvent {
  readonly body: unknown;
  readonly position: Omit<SourcePosition, 'itemIndex'>;
}

/**
 * A sequence number as hosts have sent it: a number, a digit string, or a 64-bit `Long` as `{ low, high }` (Node.js
 * worker 3.16.0, Azure/azure-functions-nodejs-worker#844).
 */
const sequenceNumber = z.union([
  z.number().int().nonnegative(),
  z.string().regex(/^\d{1,15}$/).transform(Number),
  z.object({ low: z.number().int(), high: z.number().int().nonnegative() }).transform(({ low, high }) => high * 2 ** 32 + (low >>> 0)),
]);

/**
 * The extension passes `EnqueuedTime.DateTime`, whose kind is unspecified: the host writes it without a zone
 * (`2026-11-22T10:15:03.12`). It is UTC.
 */
const enqueuedTimeUtc = z.string().transform((time) => (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$/.test(time) ? `${time}Z` : time));

/**
 * `context.triggerMetadata` of an Event Hubs trigger with cardinality "many". The host lower-cases the first
 * letter of every key (`SequenceNumberArray` → `sequenceNumberArray`). Each field, and each value of an array, is
 * read on its own: one the host sends in an unexpected shape is unknown, and the others are kept.
 */
export const eventHubTriggerMetadataSchema = z
  .object({
    partitionContext: z.object({ partitionId: z.string() }).partial().nullish().catch(null),
    sequenceNumberArray: z.array(sequenceNumber.nullable().catch(null)).nullish().catch(null),
    offsetArray: z.array(z.coerce.string().nullable().catch(null)).nullish().catch(null),
    enqueuedTimeUtcArray: z.array(enqueuedTimeUtc.nullable().catch(null)).nullish().catch(null),
  })
  .catch({});
export type EventHubTriggerMetadata = z.infer<typeof eventHubTriggerMetadataSchema>;

/** Pairs each body with its position; metadata the host did not send is recorded as unknown, never invented. */
export function receivedEvents(bodies: readonly unknown[], metadata: unknown): ReceivedEvent[] {
  const meta = eventHubTriggerMetadataSchema.parse(metadata ?? {});
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
