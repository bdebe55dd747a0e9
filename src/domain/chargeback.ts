import { normalizeIdentityKey, type DirectoryRow } from '../contracts/directory.js';
import type { LedgerEntry, TokenSource } from '../contracts/ledger-entry.js';
import { resolveIdentity, type IdentityKind, type IdentityOptions } from './identity.js';
import { allocateRounded, formatPicodollars, type Picodollars } from './money.js';
import { ownedText } from './owned-text.js';
import { pricesRequest, RequestPricer, utcDayOf, type PriceMatch, type PriceMatcher } from './price-matching.js';
export { GROUP_BY, type GroupBy } from '../contracts/report-query.js';
import type { GroupBy } from '../contracts/report-query.js';

/**
 * Chargeback lines: token use and exact cost per (identity, model, deployment, price version). Lines are the
 * unit that tiles store and merge, and that every report total is a sum of, so any number can be traced back
 * to the ledger entries of its identity, model, deployment and window.
 */
export interface ChargebackLine {
  readonly identity: string;
  readonly identityKind: IdentityKind;
  readonly model: string;
  readonly deployment: string;
  /** The price entry applied, or null when nothing was priced (no tokens, or no price: see `unpriced`). */
  readonly priceVersion: string | null;
  requests: number;
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  reasoningTokens: number;
  costPico: Picodollars;
  readonly tokenSources: Record<TokenSource, number>;
  /**
   * Usage (tokens, or a per-call operation such as an image) but no price in effect that covers it: reported,
   * never priced at zero silently.
   */
  readonly unpriced: boolean;
}

export const UNKNOWN = '(unknown)';

/** Requests without tokens and unpriced requests both lack a price version: `unpriced` keeps them apart. */
const lineKey = (l: Pick<ChargebackLine, 'identity' | 'model' | 'deployment' | 'priceVersion' | 'unpriced'>) =>
  `${l.identity}\u0000${l.model}\u0000${l.deployment}\u0000${l.priceVersion ?? ''}\u0000${l.unpriced ? 'unpriced' : ''}`;

/** Every line is built by this one literal, so all lines share a hidden class and adding to them stays fast. */
function emptyLine(fields: Pick<ChargebackLine, 'identity' | 'identityKind' | 'model' | 'deployment' | 'priceVersion' | 'unpriced'>): ChargebackLine {
  return {
    identity: fields.identity,
    identityKind: fields.identityKind,
    model: fields.model,
    deployment: fields.deployment,
    priceVersion: fields.priceVersion,
    unpriced: fields.unpriced,
    requests: 0,
    promptTokens: 0,
    cachedTokens: 0,
    completionTokens: 0,
    reasoningTokens: 0,
    costPico: 0n,
    tokenSources: { gateway: 0, 'llm-log': 0, none: 0 },
  };
}

function addInto(target: ChargebackLine, source: ChargebackLine): void {
  target.requests += source.requests;
  target.promptTokens += source.promptTokens;
  target.cachedTokens += source.cachedTokens;
  target.completionTokens += source.completionTokens;
  target.reasoningTokens += source.reasoningTokens;
  target.costPico += source.costPico;
  for (const key of Object.keys(source.tokenSources) as TokenSource[]) target.tokenSources[key] += source.tokenSources[key];
}

function addTokens(line: ChargebackLine, tokens: LedgerEntry['tokens']): void {
  line.requests += 1;
  line.promptTokens += tokens.promptTokens;
  line.cachedTokens += tokens.cachedTokens;
  line.completionTokens += tokens.completionTokens;
  line.reasoningTokens += tokens.reasoningTokens;
  line.tokenSources[tokens.source] += 1;
}

export function modelOf(entry: LedgerEntry): string | null {
  return entry.model ?? (entry.diagnostics?.status === 'matched' ? entry.diagnostics.modelName : null);
}

