/**
 * Gateway events v1 for property tests: the canonical events of a simulated day, values that probe every rule of
 * the contract, and mutations of canonical events built from them.
 */
import fc from 'fast-check';
import { gatewayEventV1Schema, MAX_ID_LENGTH, MAX_TEXT_LENGTH, MAX_TOKENS } from '../../src/contracts/gateway-event.js';
import { simulateDay } from '../../src/simulator/traffic.js';

const DAY_MS = 86_400_000;

/** Every line of a simulated day: the events the APIM policy writes and the simulator's malformed lines. */
export const simulatedLines: readonly string[] = simulateDay({ requests: 400, seed: 23, day: '2025-06-01' }).eventLines;

/** Every line of a simulated day that parses as JSON: the events the APIM policy writes and the simulator's malformed ones. */
export const simulatedValues: unknown[] = simulatedLines.flatMap((line) => {
  try {
    return [JSON.parse(line) as unknown];
  } catch {
    return [];
  }
});
/** The events zod accepts: as the APIM policy writes them. */
export const canonicalEvents = simulatedValues.filter((value) => gatewayEventV1Schema.safeParse(value).success);

/** Objects as nested [key, value] lists, so that deep equality also compares key order (and tells -0 from 0). */
export function ordered(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(ordered);
  if (value !== null && typeof value === 'object') return Object.entries(value).map(([key, inner]) => [key, ordered(inner)]);
  return value;
}

const iso = (ms: number) => new Date(ms).toISOString();

const times = [
  '2025-05-31T23:59:59.999Z',
  '2024-02-29T12:00:00.000Z',
  '2023-02-29T12:00:00.000Z',
  '2026-02-30T00:00:00.000Z',
  '2026-04-31T00:00:00.000Z',
  '2026-13-01T00:00:00.000Z',
  '2026-00-10T00:00:00.000Z',
  '2026-01-00T00:00:00.000Z',
  '2026-01-01T24:00:00.000Z',
  '2026-01-01T23:60:00.000Z',
  '2026-01-01T23:59:60.000Z',
  '2026-01-01T00:00:00Z',
  '2026-01-01T00:00:00.1234Z',
  '2026-01-01T01:00:00.000+01:00',
  '2026-01-01T00:00:00.000z',
  '2026-01-01 00:00:00.000Z',
  ' 2026-01-01T00:00:00.000Z',
  '2019-12-31T23:59:59.999Z',
  '2020-01-01T00:00:00.000Z',
  '0000-01-01T00:00:00.000Z',
  '2000-02-29T00:00:00.000Z',
  '2100-02-29T00:00:00.000Z',
  '2999-01-01T00:00:00.000Z',
  '+002026-01-01T00:00:00.000Z',
  '２０２６-01-01T00:00:00.000Z',
  'yesterday',
];

/** Times relative to the clock, computed when drawn: the limit is one day after now. */
const relativeTime = fc.constantFrom(-DAY_MS, DAY_MS - 60_000, DAY_MS + 60_000, 2 * DAY_MS).map((offset) => iso(Date.now() + offset));

const oddObjects = fc.constantFrom<() => unknown>(
  () => ({}),
  () => [],
  () => Object.create(null) as unknown,
  () => new (class Box {})(),
  () => new Date(0),
);

export const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, undefined, true, false, '', 'x', 0, -0, 1, -1, 0.5, 1e21, NaN, Infinity),
  fc.string({ maxLength: 6 }),
  fc.double(),
  oddObjects.map((make) => make()),
);

const idValues = fc.oneof(
  fc.constantFrom('x', '', ' ', ' x', 'x ', 'x\t', '\u00a0x', 'x\u00a0', 'x\ufeff', 'é', 'xé', 'éx', '\ud800', 'x\udc00y', '😀', 'x😀'),
  fc.constantFrom(MAX_ID_LENGTH - 1, MAX_ID_LENGTH, MAX_ID_LENGTH + 1).map((n) => 'a'.repeat(n)),
  fc.constantFrom(MAX_ID_LENGTH, MAX_ID_LENGTH + 1).map((n) => ` ${'a'.repeat(n - 1)} `),
  fc.string({ maxLength: 5 }),
);

