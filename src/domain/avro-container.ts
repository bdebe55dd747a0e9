/**
 * Avro object container files (https://avro.apache.org/docs/1.11.1/specification/#object-container-files), the
 * format Event Hubs Capture writes: a header (magic `Obj\x01`, metadata with the writer's schema and codec, a
 * 16-byte sync marker), then blocks, each a count of records, their byte size, the records in Avro's binary
 * encoding (compressed by the codec) and the sync marker again.
 *
 * Pure and synchronous: the caller reads the file and decompresses blocks; these functions read bytes it holds.
 * Where the bytes held end before what they read does, they throw `MORE_BYTES`, and the caller reads more.
 */

export const AVRO_MAGIC: readonly number[] = [0x4f, 0x62, 0x6a, 0x01];
const SYNC_BYTES = 16;

/** A writer's schema, as the decoder walks it. */
export type AvroType =
  | { readonly kind: 'null' | 'boolean' | 'int' | 'long' | 'float' | 'double' | 'bytes' | 'string' }
  | { readonly kind: 'record'; readonly name: string; readonly fields: { readonly name: string; readonly type: AvroType }[] }
  | { readonly kind: 'enum'; readonly symbols: readonly string[] }
  | { readonly kind: 'array'; readonly items: AvroType }
  | { readonly kind: 'map'; readonly values: AvroType }
  | { readonly kind: 'union'; readonly branches: readonly AvroType[] }
  | { readonly kind: 'fixed'; readonly size: number };

/** A file that is not a readable Avro container: what is wrong, and where. */
export class AvroFormatError extends Error {}

/** Thrown where the bytes held end too soon: read more of the file and try again. */
export const MORE_BYTES = Symbol('more bytes');

const PRIMITIVES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);

/** `takesBytes` of each type read, found once: an array's item type is asked for every array value. */
const TAKES_BYTES = new WeakMap<AvroType, boolean>();

/**
 * Whether every value of `type` takes a byte or more. Only a null ("written as zero bytes"), a fixed of size 0 and a
 * record of such fields take none; so a count of more such items than bytes left is no proof of damage.
 */
function takesBytes(type: AvroType): boolean {
  let known = TAKES_BYTES.get(type);
  if (known === undefined) TAKES_BYTES.set(type, (known = takesBytesWithin(type, new Set())));
  return known;
}

function takesBytesWithin(type: AvroType, seen: Set<AvroType>): boolean {
  if (type.kind === 'null') return false;
  if (type.kind === 'fixed') return type.size > 0;
  if (type.kind !== 'record' || seen.has(type)) return true;
  seen.add(type);
  return type.fields.some((field) => takesBytesWithin(field.type, seen));
}

/** At most this many items that take no bytes in one array block or container block: a larger count is damage, not data. */
const MAX_ITEMS_WITHOUT_BYTES = 1 << 20;

/** Refuses `count` items in `bytesLeft` bytes when they cannot fit, or (items of no bytes) when the count is absurd. */
function checkCount(count: number, bytesLeft: number, itemsTakeBytes: boolean, past: () => unknown): void {
  if (itemsTakeBytes ? count > bytesLeft : count > MAX_ITEMS_WITHOUT_BYTES) throw past();
}

/** `read()`, a schema or values nested deeper than the stack holds refused as a format error, not a crash. */
function withinStack<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof RangeError && /call stack/i.test(error.message)) throw new AvroFormatError('it nests types or values too deeply to read');
    throw error;
  }
}

