import { normalizeIdentityKey, type DirectoryRow } from '../contracts/directory.js';
import type { LedgerEntry, TokenSource } from '../contracts/ledger-entry.js';
import { resolveIdentity, type IdentityKind, type IdentityOptions } from './identity.js';
import { allocateRounded, formatPicodollars, type Picodollars } from './money.js';
import { priceEntry, type PriceMatcher } from './price-matching.js';

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
  /** Tokens > 0 but no price in effect for the model: reported, never priced at zero silently. */
  readonly unpriced: boolean;
}

export const UNKNOWN = '(unknown)';

/** Requests without tokens and unpriced requests both lack a price version: `unpriced` keeps them apart. */
const lineKey = (l: Pick<ChargebackLine, 'identity' | 'model' | 'deployment' | 'priceVersion' | 'unpriced'>) =>
  `${l.identity}\u0000${l.model}\u0000${l.deployment}\u0000${l.priceVersion ?? ''}\u0000${l.unpriced ? 'unpriced' : ''}`;

function emptyLine(fields: Pick<ChargebackLine, 'identity' | 'identityKind' | 'model' | 'deployment' | 'priceVersion' | 'unpriced'>): ChargebackLine {
  return { ...fields, requests: 0, promptTokens: 0, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0, costPico: 0n, tokenSources: { gateway: 0, 'llm-log': 0, none: 0 } };
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

/** Accumulates ledger entries (or other lines) into chargeback lines; integer and bigint sums only. */
export class ChargebackLines {
  private readonly lines = new Map<string, ChargebackLine>();

  constructor(
    private readonly prices: PriceMatcher,
    private readonly identityOptions: IdentityOptions = {},
  ) {}

  addEntry(entry: LedgerEntry): void {
    const { key: identity, kind: identityKind } = resolveIdentity(entry, this.identityOptions);
    const modelName = entry.model ?? (entry.diagnostics?.status === 'matched' ? entry.diagnostics.modelName : null);
    const tokens = entry.tokens;
    const hasTokens = tokens.promptTokens + tokens.completionTokens > 0;
    const match = hasTokens ? this.prices.match({ model: modelName, deployment: entry.deployment, time: entry.time }) : null;
    const priced = match ? priceEntry(entry, match) : null;
    const line = emptyLine({
      identity,
      identityKind,
      model: modelName ?? UNKNOWN,
      deployment: entry.deployment ?? UNKNOWN,
      priceVersion: priced?.priceVersion ?? null,
      unpriced: hasTokens && !priced,
    });
    line.requests = 1;
    line.promptTokens = tokens.promptTokens;
    line.cachedTokens = tokens.cachedTokens;
    line.completionTokens = tokens.completionTokens;
    line.reasoningTokens = tokens.reasoningTokens;
    line.costPico = priced?.costPico ?? 0n;
    line.tokenSources[tokens.source] = 1;
    this.addLine(line);
  }

  addLine(line: ChargebackLine): void {
    const key = lineKey(line);
    let target = this.lines.get(key);
    if (!target) {
      target = emptyLine(line);
      this.lines.set(key, target);
    }
    addInto(target, line);
  }

  /** Lines in a stable order (identity, model, deployment, price version). */
  list(): ChargebackLine[] {
    return [...this.lines.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, line]) => line);
  }
}

export const GROUP_BY = ['identity', 'team', 'costCenter', 'model', 'deployment'] as const;
export type GroupBy = (typeof GROUP_BY)[number];

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
        return directoryOf(line.identity)?.team ?? UNMAPPED;
      case 'costCenter':
        return directoryOf(line.identity)?.costCenter ?? UNMAPPED;
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
      team: identity ? (entry?.team ?? UNMAPPED) : options.groupBy === 'team' ? key : null,
      costCenter: identity ? (entry?.costCenter ?? UNMAPPED) : options.groupBy === 'costCenter' ? key : null,
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
    },
    unpriced: [...unpriced.values()].sort((a, b) => (a.model < b.model ? -1 : a.model > b.model ? 1 : 0)),
  };
}