const textValues = fc.oneof(
  fc.constantFrom('', ' ', ' x ', 'é', '\ud800', 'x\udc00', '😀', 'East US', 'eastus'),
  fc.constantFrom(MAX_TEXT_LENGTH - 1, MAX_TEXT_LENGTH, MAX_TEXT_LENGTH + 1).map((n) => 'a'.repeat(n)),
  fc.constantFrom(MAX_TEXT_LENGTH, MAX_TEXT_LENGTH + 1).map((n) => 'é'.repeat(n)),
  fc.string({ unit: 'binary', maxLength: 4 }),
);

const timeValues = fc.oneof(fc.constantFrom(...times), relativeTime);

const countValues = (max: number) =>
  fc.oneof(fc.constantFrom(0, -0, -1, 0.5, max, max + 1, 2 ** 53 - 1, 2 ** 53, 1e21, Infinity, NaN, '1'), fc.integer({ min: 0, max: 60 }));

const millisecondValues = fc.oneof(fc.constantFrom(0, -0, -1, 0.5, DAY_MS, DAY_MS + 0.5, DAY_MS + 1, Infinity, NaN, '1'), fc.double({ min: 0, max: DAY_MS }));

const statusValues = fc.constantFrom(99, 100, 200, 200.5, 429, 599, 600, -0, 1e21, '200', NaN);

/** Every key of the contract, with values that probe its rules, plus keys it does not know. */
const FIELDS: readonly (readonly [readonly string[], fc.Arbitrary<unknown>])[] = [
  [['schema'], fc.constantFrom('tokenledger.gateway/v1', 'tokenledger.gateway/v0', ' tokenledger.gateway/v1')],
  [['gatewayRequestId'], idValues],
  [['apimRequestId'], idValues],
  [['time'], timeValues],
  [['gateway'], anyValue],
  [['gateway', 'service'], textValues],
  [['gateway', 'region'], textValues],
  [['gateway', 'backendId'], textValues],
  [['gateway', 'backendUrl'], textValues],
  [['backendRegion'], textValues],
  [['subscriptionId'], idValues],
  [['productId'], idValues],
  [['caller'], anyValue],
  [['caller', 'oid'], idValues],
  [['caller', 'tid'], idValues],
  [['caller', 'appid'], idValues],
  [['caller', 'idtyp'], fc.constantFrom('user', 'app', 'USER', 'user ', '')],
  [['caller', 'upn'], textValues],
  [['caller', 'sub'], idValues],
  [['deployment'], textValues],
  [['model'], textValues],
  [['operation'], textValues],
  [['stream'], fc.constantFrom(true, false, 'true', 0)],
  [['status'], statusValues],
  [['usage'], anyValue],
  [['usage', 'promptTokens'], countValues(MAX_TOKENS)],
  [['usage', 'cachedTokens'], countValues(MAX_TOKENS)],
  [['usage', 'completionTokens'], countValues(MAX_TOKENS)],
  [['usage', 'reasoningTokens'], countValues(MAX_TOKENS)],
  [['usage', 'totalTokens'], countValues(MAX_TOKENS)],
  [['timings'], anyValue],
  [['timings', 'totalMs'], millisecondValues],
  [['timings', 'backendMs'], millisecondValues],
  [['timings', 'ttftMs'], millisecondValues],
  [['rateLimit'], anyValue],
  [['rateLimit', 'remainingRequests'], countValues(Number.MAX_SAFE_INTEGER)],
  [['rateLimit', 'remainingTokens'], countValues(Number.MAX_SAFE_INTEGER)],
  [['extra'], anyValue],
  [['gateway', 'extra'], anyValue],
  [['caller', 'extra'], anyValue],
  [['usage', 'extra'], anyValue],
  [['__proto__'], anyValue],
];

export type Mutation = { readonly path: readonly string[]; readonly op: 'delete' } | { readonly path: readonly string[]; readonly op: 'set'; readonly value: unknown };