/** The schema's JSON (already parsed) as an `AvroType`; named types may be referred to by name, recursion included. */
export function parseAvroSchema(schema: unknown): AvroType {
  const named = new Map<string, AvroType>();
  const parse = (node: unknown, namespace: string): AvroType => {
    if (typeof node === 'string') {
      if (PRIMITIVES.has(node)) return { kind: node as 'null' };
      const found = named.get(node.includes('.') || !namespace ? node : `${namespace}.${node}`) ?? named.get(node);
      if (!found) throw new AvroFormatError(`the schema names an unknown type ${JSON.stringify(node)}`);
      return found;
    }
    if (Array.isArray(node)) return { kind: 'union', branches: node.map((branch) => parse(branch, namespace)) };
    if (typeof node !== 'object' || node === null) throw new AvroFormatError(`the schema holds ${JSON.stringify(node)} where a type belongs`);
    const { type, name, namespace: own } = node as { type?: unknown; name?: unknown; namespace?: unknown };
    const fullName = (space: string) => (typeof name !== 'string' ? '' : name.includes('.') || !space ? name : `${space}.${name}`);
    switch (type) {
      case 'record':
      case 'error': {
        const space = typeof own === 'string' ? own : namespace;
        const fields = (node as { fields?: unknown }).fields;
        if (typeof name !== 'string' || !Array.isArray(fields)) throw new AvroFormatError('the schema has a record without a name or fields');
        const record = { kind: 'record' as const, name: fullName(space), fields: [] as { name: string; type: AvroType }[] };
        named.set(record.name, record);
        const recordSpace = record.name.includes('.') ? record.name.slice(0, record.name.lastIndexOf('.')) : '';
        for (const field of fields as { name?: unknown; type?: unknown }[]) {
          if (typeof field?.name !== 'string') throw new AvroFormatError(`the schema's record ${record.name} has a field without a name`);
          record.fields.push({ name: field.name, type: parse(field.type, recordSpace) });
        }
        return record;
      }
      case 'enum': {
        const symbols = (node as { symbols?: unknown }).symbols;
        if (!Array.isArray(symbols) || !symbols.every((s) => typeof s === 'string')) throw new AvroFormatError('the schema has an enum without symbols');
        const type = { kind: 'enum' as const, symbols };
        if (typeof name === 'string') named.set(fullName(typeof own === 'string' ? own : namespace), type);
        return type;
      }
      case 'fixed': {
        const size = (node as { size?: unknown }).size;
        if (!Number.isSafeInteger(size) || (size as number) < 0) throw new AvroFormatError('the schema has a fixed type without a size');
        const type = { kind: 'fixed' as const, size: size as number };
        if (typeof name === 'string') named.set(fullName(typeof own === 'string' ? own : namespace), type);
        return type;
      }
      case 'array':
        return { kind: 'array', items: parse((node as { items?: unknown }).items, namespace) };
      case 'map':
        return { kind: 'map', values: parse((node as { values?: unknown }).values, namespace) };
      default:
        // {"type": "long", "logicalType": …}: the logical type's underlying encoding.
        if (typeof type === 'string' && PRIMITIVES.has(type)) return { kind: type as 'null' };
        return parse(type, namespace);
    }
  };
  return withinStack(() => parse(schema, ''));
}

const utf8 = new TextDecoder('utf-8');

/** A cursor over bytes [at, end) of `bytes`; reading past `end` throws `past()`'s error. */
export class AvroReader {
  constructor(
    readonly bytes: Uint8Array,
    public at: number,
    readonly end: number,
    private readonly past: () => unknown = () => MORE_BYTES,
  ) {}

  private need(count: number): void {
    if (count > this.end - this.at) throw this.past();
  }

  /** A zig-zag varint: a number where it is a safe integer, else a bigint. */
  long(): number | bigint {
    let value = 0;
    let scale = 1;
    for (let shift = 0; shift < 70; shift += 7) {
      this.need(1);
      const byte = this.bytes[this.at++]!;
      if (shift >= 49) return this.bigLong(value, shift, byte);
      value += (byte & 0x7f) * scale;
      scale *= 128;
      if (byte < 0x80) return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
    }
    throw new AvroFormatError('a number is longer than 64 bits');
  }

