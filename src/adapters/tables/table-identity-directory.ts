import { odata, TableClient, type TransactionAction } from '@azure/data-tables';
import { statusCodeOf } from '../rest-error.js';
import { isLoopbackHttp } from '../../domain/loopback.js';
import { asStoreError } from './table-errors.js';
import { checkDirectoryRow, describeIssues, directoryRowSchema, entryKeys, shownText, type DirectoryRow } from '../../contracts/directory.js';
import type {
  DirectoryWriteOptions,
  DirectoryWriteOutcome,
  EditableIdentityDirectory,
  GetAllOptions,
  UpsertRowsOptions,
  VersionedDirectoryRow,
} from '../../ports/identity-directory.js';
import type { StoreOptions } from '../../ports/ledger-store.js';

const PARTITION_KEY = 'identity';
/** A table transaction holds at most 100 operations, all in one partition. */
const MAX_TRANSACTION_SIZE = 100;
/**
 * A filter holds at most 15 comparisons: the partition's and two per row key range leave room for 7 ranges. Each
 * letter split on doubles the ranges, so 2 letters (4 ranges; 3 would need 8). Any other key a range holds starts as
 * the key does, case aside, up to its second letter, which few keys besides its own spellings do.
 */
const CASE_VARIANT_SPLITS = 2;
/**
 * Row keys may not hold `/ \ # ?` or control characters, and hold at most 512 UTF-16 code units (1 KiB). The
 * schema already refuses control characters; the other four and the escape character `~` itself are written as
 * `~` plus one letter. Two characters per escape keep the longest identity (256) within 512 even if every
 * character is escaped, which percent-encoding (three per escape) cannot; ordinary ids (GUIDs, `sub-search-1`)
 * stay as they are.
 */
const ESCAPES: Readonly<Record<string, string>> = { '~': '~~', '/': '~s', '\\': '~b', '#': '~h', '?': '~q' };
const UNESCAPES: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(ESCAPES).map(([c, e]) => [e, c]));

/** A type alias, not an interface: the SDK's entity type needs an implicit index signature. */
type IdentityEntity = {
  readonly partitionKey: string;
  readonly rowKey: string;
  readonly displayName: string;
  readonly team: string;
  readonly costCenter: string;
  readonly kind?: string;
};