/** Delete a key, or set it to null, undefined, a value probing its rules or any value at all. */
const mutation: fc.Arbitrary<Mutation> = fc.constantFrom(...FIELDS).chain(([path, probe]) =>
  fc.oneof(
    { arbitrary: fc.constant({ path, op: 'delete' as const }), weight: 1 },
    { arbitrary: fc.constantFrom(null, undefined).map((value) => ({ path, op: 'set' as const, value })), weight: 1 },
    { arbitrary: probe.map((value) => ({ path, op: 'set' as const, value })), weight: 4 },
    { arbitrary: anyValue.map((value) => ({ path, op: 'set' as const, value })), weight: 1 },
  ),
);

const usageCount = fc.oneof({ arbitrary: fc.integer({ min: 0, max: 50 }), weight: 4 }, fc.constantFrom(-0, 0.5, MAX_TOKENS, MAX_TOKENS + 1));

/** Token counts that keep or break the usage invariants (cached ≤ prompt, reasoning ≤ completion, total = sum). */
const usageMutation: fc.Arbitrary<Mutation> = fc
  .record({
    prompt: usageCount,
    cached: usageCount,
    completion: usageCount,
    reasoning: usageCount,
    totalOffset: fc.constantFrom(0, 0, 0, 1, -1, null),
  })
  .map(({ prompt, cached, completion, reasoning, totalOffset }) => ({
    path: ['usage'],
    op: 'set' as const,
    value: {
      promptTokens: prompt,
      cachedTokens: cached,
      completionTokens: completion,
      reasoningTokens: reasoning,
      ...(totalOffset === null ? {} : { totalTokens: prompt + completion + totalOffset }),
    },
  }));

/** A deep copy of `base` (as JSON sees it) with the mutations applied; paths through non-objects are skipped. */
export function mutate(base: unknown, mutations: readonly Mutation[]): unknown {
  const copy = JSON.parse(JSON.stringify(base)) as Record<string, unknown>;
  for (const m of mutations) {
    let target: unknown = copy;
    for (const key of m.path.slice(0, -1)) target = target !== null && typeof target === 'object' ? (target as Record<string, unknown>)[key] : undefined;
    if (target === null || typeof target !== 'object') continue;
    const key = m.path[m.path.length - 1]!;
    if (m.op === 'delete') delete (target as Record<string, unknown>)[key];
    else Object.defineProperty(target, key, { value: m.value, enumerable: true, writable: true, configurable: true });
  }
  return copy;
}

/** A canonical event with one or two mutations. */
export const mutatedEvent: fc.Arbitrary<unknown> = fc
  .tuple(fc.constantFrom(...canonicalEvents), fc.array(fc.oneof({ arbitrary: mutation, weight: 5 }, { arbitrary: usageMutation, weight: 1 }), { minLength: 1, maxLength: 2 }))
  .map(([base, mutations]) => mutate(base, mutations));

const digits = (n: number, width: number) => String(n).padStart(width, '0');

/** Texts of the canonical form with field values on both sides of every calendar limit. */
export const canonicalShapedInstant = fc
  .record({
    year: fc.oneof(fc.integer({ min: 0, max: 9999 }), fc.constantFrom(1900, 2000, 2020, 2023, 2024, 2100, 2400)),
    month: fc.integer({ min: 0, max: 13 }),
    day: fc.integer({ min: 0, max: 32 }),
    hour: fc.integer({ min: 0, max: 25 }),
    minute: fc.integer({ min: 0, max: 61 }),
    second: fc.integer({ min: 0, max: 61 }),
    millisecond: fc.integer({ min: 0, max: 999 }),
  })
  .map(
    (t) =>
      `${digits(t.year, 4)}-${digits(t.month, 2)}-${digits(t.day, 2)}T${digits(t.hour, 2)}:${digits(t.minute, 2)}:${digits(t.second, 2)}.${digits(t.millisecond, 3)}Z`,
  );
/** Every instant of the years 0000–9999, in toISOString form. */
const anyInstant = fc.integer({ min: -62_167_219_200_000, max: 253_402_300_799_999 }).map(iso);
/** A canonical instant with one character replaced, removed or doubled. */
const nearlyCanonical = fc.tuple(anyInstant, fc.nat(23), fc.constantFrom('', ' ', 'x', '0', 'z', '+')).map(([text, at, c]) => text.slice(0, at) + c + text.slice(at + 1));

