/** How many distinct dead letters give one reason. */
export interface ReasonCount {
  readonly reason: string;
  readonly deadLetters: number;
}

/** The reasons of distinct dead letters, counted: the most frequent first, then by text (the same whatever the order read). */
export function countReasons(reasons: Iterable<string>): ReasonCount[] {
  const counts = new Map<string, number>();
  for (const reason of reasons) counts.set(reason, (counts.get(reason) ?? 0) + 1);
  return reasonCounts(counts);
}

/** Counts kept by reason as `countReasons` gives them: the most frequent first, then by text. */
export function reasonCounts(counts: ReadonlyMap<string, number>): ReasonCount[] {
  return [...counts]
    .map(([reason, deadLetters]) => ({ reason, deadLetters }))
    .sort((a, b) => b.deadLetters - a.deadLetters || (a.reason < b.reason ? -1 : a.reason > b.reason ? 1 : 0));
}

/** How many distinct dead letters the counted reasons stand for. */
export function deadLettersOf(reasons: readonly ReasonCount[]): number {
  return reasons.reduce((sum, r) => sum + r.deadLetters, 0);
}