/**
 * The model name a request is priced by, after its deployment's own entry: the joined diagnostic record's
 * `modelName` and `modelVersion` (`gpt-4` + `turbo-2024-04-09`), which name the billable model more precisely than
 * the response body does (Azure answers `"ada"` for text-embedding-ada-002 and `"gpt-4"` for gpt-4-turbo), else
 * the response's model. Model prefixes match at a `-`, so the version narrows the name, never changes it.
 */
export function pricingModelOf(entry: LedgerEntry): string | null {
  const d = entry.diagnostics;
  if (d?.status === 'matched' && d.modelName) {
    if (!d.modelVersion) return d.modelName;
    if (d.modelName === 'gpt-4' && GPT_4_TURBO_PREVIEWS.test(d.modelVersion)) return `gpt-4-turbo-${d.modelVersion}`;
    return `${d.modelName}-${d.modelVersion}`;
  }
  return modelOf(entry);
}

/**
 * The GPT-4 Turbo previews are deployed as model `gpt-4`, versions `1106-Preview`, `0125-Preview` and
 * `vision-preview` (Azure OpenAI models, "GPT-4 Turbo"), and billed on the turbo meters (`gpt-4-turbo-128K`,
 * `gpt-4-turbo-Vision-128K`), not on gpt-4's: named `gpt-4-turbo-<version>`, they take the turbo entries.
 */
const GPT_4_TURBO_PREVIEWS = /^(?:1106-preview|0125-preview|vision-preview)$/i;

/** Names seen, with whether they are billed per call: a few distinct names, asked once per request. */
class NameVerdicts {
  private readonly verdicts = new Map<string, boolean>();
  constructor(private readonly pattern: RegExp) {}

  test(name: string): boolean {
    let verdict = this.verdicts.get(name);
    if (verdict === undefined) {
      verdict = this.pattern.test(name);
      if (this.verdicts.size >= 10_000) this.verdicts.clear();
      this.verdicts.set(ownedText(name), verdict);
    }
    return verdict;
  }
}

/**
 * Operations and models Azure bills per call (images, audio transcription and speech), not only per token. The
 * inference API's definition (2024-10-21) names Whisper's operations `Transcriptions_Create` and `Translations_Create`.
 */
const imageOperations = new NameVerdicts(/^Image(Generations|Edits|Variations)_/i);
const audioOperations = new NameVerdicts(/^((Audio)?Transcriptions|(Audio)?Translations|AudioSpeech|Speech)_/i);
const imageModels = new NameVerdicts(/^(dall-e|gpt-image)(-|$)/i);
const audioModels = new NameVerdicts(/^(whisper|tts)(-|$)/i);

/**
 * A successful request of an image or audio operation or model: billable without tokens. An audio request whose
 * answer counts its tokens is billed by them instead: gpt-4o-transcribe answers `usage` of type `tokens` (OpenAI
 * API reference, "Create transcription"), and Azure bills it per audio input, text input and output token; Whisper
 * answers none. An image request stays per call: its image input tokens have no price kind of their own.
 */
export function isPerCallRequest(entry: LedgerEntry, model: string | null): boolean {
  if (entry.status !== null && (entry.status < 200 || entry.status >= 400)) return false;
  const { operation } = entry;
  if ((operation !== null && imageOperations.test(operation)) || (model !== null && imageModels.test(model))) return true;
  const audio = (operation !== null && audioOperations.test(operation)) || (model !== null && audioModels.test(model));
  return audio && entry.tokens.promptTokens + entry.tokens.completionTokens === 0;
}

/**
 * One line as entries of one destination reach it. Costs are summed as a Number while the sum stays a safe
 * integer (exact) and moved into the line's bigint when it would not, and by `list()`: a bigint sum per entry
 * would cost more than everything else an entry needs.
 */
class Tally {
  private pendingPico = 0;

  constructor(readonly line: ChargebackLine) {}

  add(tokens: LedgerEntry['tokens'], costPico: number | Picodollars): void {
    addTokens(this.line, tokens);
    if (typeof costPico === 'bigint') this.line.costPico += costPico;
    else {
      if (this.pendingPico + costPico > Number.MAX_SAFE_INTEGER) this.settle();
      this.pendingPico += costPico;
    }
  }