/** `team/app#1` → `team~sapp~h1`; the inverse of `decodeRowKey`. */
export function encodeRowKey(identity: string): string {
  return identity.replace(/[~/\\#?]/g, (c) => ESCAPES[c]!);
}

/** `team~sapp~h1` → `team/app#1`. */
export function decodeRowKey(rowKey: string): string {
  return rowKey.replace(/~[~sbhq]/g, (e) => UNESCAPES[e]!);
}

/**
 * Inclusive row key ranges that together hold every spelling of `key` (lower case) with its ASCII letters in either
 * case, and few other keys: the first `CASE_VARIANT_SPLITS` letters are fixed in each case, one range per combination, each range
 * running from the rest upper-cased to the rest lower-cased (row keys compare ordinally, and `A`–`Z` sort before
 * `a`–`z`).
 */
export function caseVariantRanges(key: string): [string, string][] {
  let prefixes = [''];
  let at = 0;
  for (let left = CASE_VARIANT_SPLITS; at < key.length && left > 0; at++) {
    const character = key[at]!;
    const upper = character.toUpperCase();
    if (upper === character) {
      prefixes = prefixes.map((prefix) => prefix + character);
    } else {
      prefixes = prefixes.flatMap((prefix) => [prefix + upper, prefix + character]);
      left--;
    }
  }
  const rest = key.slice(at);
  return prefixes.map((prefix) => [prefix + rest.toUpperCase(), prefix + rest]);
}

/**
 * The identity directory in an Azure Table (default name `identities`): partition `identity`, one row per
 * identity, row key = the identity with the characters row keys forbid escaped. Production passes a
 * `TableClient` built with Entra ID; `fromConnectionString` is for Azurite and other emulators.
 */
export class TableIdentityDirectory implements EditableIdentityDirectory {
  constructor(private readonly table: TableClient) {}

  /** Plain http is allowed only for an emulator on a loopback address. */
  static fromConnectionString(connectionString: string, tableName = 'identities'): TableIdentityDirectory {
    const probe = TableClient.fromConnectionString(connectionString, tableName);
    if (!isLoopbackHttp(probe.url)) return new TableIdentityDirectory(probe);
    return new TableIdentityDirectory(TableClient.fromConnectionString(connectionString, tableName, { allowInsecureConnection: true }));
  }

  /**
   * Upserts (replace mode) in transactions of up to 100 rows. Each transaction is atomic; the write as a whole is
   * not, which the port allows since writing again is idempotent. Creates the table on first use.
   */
  async upsertRows(rows: readonly DirectoryRow[], options?: UpsertRowsOptions): Promise<void> {
    // One operation per row key in a transaction: the later row of an identity wins.
    const byIdentity = new Map<string, DirectoryRow>();
    for (const row of rows) {
      const checked = checkDirectoryRow(row);
      byIdentity.delete(checked.identity);
      byIdentity.set(checked.identity, checked);
    }
    const actions: TransactionAction[] = [...byIdentity.values()].map((row) => ['upsert', toEntity(row), 'Replace']);
    let tableChecked = false;
    for (let start = 0; start < actions.length; start += MAX_TRANSACTION_SIZE) {
      const chunk = actions.slice(start, start + MAX_TRANSACTION_SIZE);
      const what = `writing identities ${start + 1}–${start + chunk.length} of ${actions.length}`;
      // A transaction is atomic within itself only: say what the ones before wrote.
      const failed = (error: unknown) => {
        const stored = asStoreError(error, what);
        if (start > 0 && stored instanceof Error) stored.message += ` (identities 1–${start} were written; writing the same rows again is safe)`;
        return stored;
      };
      try {
        await this.table.submitTransaction(chunk, { abortSignal: options?.abortSignal });
      } catch (error) {
        if (tableChecked || statusCodeOf(error) !== 404) throw failed(error);
        try {
          await this.table.createTable({ abortSignal: options?.abortSignal });
          await this.table.submitTransaction(chunk, { abortSignal: options?.abortSignal });
        } catch (retryError) {
          throw failed(retryError);
        }
      }
      tableChecked = true;
    }
  }

  /** Reads the whole partition. A row that no longer passes the schema is an error, never skipped. */
  async getAll(options?: GetAllOptions): Promise<Map<string, DirectoryRow>> {
    return new Map([...(await this.listVersioned(options))].map(([identity, versioned]) => [identity, versioned.row]));
  }

  /**
   * Each identity's entry (`entryKeys`). Other rows an earlier release stored under another spelling of its GUID are
   * not read: the listing never shows them, so one no longer valid stops nothing.
   */
  async listVersioned(options?: StoreOptions): Promise<Map<string, VersionedDirectoryRow>> {
    const entities = new Map<string, IdentityEntity & { readonly etag: string }>();
    try {
      const listed = this.table.listEntities<IdentityEntity>({
        queryOptions: { filter: odata`PartitionKey eq ${PARTITION_KEY}`, select: ['RowKey', 'displayName', 'team', 'costCenter', 'kind'] },
        abortSignal: options?.abortSignal,
      });
      for await (const entity of listed) entities.set(decodeRowKey(entity.rowKey), entity);
    } catch (error) {
      // 404: the table was never created, so nobody was ever imported.
      if (statusCodeOf(error) === 404) return new Map();
      throw asStoreError(error, 'reading the identity directory');
    }
    return new Map(
      [...entryKeys(entities.keys())].map(([identity, storedKey]) => {
        const entity = entities.get(storedKey)!;
        return [identity, { row: fromEntity(entity), etag: entity.etag }];
      }),
    );
  }

  async getVersioned(identity: string, options?: StoreOptions): Promise<VersionedDirectoryRow | null> {
    try {
      const entity = await this.table.getEntity<IdentityEntity>(PARTITION_KEY, encodeRowKey(identity), { abortSignal: options?.abortSignal });
      return { row: fromEntity(entity), etag: entity.etag };
    } catch (error) {
      // 404 covers both a missing row and a table not created yet.
      if (statusCodeOf(error) === 404) return null;
      throw asStoreError(error, `reading identity ${JSON.stringify(identity.slice(0, 80))}`);
    }
  }

  /** One query for the row keys in `caseVariantRanges`, reading no more than the keys. */
  async storedCaseVariants(guid: string, options?: StoreOptions): Promise<string[]> {
    const ranges = caseVariantRanges(guid).map(([low, high]) => odata`(RowKey ge ${low} and RowKey le ${high})`);
    const variants: string[] = [];
    try {
      const entities = this.table.listEntities<Pick<IdentityEntity, 'rowKey'>>({
        queryOptions: { filter: `${odata`PartitionKey eq ${PARTITION_KEY}`} and (${ranges.join(' or ')})`, select: ['RowKey'] },
        abortSignal: options?.abortSignal,
      });
      for await (const entity of entities) {
        const stored = decodeRowKey(entity.rowKey);
        if (stored.toLowerCase() === guid) variants.push(stored);
      }
    } catch (error) {
      if (statusCodeOf(error) === 404) return [];
      throw asStoreError(error, `looking for identity ${JSON.stringify(guid.slice(0, 80))} in any case`);
    }
    return variants;
  }

  /** Insert Entity: the service refuses it with 409 when the row exists, so of two creates exactly one wins. */
  async create(row: DirectoryRow, options?: StoreOptions): Promise<DirectoryWriteOutcome> {
    const entity = toEntity(checkDirectoryRow(row));
    const what = `creating identity ${JSON.stringify(entity.rowKey.slice(0, 80))}`;
    try {
      const etag = await this.withTable(() => this.table.createEntity(entity, { abortSignal: options?.abortSignal }), options);
      return { outcome: 'written', etag: etagOf(etag, what), created: true };
    } catch (error) {
      if (statusCodeOf(error) === 409) return { outcome: 'exists' };
      throw asStoreError(error, what);
    }
  }

  /**
   * With `ifMatch`: Update Entity with that ETag in `If-Match`, which the service refuses with 412 when the row
   * changed and 404 when it is gone (both `stale`). Without: Insert Or Replace Entity, after an Insert to learn
   * whether the row is new.
   */
  async replace(row: DirectoryRow, options?: DirectoryWriteOptions): Promise<DirectoryWriteOutcome> {
    const entity = toEntity(checkDirectoryRow(row), options?.storedKey);
    const what = `writing identity ${JSON.stringify(entity.rowKey.slice(0, 80))}`;
    const signal = { abortSignal: options?.abortSignal };
    try {
      if (options?.ifMatch !== undefined) {
        const response = await this.table.updateEntity(entity, 'Replace', { ...signal, etag: options.ifMatch });
        return { outcome: 'written', etag: etagOf(response, what), created: false };
      }
      try {
        const created = await this.withTable(() => this.table.createEntity(entity, signal), options);
        return { outcome: 'written', etag: etagOf(created, what), created: true };
      } catch (error) {
        if (statusCodeOf(error) !== 409) throw error;
      }
      const replaced = await this.table.upsertEntity(entity, 'Replace', signal);
      return { outcome: 'written', etag: etagOf(replaced, what), created: false };
    } catch (error) {
      const status = statusCodeOf(error);
      if (options?.ifMatch !== undefined && (status === 412 || status === 404)) return { outcome: 'stale' };
      throw asStoreError(error, what);
    }
  }

  /** Delete Entity with `If-Match` (the ETag given, else `*`): 412 when the row changed, 404 when there is none. */
  async remove(identity: string, options?: DirectoryWriteOptions): Promise<DirectoryWriteOutcome> {
    try {
      await this.table.deleteEntity(PARTITION_KEY, encodeRowKey(identity), { abortSignal: options?.abortSignal, etag: options?.ifMatch ?? '*' });
      return { outcome: 'deleted' };
    } catch (error) {
      const status = statusCodeOf(error);
      if (status === 404) return { outcome: 'absent' };
      if (status === 412) return { outcome: 'stale' };
      throw asStoreError(error, `deleting identity ${JSON.stringify(identity.slice(0, 80))}`);
    }
  }

  /** Runs a write, creating the table and running it again if the table does not exist yet (404). */
  private async withTable<T>(write: () => Promise<T>, options?: StoreOptions): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if (statusCodeOf(error) !== 404) throw error;
    }
    try {
      await this.table.createTable({ abortSignal: options?.abortSignal });
    } catch (error) {
      throw asStoreError(error, 'creating the identity directory table');
    }
    return write();
  }
}