/** Texts around the canonical instant form: in it, one character off, and anything at all. */
export const instantLikeText = fc.oneof(canonicalShapedInstant, anyInstant, nearlyCanonical, fc.string());

/** The lines of a simulated day that zod accepts, as the APIM policy writes them. */
export const canonicalLines: readonly string[] = simulatedLines.filter((line) => {
  try {
    return gatewayEventV1Schema.safeParse(JSON.parse(line)).success;
  } catch {
    return false;
  }
});

/** A small deterministic generator for the choices of `serialize`, seeded by fast-check. */
function chooser(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
}

/** JSON's whitespace (mostly none), then two characters that are not JSON whitespace. */
const WHITESPACE = ['', '', '', '', '', ' ', '\n', '\t', '\r\n', '  ', '\u00a0', '\f'];

/** `text` as a JSON string token, some characters written as escapes, rarely a raw control character. */
function stringToken(text: string, pick: (n: number) => number, odds: number): string {
  const plain = JSON.stringify(text);
  switch (pick(odds)) {
    case 0: {
      // One character as a \u escape (the same string for JSON.parse).
      if (text.length === 0) return plain;
      const at = pick(text.length);
      return JSON.stringify(text.slice(0, at)).slice(0, -1) + `\\u${text.charCodeAt(at).toString(16).padStart(4, '0')}` + JSON.stringify(text.slice(at + 1)).slice(1);
    }
    case 1:
      return plain.slice(0, -1) + ['\\"', '\\n', '\\u00e9', '\\/', '\\\\'][pick(5)]! + '"';
    case 2:
      // A raw control character: JSON.parse rejects it.
      return plain.slice(0, -1) + String.fromCharCode(pick(0x20)) + '"';
    case 3:
      return plain.slice(0, -1) + ['é', '\ud800', '😀', '\u2028', '\u007f'][pick(5)]! + '"';
    default:
      return plain;
  }
}

/** `value` as a number token: JSON.stringify's, or another spelling of it (valid or not). */
function numberToken(value: number, pick: (n: number) => number, odds: number): string {
  const plain = JSON.stringify(value);
  if (!Number.isFinite(value) || pick(odds) !== 0) return plain;
  return [`${plain}.0`, `${plain}e0`, `${plain}E+0`, `0${plain}`, `-${plain}`, `+${plain}`, '-0', '1.5', `${plain}.`, '1234567890123456', '9007199254740993', '0.1000000000000000055511151231257827', `${plain}0000000000000000`][pick(13)]!;
}

/**
 * `value` as JSON text, with random key order, whitespace, escapes, number spellings, unknown and duplicate
 * keys, chosen by `seed`; valid JSON or not. A third of the seeds change nothing but key order and JSON
 * whitespace, a third change a token now and then, a third change many.
 */
export function serialize(value: unknown, seed: number): string {
  const pick = chooser(seed);
  const level = pick(3);
  /** One chance in `n` at level 2, in 40·n at level 1, none at level 0. */
  const odds = (n: number) => (level === 0 ? Number.MAX_SAFE_INTEGER : level === 1 ? 40 * n : n);
  const chance = (n: number) => pick(odds(n)) === 0;
  const ws = () => WHITESPACE[pick(level === 0 ? WHITESPACE.length - 2 : WHITESPACE.length)]!;
  const write = (v: unknown): string => {
    if (v === null || v === undefined) return 'null';
    if (typeof v === 'string') return stringToken(v, pick, odds(3) * 4);
    if (typeof v === 'number') return numberToken(v, pick, odds(3));
    if (typeof v === 'boolean') return chance(20) ? (v ? 'True' : 'fals') : String(v);
    if (Array.isArray(v)) return `[${v.map((item) => ws() + write(item) + ws()).join(',')}]`;
    if (typeof v === 'object') {
      const entries: [string, unknown][] = Object.entries(v).filter(([, inner]) => inner !== undefined);
      if (pick(4) === 0) {
        // Shuffle the keys.
        for (let i = entries.length - 1; i > 0; i--) {
          const j = pick(i + 1);
          [entries[i], entries[j]] = [entries[j]!, entries[i]!];
        }
      }
      if (entries.length > 0 && chance(10)) entries.push([entries[pick(entries.length)]![0], entries[pick(entries.length)]![1]]);
      if (chance(15)) entries.splice(pick(entries.length + 1), 0, [['extra', '__proto__', 'constructor', 'Schema', ''][pick(5)]!, pick(2) === 0 ? null : {}]);
      const members = entries.map(([key, inner]) => `${ws()}${chance(20) ? stringToken(key, pick, 4) : JSON.stringify(key)}${ws()}:${ws()}${write(inner)}${ws()}`);
      return `{${members.join(',')}${members.length > 0 && chance(30) ? ',' : ''}}`;
    }
    return JSON.stringify(v) ?? 'null';
  };
  return ws() + write(value) + ws();
}