  settle(): void {
    this.line.costPico += BigInt(this.pendingPico);
    this.pendingPico = 0;
  }
}

/** Where entries with one price outcome go: their price and their lines by identity key. */
interface Destination {
  /** Null for requests without tokens and for unpriced ones. */
  readonly pricer: RequestPricer | null;
  readonly unpriced: boolean;
  readonly tallyByIdentity: Map<string, Tally>;
}

/** The destinations of the entries of one deployment and model (as the entries name them, null included). */
interface Route {
  readonly tokenless: Destination;
  /** For requests with tokens, by UTC day (the price in effect changes only from one day to the next). */
  readonly pricedByDay: Map<number, Destination>;
  /** Unpriced requests whose price in effect lacks what they used (audio, a per-call price). */
  uncovered: Destination | null;
}

function newDestination(match: PriceMatch | null, hasTokens: boolean): Destination {
  return { pricer: match ? new RequestPricer(match) : null, unpriced: hasTokens && !match, tallyByIdentity: new Map() };
}

/**
 * Accumulates ledger entries (or other lines) into chargeback lines; integer and bigint sums only. The lines are
 * live: `list()` returns the same objects every time, and their costs are up to date as of the latest `list()`.
 */
export class ChargebackLines {
  private readonly lines = new Map<string, ChargebackLine>();
  /** Entries by deployment, then model: a few map lookups find an entry's line without building its key. */
  private readonly routes = new Map<string | null, Map<string | null, Route>>();
  private readonly tallies: Tally[] = [];

  constructor(
    private readonly prices: PriceMatcher,
    private readonly identityOptions: IdentityOptions = {},
  ) {}

  addEntry(entry: LedgerEntry): void {
    const model = modelOf(entry);
    const pricingModel = pricingModelOf(entry);
    const tokens = entry.tokens;
    const route = this.routeOf(entry.deployment, model, pricingModel);
    const perCall = isPerCallRequest(entry, pricingModel);
    let destination = tokens.promptTokens + tokens.completionTokens > 0 || perCall ? this.pricedDestination(route, entry, pricingModel) : route.tokenless;
    // A price that lacks what the request used (audio, a per-call price) leaves it unpriced, not charged in part.
    if (destination.pricer && !pricesRequest(destination.pricer.match, tokens, perCall)) {
      destination = route.uncovered ??= newDestination(null, true);
    }
    // Priced before any line is touched: a request that cannot be priced throws and leaves no trace.
    const costPico = destination.pricer ? destination.pricer.cost(tokens) : 0;
    const identity = resolveIdentity(entry, this.identityOptions).key;
    const tally = destination.tallyByIdentity.get(identity) ?? this.openTally(destination, entry, model);
    tally.add(tokens, costPico);
  }

  addLine(line: ChargebackLine): void {
    addInto(this.lineFor(line), line);
  }

  /** Lines in a stable order (identity, model, deployment, price version). */
  list(): ChargebackLine[] {
    for (const tally of this.tallies) tally.settle();
    return [...this.lines.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, line]) => line);
  }

  private routeOf(deployment: string | null, model: string | null, pricingModel: string | null): Route {
    let byModel = this.routes.get(deployment);
    if (!byModel) {
      byModel = new Map();
      this.routes.set(deployment === null ? null : ownedText(deployment), byModel);
    }
    // The shown model and the one priced by are usually the same name: one key then.
    const key = pricingModel === model ? model : `${model ?? ''}\u0000${pricingModel ?? ''}`;
    let route = byModel.get(key);
    if (!route) {
      route = { tokenless: newDestination(null, false), pricedByDay: new Map(), uncovered: null };
      byModel.set(key === null ? null : ownedText(key), route);
    }
    return route;
  }

  private pricedDestination(route: Route, entry: LedgerEntry, pricingModel: string | null): Destination {
    const day = utcDayOf(entry.time);
    let destination = route.pricedByDay.get(day);
    if (!destination) {
      destination = newDestination(this.prices.match({ model: pricingModel, deployment: entry.deployment, time: entry.time }), true);
      route.pricedByDay.set(day, destination);
    }
    return destination;
  }

  /** The tally of the entry's identity, new to `destination`, on the line with its key (created if there is none yet). */
  private openTally(destination: Destination, entry: LedgerEntry, model: string | null): Tally {
    const identity = resolveIdentity(entry, this.identityOptions);
    const line = this.lineFor({
      identity: ownedText(identity.key),
      identityKind: identity.kind,
      model: ownedText(model ?? UNKNOWN),
      deployment: ownedText(entry.deployment ?? UNKNOWN),
      priceVersion: destination.pricer?.match.priceVersion ?? null,
      unpriced: destination.unpriced,
    });
    const tally = new Tally(line);
    destination.tallyByIdentity.set(line.identity, tally);
    this.tallies.push(tally);
    return tally;
  }

  private lineFor(fields: Pick<ChargebackLine, 'identity' | 'identityKind' | 'model' | 'deployment' | 'priceVersion' | 'unpriced'>): ChargebackLine {
    const key = lineKey(fields);
    let line = this.lines.get(key);
    if (!line) {
      line = emptyLine(fields);
      this.lines.set(key, line);
    }
    return line;
  }
}