  private bigLong(low: number, shift: number, byte: number): number | bigint {
    let value = BigInt(low);
    for (let s = BigInt(shift); ; s += 7n) {
      value |= BigInt(byte & 0x7f) << s;
      if (byte < 0x80) break;
      if (s >= 63n) throw new AvroFormatError('a number is longer than 64 bits');
      this.need(1);
      byte = this.bytes[this.at++]!;
    }
    const decoded = (value >> 1n) ^ -(value & 1n);
    return decoded >= BigInt(Number.MIN_SAFE_INTEGER) && decoded <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(decoded) : decoded;
  }

  /** A count or length: a long that must be a safe integer. */
  count(): number {
    const value = this.long();
    if (typeof value !== 'number') throw new AvroFormatError(`a length of ${value} is out of range`);
    return value;
  }

  bytesOf(): Uint8Array {
    const length = this.count();
    if (length < 0) throw new AvroFormatError(`a negative length (${length})`);
    this.need(length);
    const value = this.bytes.subarray(this.at, this.at + length);
    this.at += length;
    return value;
  }

  fixed(size: number): Uint8Array {
    this.need(size);
    const value = this.bytes.subarray(this.at, this.at + size);
    this.at += size;
    return value;
  }

  string(): string {
    return utf8.decode(this.bytesOf());
  }

  /** One value of `type`. Bytes and fixed values are views of the reader's bytes, not copies. */
  datum(type: AvroType): unknown {
    switch (type.kind) {
      case 'null':
        return null;
      case 'boolean': {
        this.need(1);
        return this.bytes[this.at++] !== 0;
      }
      case 'int':
      case 'long':
        return this.long();
      case 'float':
      case 'double': {
        const size = type.kind === 'float' ? 4 : 8;
        this.need(size);
        const view = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.at, size);
        this.at += size;
        return size === 4 ? view.getFloat32(0, true) : view.getFloat64(0, true);
      }
      case 'bytes':
        return this.bytesOf();
      case 'string':
        return this.string();
      case 'fixed':
        return this.fixed(type.size);
      case 'enum': {
        const index = this.count();
        const symbol = type.symbols[index];
        if (symbol === undefined) throw new AvroFormatError(`an enum index ${index} beyond its ${type.symbols.length} symbols`);
        return symbol;
      }
      case 'union': {
        const index = this.count();
        const branch = type.branches[index];
        if (!branch) throw new AvroFormatError(`a union branch ${index} beyond its ${type.branches.length} branches`);
        return this.datum(branch);
      }
      case 'record': {
        const record: Record<string, unknown> = {};
        for (const field of type.fields) record[field.name] = this.datum(field.type);
        return record;
      }
      case 'array': {
        const items: unknown[] = [];
        this.blocks(takesBytes(type.items), () => items.push(this.datum(type.items)));
        return items;
      }
      case 'map': {
        const entries: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
        // A map's key is a string, of a byte or more.
        this.blocks(true, () => {
          const key = this.string();
          entries[key] = this.datum(type.values);
        });
        return entries;
      }
    }
  }

  /** Moves past one value of `type` without building it. */
  skip(type: AvroType): void {
    switch (type.kind) {
      case 'bytes':
      case 'string':
        this.bytesOf();
        return;
      case 'union': {
        const index = this.count();
        const branch = type.branches[index];
        if (!branch) throw new AvroFormatError(`a union branch ${index} beyond its ${type.branches.length} branches`);
        return this.skip(branch);
      }
      case 'record':
        for (const field of type.fields) this.skip(field.type);
        return;
      case 'array':
        return this.blocks(takesBytes(type.items), () => this.skip(type.items));
      case 'map':
        return this.blocks(true, () => {
          this.bytesOf();
          this.skip(type.values);
        });
      default:
        this.datum(type);
    }
  }

  /** An array's or map's blocks: a count (negative: followed by the block's byte size), items, until a count of 0. */
  private blocks(itemsTakeBytes: boolean, item: () => void): void {
    for (;;) {
      let count = this.count();
      if (count === 0) return;
      if (count < 0) {
        count = -count;
        this.count();
      }
      // More items than bytes left run past them (and would make a long loop): refused before reading any.
      checkCount(count, this.end - this.at, itemsTakeBytes, () => this.past());
      for (let i = 0; i < count; i++) item();
    }
  }
}

