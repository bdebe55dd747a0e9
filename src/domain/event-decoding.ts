/**
 * Event Hubs bodies arrive from the Functions host as parsed objects, strings or bytes, and one body may
 * hold one event, an array of events or an Azure Monitor `{"records":[…]}` envelope. This module turns a
 * body into items, each with the exact text it came from, or says why the body is unreadable.
 */

/** Event Hubs caps an event at 1 MB (Standard, Premium); a larger body is corrupt or hostile. */
export const MAX_BODY_BYTES = 1024 * 1024;

export interface RawPayload {
  readonly encoding: 'utf8' | 'base64';
  readonly data: string;
  readonly bytes: number;
}

export interface DecodedItem {
  readonly value: unknown;
  readonly raw: RawPayload;
  /** Position inside the body, or null when the body held a single event. */
  readonly itemIndex: number | null;
}

export type BodyDecoding =
  | { readonly ok: true; readonly items: readonly DecodedItem[] }
  | { readonly ok: false; readonly reason: string; readonly raw: RawPayload };

// A byte-order mark is kept, so that a dead letter holds the bytes received; `decodeBody` reads past it.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function textPayload(text: string): RawPayload {
  return { encoding: 'utf8', data: text, bytes: Buffer.byteLength(text, 'utf8') };
}

/** The reason a text is refused for its size, or null. A UTF-16 code unit takes at most 3 UTF-8 bytes. */
function oversizeReason(text: string): string | null {
  if (text.length * 3 <= MAX_BODY_BYTES) return null;
  const bytes = Buffer.byteLength(text, 'utf8');
  return bytes > MAX_BODY_BYTES ? `body of ${bytes} bytes exceeds ${MAX_BODY_BYTES}` : null;
}

/** An item of a text body; its raw payload is built only when asked for (for a dead letter). */
class TextItem implements DecodedItem {
  constructor(
    readonly value: unknown,
    private readonly text: string,
    readonly itemIndex: number | null,
  ) {}

  get raw(): RawPayload {
    return textPayload(this.text);
  }
}

/**
 * An item of a list body read from text (an array, or Azure Monitor's `records`), nested no deeper than
 * `WRITABLE_DEPTH`: its text is found only when a dead letter asks for it, as it was sent (`JSON.stringify` of the
 * value would write `1e400` as `null`, round long integers and drop a repeated key).
 */
class ListItem implements DecodedItem {
  constructor(
    readonly value: unknown,
    readonly itemIndex: number,
    private readonly texts: () => readonly string[] | null,
  ) {}

  get raw(): RawPayload {
    return textPayload(this.texts()?.[this.itemIndex] ?? JSON.stringify(this.value));
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const JSON_SPACE = /[ \t\n\r]/;

/** The end of the JSON string whose opening quote is at `at`. */
export function stringEnd(text: string, at: number): number {
  for (let i = at + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH) i++;
    else if (c === QUOTE) return i + 1;
  }
  return text.length;
}

/** The end of the JSON value at `at` of a valid JSON text, read without recursion. */
function valueEnd(text: string, at: number): number {
  const first = text[at];
  if (first === '"') return stringEnd(text, at);
  if (first !== '{' && first !== '[') {
    let i = at;
    while (i < text.length && !/[,\]} \t\n\r]/.test(text[i]!)) i++;
    return i;
  }
  let depth = 0;
  for (let i = at; i < text.length; i++) {
    const c = text[i];
    if (c === '"') i = stringEnd(text, i) - 1;
    else if (c === '{' || c === '[') depth++;
    else if ((c === '}' || c === ']') && --depth === 0) return i + 1;
  }
  return text.length;
}

function skipSpace(text: string, at: number): number {
  while (at < text.length && JSON_SPACE.test(text[at]!)) at++;
  return at;
}

/** Where an item of a list body is written: `text.slice(start, end)`. */
export interface ItemSpan {
  readonly start: number;
  readonly end: number;
}

/** Where the elements of the array at `at` are written. */
function elementSpans(text: string, at: number): ItemSpan[] {
  const spans: ItemSpan[] = [];
  let i = skipSpace(text, at + 1);
  while (i < text.length && text[i] !== ']') {
    const end = valueEnd(text, i);
    spans.push({ start: i, end });
    i = skipSpace(text, end);
    if (text[i] === ',') i = skipSpace(text, i + 1);
  }
  return spans;
}

function listItemTexts(text: string): string[] | null {
  return listItemSpans(text)?.map(({ start, end }) => text.slice(start, end)) ?? null;
}

/**
 * Where the items of a list body are written: the elements of a top-level array, or of the last `records` member of
 * a top-level object (the one `JSON.parse` keeps); null for any other body. `text` is valid JSON.
 */
export function listItemSpans(text: string): ItemSpan[] | null {
  const start = skipSpace(text, 0);
  if (text[start] === '[') return elementSpans(text, start);
  if (text[start] !== '{') return null;
  let records: number | null = null;
  let i = skipSpace(text, start + 1);
  while (i < text.length && text[i] === '"') {
    const keyEnd = stringEnd(text, i);
    const key: unknown = JSON.parse(text.slice(i, keyEnd));
    const valueStart = skipSpace(text, skipSpace(text, keyEnd) + 1);
    if (key === 'records') records = text[valueStart] === '[' ? valueStart : null;
    i = skipSpace(text, valueEnd(text, valueStart));
    if (text[i] === ',') i = skipSpace(text, i + 1);
  }
  return records === null ? null : elementSpans(text, records);
}