export interface ChargebackRow {
  /** The group's key: an identity, a team, a cost center, a model or a deployment. */
  readonly key: string;
  readonly identity: string | null;
  readonly identityKind: IdentityKind | null;
  readonly displayName: string | null;
  readonly team: string | null;
  readonly costCenter: string | null;
  readonly model: string | null;
  readonly deployment: string | null;
  readonly requests: number;
  readonly promptTokens: number;
  readonly cachedTokens: number;
  readonly completionTokens: number;
  readonly reasoningTokens: number;
  readonly costPico: Picodollars;
  /** Cost rounded for display; the rows' displayed costs sum exactly to the displayed total. */
  readonly cost: string;
  readonly priceVersions: readonly string[];
  readonly tokenSources: Record<TokenSource, number>;
  /** Requests among `requests` that no price covered: their tokens count, their cost is missing (see `unpriced`). */
  readonly unpricedRequests: number;
}

export interface ChargebackReport {
  readonly currency: string;
  readonly groupBy: GroupBy;
  readonly rows: readonly ChargebackRow[];
  readonly totals: Omit<ChargebackRow, 'key' | 'identity' | 'identityKind' | 'displayName' | 'team' | 'costCenter' | 'model' | 'deployment'>;
  /** Models with tokens but no price in effect, with their tokens. */
  readonly unpriced: readonly { readonly model: string; readonly deployment: string; readonly requests: number; readonly promptTokens: number; readonly completionTokens: number }[];
}

export const UNMAPPED = '(unmapped)';

/**
 * Identity of a provisioned deployment's cost of the days nobody used (no tokens on the deployment all day). It is
 * no team's or cost center's: a report by team shows it on a row of its own, as the FOCUS export leaves its team empty.
 */
export const IDLE_CAPACITY = '(idle provisioned capacity)';

/** An identity's team and cost center from its directory entry; none for idle capacity. */
export function teamOf(identity: string, entry: DirectoryRow | undefined): { readonly team: string | null; readonly costCenter: string | null } {
  if (identity === IDLE_CAPACITY) return { team: null, costCenter: null };
  return { team: entry?.team ?? UNMAPPED, costCenter: entry?.costCenter ?? UNMAPPED };
}

/**
 * Groups lines into report rows. Exact sums are kept in picodollars; displayed costs are rounded half-even
 * and allocated by largest remainder, so the rows of any grouping sum to the same displayed total.
 */
