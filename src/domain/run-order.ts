/**
 * Runs of one scheduled job may overlap: two function apps on one database, or a timer whose singleton lock lapsed
 * (the Functions host keeps it as a blob lease). Each run has a key, and of two runs' results of the same thing,
 * the later-started run's is the one that stays.
 */

/** The key of a run that started at `startedAt`; `unique` tells apart runs of one instant. Keys sort as runs started. */
export const runKey = (startedAt: Date, unique: string): string => `${startedAt.toISOString()}#${unique}`;

/** Whether run `a` started after run `b`; a document written before runs had keys (none) is older than any run. */
export const isNewerRun = (a: string | undefined, b: string | undefined): boolean => (a ?? '') > (b ?? '');

/** The run a head names for one thing (an hour, say), and how many results that run stored for it. */
export interface NamedRun {
  readonly run: string;
  readonly results: number;
}

/**
 * Of stored results, those of the run each thing's head names; where no head names one, those stored before runs had
 * keys (no run), as they were then. `incomplete`: the things whose named run's results were not all found (a run
 * replaced them while they were read), to read again.
 */
export function namedRunResults<T extends { readonly run?: string | undefined }>(
  results: readonly T[],
  keyOf: (result: T) => string,
  named: ReadonlyMap<string, NamedRun>,
): { results: T[]; incomplete: string[] } {
  const current = results.filter((result) => result.run === named.get(keyOf(result))?.run);
  const found = new Map<string, number>();
  for (const result of current) found.set(keyOf(result), (found.get(keyOf(result)) ?? 0) + 1);
  const incomplete = [...named].filter(([key, head]) => (found.get(key) ?? 0) !== head.results).map(([key]) => key);
  return { results: current, incomplete: incomplete.sort() };
}
