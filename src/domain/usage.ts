import { normalizeIdentityKey } from '../contracts/directory.js';
import type { LedgerEntry } from '../contracts/ledger-entry.js';
import type { UsageGrain, UsageLine, UsageTile, UsageTileHead, UsageTilePart, Use } from '../contracts/usage-tile.js';
import { isPerCallRequest, modelOf, pricingModelOf, UNKNOWN } from './chargeback.js';
import { chunkByBytes, MAX_PART_BYTES, wholeGeneration } from './document-parts.js';
import { resolveIdentity, type IdentityOptions } from './identity.js';
import { splitTokens, type TokenSplit } from './price-matching.js';

/**
 * Usage: token counts per identity, model, deployment, backend region and token source, summed over a window.
 * It depends on the ledger alone, never on prices: reports price it when they are read (`usage-pricing.ts`), so a
 * price correction re-rates every period at once with no rollup.
 */

/** The region that answered: the joined diagnostic record's, else the gateway's `x-ms-region`. */
export function regionOf(entry: LedgerEntry): string | null {
  return (entry.diagnostics?.status === 'matched' ? entry.diagnostics.regionCode : null) ?? entry.backendRegion;
}

function usesOf(split: TokenSplit, perCall: boolean): Use[] {
  const uses: Use[] = [];
  if (split.uncachedInput + split.cachedInput + split.output > 0) uses.push('text');
  if (split.audioInput > 0) uses.push('audio-input');
  if (split.audioOutput > 0) uses.push('audio-output');
  if (perCall) uses.push('per-call');
  return uses;
}

type LineKey = Pick<UsageLine, 'identity' | 'identityKind' | 'model' | 'pricingModel' | 'deployment' | 'region' | 'tokenSource' | 'uses'>;

const keyText = (k: LineKey) =>
  [k.identity, k.identityKind, k.model, k.pricingModel ?? '\u0001', k.deployment ?? '\u0001', k.region ?? '\u0001', k.tokenSource, k.uses.join(',')].join('\u0000');

function emptyLine(key: LineKey): UsageLine {
  return {
    ...key,
    uses: [...key.uses],
    requests: 0,
    promptTokens: 0,
    cachedTokens: 0,
    completionTokens: 0,
    reasoningTokens: 0,
    audioPromptTokens: 0,
    audioCompletionTokens: 0,
    uncachedInputTokens: 0,
  };
}

function addInto(target: UsageLine, source: UsageLine): void {
  target.requests += source.requests;
  target.promptTokens += source.promptTokens;
  target.cachedTokens += source.cachedTokens;
  target.completionTokens += source.completionTokens;
  target.reasoningTokens += source.reasoningTokens;
  target.audioPromptTokens += source.audioPromptTokens;
  target.audioCompletionTokens += source.audioCompletionTokens;
  target.uncachedInputTokens += source.uncachedInputTokens;
}

/** Sums ledger entries, or lines of finer windows, into usage lines. Integer sums only: the order never matters. */
export class UsageLines {
  private readonly lines = new Map<string, UsageLine>();
  entries = 0;

  constructor(private readonly identityOptions: IdentityOptions = {}) {}

  addEntry(entry: LedgerEntry): void {
    const pricingModel = pricingModelOf(entry);
    const identity = resolveIdentity(entry, this.identityOptions);
    const model = modelOf(entry);
    const t = entry.tokens;
    const split = splitTokens(t);
    const line = this.lineFor({
      identity: identity.key,
      identityKind: identity.kind,
      model: model ?? UNKNOWN,
      pricingModel,
      deployment: entry.deployment,
      region: regionOf(entry),
      tokenSource: entry.tokens.source,
      uses: usesOf(split, isPerCallRequest(entry, pricingModel)),
    });
    line.requests += 1;
    line.promptTokens += t.promptTokens;
    line.cachedTokens += t.cachedTokens;
    line.completionTokens += t.completionTokens;
    line.reasoningTokens += t.reasoningTokens;
    line.audioPromptTokens += t.audioPromptTokens ?? 0;
    line.audioCompletionTokens += t.audioCompletionTokens ?? 0;
    line.uncachedInputTokens += split.uncachedInput;
    this.entries += 1;
  }

  addLine(line: UsageLine): void {
    addInto(this.lineFor(line), line);
  }

  /** Lines in key order, so equal usage always gives equal documents. */
  list(): UsageLine[] {
    return [...this.lines.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, line]) => line);
  }

  private lineFor(key: LineKey): UsageLine {
    const text = keyText(key);
    let line = this.lines.get(text);
    if (!line) {
      line = emptyLine(key);
      this.lines.set(text, line);
    }
    return line;
  }
}

/**
 * Hour tiles of a day share the day's partition, day tiles the month's: a month's report reads one partition, and
 * a day's hours another.
 */
export function usagePartition(grain: UsageGrain, window: string): string {
  return `usage:${grain === 'hour' ? window.slice(0, 10) : window.slice(0, 7)}`;
}

export function usageHeadKey(grain: UsageGrain, window: string): { id: string; pk: string } {
  return { id: `usage:${grain}:${window}`, pk: usagePartition(grain, window) };
}

/** A window's lines as a head and the parts of one generation, each part at most `maxPartBytes` of lines. */
export function usageTileDocuments(
  grain: UsageGrain,
  window: string,
  generation: string,
  entries: number,
  lines: readonly UsageLine[],
  maxPartBytes = MAX_PART_BYTES,
): { head: UsageTileHead; parts: UsageTilePart[] } {
  const { id, pk } = usageHeadKey(grain, window);
  const parts = chunkByBytes(lines, maxPartBytes).map((chunk, part): UsageTilePart => ({ id: `${id}:${generation}:${part}`, pk, kind: 'usage-part', grain, window, generation, part, lines: chunk }));
  return { head: { id, pk, kind: 'usage-head', grain, window, generation, parts: parts.length, entries }, parts };
}

/**
 * The tiles a query's heads name, from the parts of each head's generation. A window whose parts are not all there
 * (a writer replaced its head and removed the old parts while the query was paging) is listed as incomplete, so the
 * caller reads again rather than report part of it.
 */
/** Lines as identities are spelt now: tiles rolled up before `normalizeIdentityKey` can hold an upper-case GUID. */
function spelledNow(lines: UsageLine[]): UsageLine[] {
  if (lines.every((line) => normalizeIdentityKey(line.identity) === line.identity)) return lines;
  const merged = new UsageLines();
  for (const line of lines) merged.addLine({ ...line, identity: normalizeIdentityKey(line.identity) });
  return merged.list();
}

export function assembleUsageTiles(heads: readonly UsageTileHead[], parts: readonly UsageTilePart[]): { tiles: UsageTile[]; incomplete: string[] } {
  const partsOf = new Map<string, UsageTilePart[]>();
  for (const part of parts) {
    const key = `${part.grain}\u0000${part.window}\u0000${part.generation}`;
    const list = partsOf.get(key) ?? [];
    list.push(part);
    partsOf.set(key, list);
  }
  const tiles: UsageTile[] = [];
  const incomplete: string[] = [];
  for (const head of [...heads].sort((a, b) => (a.window < b.window ? -1 : a.window > b.window ? 1 : 0))) {
    const found = wholeGeneration(partsOf.get(`${head.grain}\u0000${head.window}\u0000${head.generation}`), head.parts);
    if (!found) incomplete.push(head.window);
    else tiles.push({ grain: head.grain, window: head.window, entries: head.entries, lines: spelledNow(found.flatMap((p) => p.lines)) });
  }
  return { tiles, incomplete };
}