export function chargebackReport(
  lines: readonly ChargebackLine[],
  options: { groupBy: GroupBy; directory: ReadonlyMap<string, DirectoryRow>; currency: string; decimals?: number },
): ChargebackReport {
  const directoryOf = (identity: string) => options.directory.get(normalizeIdentityKey(identity));
  const keyOf = (line: ChargebackLine): string => {
    switch (options.groupBy) {
      case 'identity':
        return line.identity;
      case 'team':
        return teamOf(line.identity, directoryOf(line.identity)).team ?? IDLE_CAPACITY;
      case 'costCenter':
        return teamOf(line.identity, directoryOf(line.identity)).costCenter ?? IDLE_CAPACITY;
      case 'model':
        return line.model;
      case 'deployment':
        return line.deployment;
    }
  };
  const groups = new Map<string, { sum: ChargebackLine; members: ChargebackLine[] }>();
  for (const line of lines) {
    const key = keyOf(line);
    const group = groups.get(key) ?? { sum: emptyLine({ ...line, priceVersion: null, unpriced: false }), members: [] };
    addInto(group.sum, line);
    group.members.push(line);
    groups.set(key, group);
  }
  const ordered = [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const decimals = options.decimals ?? 6;
  const displayed = allocateRounded(ordered.map(([, g]) => g.sum.costPico), decimals);
  const totalLine = emptyLine({ identity: '', identityKind: 'unattributed', model: '', deployment: '', priceVersion: null, unpriced: false });
  for (const line of lines) addInto(totalLine, line);
  const unpricedRequestsOf = (members: readonly ChargebackLine[]) => members.reduce((n, m) => (m.unpriced ? n + m.requests : n), 0);
  const unique = <T>(values: readonly T[]): T | null => (values.every((v) => v === values[0]) && values.length > 0 ? values[0]! : null);

  const rows: ChargebackRow[] = ordered.map(([key, { sum, members }], i) => {
    const identity = options.groupBy === 'identity' ? key : null;
    const entry = identity ? directoryOf(identity) : undefined;
    return {
      key,
      identity,
      // The directory knows managed and federated workload identities, which tokens alone show as apps.
      identityKind: identity ? (entry?.kind ?? sum.identityKind) : null,
      displayName: identity ? (entry?.displayName ?? null) : null,
      ...(identity ? teamOf(identity, entry) : { team: options.groupBy === 'team' ? key : null, costCenter: options.groupBy === 'costCenter' ? key : null }),
      model: unique(members.map((m) => m.model)),
      deployment: unique(members.map((m) => m.deployment)),
      requests: sum.requests,
      promptTokens: sum.promptTokens,
      cachedTokens: sum.cachedTokens,
      completionTokens: sum.completionTokens,
      reasoningTokens: sum.reasoningTokens,
      costPico: sum.costPico,
      cost: formatPicodollars(displayed[i]!, decimals),
      priceVersions: [...new Set(members.map((m) => m.priceVersion).filter((v): v is string => v !== null))].sort(),
      tokenSources: sum.tokenSources,
      unpricedRequests: unpricedRequestsOf(members),
    };
  });
  const unpriced = new Map<string, { model: string; deployment: string; requests: number; promptTokens: number; completionTokens: number }>();
  for (const line of lines.filter((l) => l.unpriced)) {
    const key = `${line.model}\u0000${line.deployment}`;
    const u = unpriced.get(key) ?? { model: line.model, deployment: line.deployment, requests: 0, promptTokens: 0, completionTokens: 0 };
    u.requests += line.requests;
    u.promptTokens += line.promptTokens;
    u.completionTokens += line.completionTokens;
    unpriced.set(key, u);
  }
  return {
    currency: options.currency,
    groupBy: options.groupBy,
    rows,
    totals: {
      requests: totalLine.requests,
      promptTokens: totalLine.promptTokens,
      cachedTokens: totalLine.cachedTokens,
      completionTokens: totalLine.completionTokens,
      reasoningTokens: totalLine.reasoningTokens,
      costPico: totalLine.costPico,
      cost: formatPicodollars(displayed.reduce((a, b) => a + b, 0n), decimals),
      priceVersions: [...new Set(lines.map((l) => l.priceVersion).filter((v): v is string => v !== null))].sort(),
      tokenSources: totalLine.tokenSources,
      unpricedRequests: unpricedRequestsOf(lines),
    },
    unpriced: [...unpriced.values()].sort((a, b) => (a.model < b.model ? -1 : a.model > b.model ? 1 : 0)),
  };
}