export interface ContainerHeader {
  readonly schema: AvroType;
  /** `null` or `deflate` (the two every implementation must read), or another the caller may refuse. */
  readonly codec: string;
  readonly sync: Uint8Array;
  /** Bytes the header takes: the first block starts here. */
  readonly length: number;
}

/** The header at the start of `bytes`; throws `MORE_BYTES` when `bytes` ends inside it. */
export function readContainerHeader(bytes: Uint8Array): ContainerHeader {
  const reader = new AvroReader(bytes, 0, bytes.length);
  const magic = reader.fixed(AVRO_MAGIC.length);
  if (!AVRO_MAGIC.every((byte, i) => magic[i] === byte)) throw new AvroFormatError('it does not begin with the Avro magic bytes "Obj" 01');
  const meta = reader.datum({ kind: 'map', values: { kind: 'bytes' } }) as Record<string, Uint8Array>;
  const sync = reader.fixed(SYNC_BYTES);
  const schemaText = meta['avro.schema'];
  if (!schemaText) throw new AvroFormatError('its header has no avro.schema');
  let schemaJson: unknown;
  try {
    schemaJson = JSON.parse(utf8.decode(schemaText));
  } catch {
    throw new AvroFormatError('its header holds an avro.schema that is not JSON');
  }
  const codec = meta['avro.codec'] ? utf8.decode(meta['avro.codec']) : 'null';
  // A copy: `bytes` may be a Buffer, whose `slice` is a view of memory the caller reuses.
  return { schema: parseAvroSchema(schemaJson), codec, sync: Uint8Array.from(sync), length: reader.at };
}

export interface BlockFrame {
  readonly records: number;
  /** Where the block's (compressed) data starts in `bytes`, and its size; the sync marker follows it. */
  readonly dataStart: number;
  readonly dataBytes: number;
  /** Where the next block starts. */
  readonly end: number;
}

/** The counts of the block starting at `at`; throws `MORE_BYTES` when `bytes` ends before its count and size. */
export function readBlockFrame(bytes: Uint8Array, at: number): BlockFrame {
  const reader = new AvroReader(bytes, at, bytes.length);
  const records = reader.count();
  const dataBytes = reader.count();
  if (records < 0 || dataBytes < 0) throw new AvroFormatError(`a block with a negative count (${records} records, ${dataBytes} bytes)`);
  return { records, dataStart: reader.at, dataBytes, end: reader.at + dataBytes + SYNC_BYTES };
}

/** True when the sync marker after a block's data is the header's. */
export function syncMatches(bytes: Uint8Array, frame: BlockFrame, sync: Uint8Array): boolean {
  const at = frame.dataStart + frame.dataBytes;
  for (let i = 0; i < SYNC_BYTES; i++) if (bytes[at + i] !== sync[i]) return false;
  return true;
}

/**
 * The value of one field of each of the `records` records of `type` in a block's (decompressed) data, which they
 * must fill exactly; the other fields are read past.
 */
export function readBlockField(data: Uint8Array, records: number, type: AvroType & { kind: 'record' }, field: string): unknown[] {
  const reader = new AvroReader(data, 0, data.length, () => new AvroFormatError(`a block's records run past its ${data.length} bytes`));
  checkCount(records, data.length, takesBytes(type), () => new AvroFormatError(`a block of ${records} records in ${data.length} bytes`));
  const values: unknown[] = [];
  withinStack(() => {
    for (let i = 0; i < records; i++) {
      for (const f of type.fields) {
        if (f.name === field) values.push(reader.datum(f.type));
        else reader.skip(f.type);
      }
    }
  });
  if (reader.at !== data.length) throw new AvroFormatError(`a block's ${records} records end ${data.length - reader.at} bytes before its end`);
  return values;
}