const NUMBER_SPELLINGS = ['0', '-0', '01', '00', '1.0', '1.5', '0.5', '-1', '1e3', '1E3', '1e-3', '1.', '.5', '+1', '0x10', '1234567890123456', '9007199254740993', '99999999999999999999', '86400000.5', '100000001'];
const STRING_SPELLINGS = ['\\"', '\\n', '\\u00e9', '\\/', '\n', '\t', '\u0000', '\u001f', 'é', '\ud800', '😀', ' '];

/** `text` with the `index`-th match of `pattern` (its first group) replaced by `by`. */
function replaceMatch(text: string, pattern: RegExp, index: number, by: (token: string) => string): string {
  const found = [...text.matchAll(pattern)];
  if (found.length === 0) return text;
  const m = found[index % found.length]!;
  const start = m.index + m[0].length - m[1]!.length;
  return text.slice(0, start) + by(m[1]!) + text.slice(start + m[1]!.length);
}

/**
 * `text` cut short, with a character replaced, inserted or removed, a number token or a string token spelled
 * otherwise, or as it is.
 */
function damage(text: string, pick: (n: number) => number): string {
  const at = pick(text.length + 1);
  switch (pick(10)) {
    case 5:
      return replaceMatch(text, /[:,[](-?[0-9][0-9.eE+-]*)/g, pick(64), () => NUMBER_SPELLINGS[pick(NUMBER_SPELLINGS.length)]!);
    case 6:
      return replaceMatch(text, /:"([^"]*)"/g, pick(64), (token) => {
        const where = pick(token.length + 1);
        return token.slice(0, where) + STRING_SPELLINGS[pick(STRING_SPELLINGS.length)]! + token.slice(where);
      });
    case 0:
      return text.slice(0, at);
    case 1:
      return text.slice(0, at) + '{}[]",:0-.e\\ ntf\ufeff\u0000'[pick(19)]! + text.slice(at + 1);
    case 2:
      return text.slice(0, at) + '{}[]",:0-.e\\ ntf\ufeff\u0000'[pick(19)]! + text.slice(at);
    case 3:
      return text.slice(0, at) + text.slice(at + 1);
    case 4:
      return '\ufeff' + text;
    default:
      return text;
  }
}

/**
 * Texts around the gateway events of the APIM policy: its lines, mutated events re-serialised with random key
 * order, whitespace, escapes and number spellings, damaged texts, and garbage.
 */
export const eventText: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom(...simulatedLines), weight: 2 },
  { arbitrary: fc.tuple(fc.constantFrom(...canonicalLines), fc.noBias(fc.integer())).map(([line, seed]) => damage(line, chooser(seed))), weight: 2 },
  { arbitrary: fc.tuple(fc.constantFrom(...canonicalEvents), fc.noBias(fc.integer())).map(([event, seed]) => serialize(event, seed)), weight: 3 },
  { arbitrary: fc.tuple(mutatedEvent, fc.noBias(fc.integer())).map(([event, seed]) => (seed % 3 === 0 ? JSON.stringify(event) : serialize(event, seed))), weight: 4 },
  { arbitrary: fc.tuple(mutatedEvent, fc.noBias(fc.integer())).map(([event, seed]) => damage(JSON.stringify(event), chooser(seed))), weight: 1 },
  { arbitrary: fc.json(), weight: 1 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 1 },
);