function etagOf(response: { etag?: string }, what: string): string {
  if (typeof response.etag !== 'string' || response.etag === '') throw new Error(`${what}: the table service answered no ETag`);
  return response.etag;
}

/** The row as an entity, under its identity spelt as now or under the key an earlier release stored it under. */
function toEntity(row: DirectoryRow, storedKey = row.identity): IdentityEntity {
  const entity: IdentityEntity = {
    partitionKey: PARTITION_KEY,
    rowKey: encodeRowKey(storedKey),
    displayName: row.displayName,
    team: row.team,
    costCenter: row.costCenter,
  };
  return row.kind === undefined ? entity : { ...entity, kind: row.kind };
}

function fromEntity(entity: Partial<IdentityEntity>): DirectoryRow {
  const identity = decodeRowKey(String(entity.rowKey ?? ''));
  const shown = (value: unknown) => (typeof value === 'string' ? shownText(value) : value);
  const candidate = {
    identity,
    displayName: shown(entity.displayName),
    team: shown(entity.team),
    costCenter: shown(entity.costCenter),
    ...(entity.kind === undefined || entity.kind === null ? {} : { kind: entity.kind }),
  };
  const parsed = directoryRowSchema.safeParse(candidate);
  if (!parsed.success) {
    throw new Error(`identity directory row ${JSON.stringify(shownText(identity.slice(0, 80)))} is invalid: ${describeIssues(parsed.error)}; remove it with \`tokenledger directory remove -- ${shellQuoted(identity)}\` and import it again`);
  }
  return parsed.data;
}

/**
 * The whole identity quoted for bash, so that the command names this row and no other: in single quotes, or, when
 * it holds characters a terminal must not show as they are (controls, bidirectional overrides), in ANSI-C quotes
 * with those characters as `\u` escapes of their code points (`\u202e`), which bash turns back into them.
 */
export function shellQuoted(value: string): string {
  if (shownText(value) === value) return `'${value.replace(/'/g, `'\\''`)}'`;
  let quoted = "$'";
  for (const character of value) {
    if (character === '\\' || character === "'") quoted += `\\${character}`;
    else if (shownText(character) !== character) quoted += `\\u${character.codePointAt(0)!.toString(16).padStart(4, '0')}`;
    else quoted += character;
  }
  return `${quoted}'`;
}
