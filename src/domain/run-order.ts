/**
 * Runs of one scheduled job may overlap: two function apps on one database, or a timer whose singleton lock lapsed
 * (the Functions host keeps it as a blob lease). Each run has a key, and of two runs' results of the same thing,
 * the later-started run's is the one that stays.
 */

/** The key of a run that started at `startedAt`; `unique` tells apart runs of one instant. Keys sort as runs started. */
export const runKey = (startedAt: Date, unique: string): string => `${startedAt.toISOString()}#${unique}`;

/** Whether run `a` started after run `b`; a document written before runs had keys (none) is older than any run. */
export const isNewerRun = (a: string | undefined, b: string | undefined): boolean => (a ?? '') > (b ?? '');

/**
 * Of stored results, those of the run each thing's head names (`runOf`); where no head names one, those stored
 * before runs had keys (no run), as they were then.
 */
export function namedRunResults<T extends { readonly run?: string | undefined }>(results: readonly T[], keyOf: (result: T) => string, runOf: ReadonlyMap<string, string>): T[] {
  return results.filter((result) => result.run === runOf.get(keyOf(result)));
}
