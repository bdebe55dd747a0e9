import { LocalEventHub } from '../../../src/local/event-hub-runner.js';
import { Random } from '../../../src/simulator/random.js';

export interface DeliveryOptions {
  readonly seed: number;
  readonly partitions: number;
  /** Each line is sent this many times at least and at most (at-least-once producers and redeliveries). */
  readonly copies: readonly [number, number];
  /** Every copy moves up to this many places from where its line was (local reordering). */
  readonly reorderWindow: number;
  /** Share of copies that land anywhere in the stream (a redelivery long after the first). */
  readonly farShare: number;
  /** Enqueue times start here and advance a millisecond per event. */
  readonly enqueuedFrom: Date;
}

export interface Delivery {
  readonly hub: LocalEventHub;
  /** Events sent (copies included). */
  readonly sent: number;
}

/** The host hands bodies over as bytes, strings or parsed JSON: each copy gets one of the three at random. */
function asDelivered(line: string, random: Random): unknown {
  const form = random.int(0, 2);
  if (form === 0) return Buffer.from(line, 'utf8');
  if (form === 1) return line;
  try {
    return JSON.parse(line) as unknown;
  } catch {
    return line;
  }
}

/**
 * Sends every line 1–3 times (by default) into a local Event Hub, reordered and spread over the partitions at
 * random, so copies of one event are read by different workers, in any order, in different batches.
 */
export function deliver(lines: readonly string[], options: DeliveryOptions): Delivery {
  const random = new Random(options.seed);
  const copies: { key: number; line: string; copy: number }[] = [];
  lines.forEach((line, index) => {
    const n = random.int(options.copies[0], options.copies[1]);
    for (let copy = 0; copy < n; copy++) {
      const key = random.chance(options.farShare) ? random.next() * lines.length : index + random.next() * options.reorderWindow;
      copies.push({ key, line, copy });
    }
  });
  copies.sort((a, b) => a.key - b.key);
  const hub = new LocalEventHub(options.partitions);
  const start = options.enqueuedFrom.getTime();
  copies.forEach(({ line, copy }, i) => hub.send(asDelivered(line, random), `${i}:${copy}:${random.next()}`, new Date(start + i)));
  return { hub, sent: copies.length };
}