/**
 * JSON.parse reads deeper nesting than JSON.stringify writes (about 4,000 levels on a main thread, fewer on a
 * deep stack). JSON values nested no deeper than this are written on any stack that reaches this code.
 */
const WRITABLE_DEPTH = 512;

/** Whether arrays and objects nest more than `limit` levels deep in a value (walked without recursion). */
function nestsDeeperThan(value: unknown, limit: number): boolean {
  const pending: { value: object; depth: number }[] = [];
  if (value !== null && typeof value === 'object') pending.push({ value, depth: 1 });
  for (let next = pending.pop(); next; next = pending.pop()) {
    if (next.depth > limit) return true;
    for (const child of Array.isArray(next.value) ? next.value : Object.values(next.value)) {
      if (child !== null && typeof child === 'object') pending.push({ value: child as object, depth: next.depth + 1 });
    }
  }
  return false;
}

function bytesPayload(bytes: Uint8Array): RawPayload {
  return { encoding: 'base64', data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'), bytes: bytes.byteLength };
}

function safeStringify(value: unknown): string | null {
  try {
    return JSON.stringify(value) ?? null;
  } catch {
    return null;
  }
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return '[a body that cannot be converted to text]';
  }
}

/** A body's bytes, when the host handed it over as bytes. */
export function asBytes(body: unknown): Uint8Array | null {
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  return null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function utf8Text(bytes: Uint8Array): string | null {
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

/**
 * The text of a body: a string as it is, bytes within the size limit decoded as UTF-8 (a byte-order mark kept);
 * null for anything else, which `decodeBody` words. `decodeBody(bodyText(body) ?? body)` is `decodeBody(body)`.
 */
export function bodyText(body: unknown): string | null {
  if (typeof body === 'string') return body;
  const bytes = asBytes(body);
  return bytes && bytes.byteLength <= MAX_BODY_BYTES ? utf8Text(bytes) : null;
}

/**
 * The text of a body to keep, of any size: a string as it is, bytes that are UTF-8 decoded (a byte-order mark kept);
 * null for anything else. What is kept of a body too large to read still has its content removed.
 */
export function keptText(body: unknown): string | null {
  if (typeof body === 'string') return body;
  const bytes = asBytes(body);
  return bytes && utf8Text(bytes);
}

export function decodeBody(body: unknown): BodyDecoding {
  // Valid UTF-8 is kept as text, so the same payload has one dead-letter id however the host delivered it.
  const text = bodyText(body);
  const bytes = text === null ? asBytes(body) : null;
  if (bytes) {
    const reason = bytes.byteLength > MAX_BODY_BYTES ? `body of ${bytes.byteLength} bytes exceeds ${MAX_BODY_BYTES}` : 'body is not valid UTF-8';
    return { ok: false, reason, raw: bytesPayload(bytes) };
  }
  if (text === null) {
    const serialised = safeStringify(body);
    if (serialised === null) return { ok: false, reason: 'body cannot be serialised as JSON', raw: textPayload(safeString(body)) };
    const oversize = oversizeReason(serialised);
    if (oversize !== null) return { ok: false, reason: oversize, raw: textPayload(serialised) };
    return splitParsed(body, serialised, serialised, false);
  }
  const oversize = oversizeReason(text);
  if (oversize !== null) return { ok: false, reason: oversize, raw: textPayload(text) };
  // A UTF-8 byte-order mark is not JSON; producers on Windows sometimes write one. Dead letters keep it.
  const json = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    return { ok: false, reason: `body is not JSON: ${(error as Error).message.slice(0, 200)}`, raw: textPayload(text) };
  }
  return splitParsed(parsed, json, text, true);
}

/** `json`: the text parsed; `received`: the body as it came, which a dead letter of the whole body keeps. */
function splitParsed(parsed: unknown, json: string, received: string, readFromText: boolean): BodyDecoding {
  const list = Array.isArray(parsed) ? parsed : isObject(parsed) && Array.isArray(parsed['records']) ? parsed['records'] : null;
  if (list === null) {
    if (!isObject(parsed)) return { ok: false, reason: `body is JSON ${parsed === null ? 'null' : typeof parsed}, not an object`, raw: textPayload(received) };
    return { ok: true, items: [new TextItem(parsed, received, null)] };
  }
  if (list.length === 0) return { ok: false, reason: 'body holds no events (empty array)', raw: textPayload(received) };
  // Most items are accepted: the text of each is found only for a dead letter.
  if (readFromText && !nestsDeeperThan(list, WRITABLE_DEPTH)) {
    let texts: readonly string[] | null | undefined;
    const itemTexts = () => {
      texts ??= listItemTexts(json);
      return texts?.length === list.length ? texts : null;
    };
    return { ok: true, items: list.map((value: unknown, itemIndex) => new ListItem(value, itemIndex, itemTexts)) };
  }
  const items: DecodedItem[] = [];
  for (const [itemIndex, value] of list.entries()) {
    const itemText = safeStringify(value);
    if (itemText === null) return { ok: false, reason: `item ${itemIndex} cannot be serialised as JSON (too deeply nested)`, raw: textPayload(received) };
    items.push(new TextItem(value, itemText, itemIndex));
  }
  return { ok: true, items };
}
