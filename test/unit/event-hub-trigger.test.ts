import { describe, expect, it } from 'vitest';
import { receivedEvents } from '../../src/contracts/event-hub-trigger.js';

const bodies = ['a', 'b'];

describe('Event Hubs trigger metadata', () => {
  it('reads the positions the host sends: numbers, digit strings, offsets as numbers, times with their zone', () => {
    const events = receivedEvents(bodies, {
      partitionContext: { partitionId: '3', eventHubName: 'gateway' },
      sequenceNumberArray: [2251, '2252'],
      offsetArray: [4294967296, '4294968320'],
      enqueuedTimeUtcArray: ['2026-11-22T10:15:03.120Z', '2026-11-22T10:15:03.500Z'],
    });
    expect(events.map((e) => e.position)).toEqual([
      { partitionId: '3', sequenceNumber: 2251, offset: '4294967296', enqueuedTimeUtc: '2026-11-22T10:15:03.120Z' },
      { partitionId: '3', sequenceNumber: 2252, offset: '4294968320', enqueuedTimeUtc: '2026-11-22T10:15:03.500Z' },
    ]);
  });

  it('reads 64-bit sequence numbers sent as { low, high } (Node.js worker 3.16.0), and keeps every other field', () => {
    const events = receivedEvents(bodies, {
      partitionContext: { partitionId: '7' },
      sequenceNumberArray: [
        { low: 2251, high: 0, unsigned: false },
        { low: -1, high: 1, unsigned: false },
      ],
      offsetArray: ['100', '200'],
      enqueuedTimeUtcArray: ['2026-11-22T10:15:03.12', '2026-11-22T10:15:04'],
    });
    expect(events.map((e) => e.position)).toEqual([
      { partitionId: '7', sequenceNumber: 2251, offset: '100', enqueuedTimeUtc: '2026-11-22T10:15:03.12Z' },
      { partitionId: '7', sequenceNumber: 2 ** 33 - 1, offset: '200', enqueuedTimeUtc: '2026-11-22T10:15:04Z' },
    ]);
  });

  it('records a field or a value of an unexpected shape as unknown, and keeps the others', () => {
    const events = receivedEvents(bodies, {
      partitionContext: { partitionId: '5' },
      sequenceNumberArray: [{ value: 1 }, 'twelve'],
      offsetArray: 'not an array',
      enqueuedTimeUtcArray: ['2026-11-22T10:15:03.120Z', 42],
    });
    expect(events.map((e) => e.position)).toEqual([
      { partitionId: '5', sequenceNumber: null, offset: null, enqueuedTimeUtc: '2026-11-22T10:15:03.120Z' },
      { partitionId: '5', sequenceNumber: null, offset: null, enqueuedTimeUtc: null },
    ]);
    expect(receivedEvents(bodies, 'no metadata at all').map((e) => e.position.partitionId)).toEqual(['unknown', 'unknown']);
  });
});
