import { odata, TableClient, type TransactionAction } from '@azure/data-tables';
import { asStoreError, isLoopbackHttp, statusCodeOf } from './table-errors.js';
import { checkDirectoryRow, describeIssues, directoryRowSchema, type DirectoryRow } from '../../contracts/directory.js';
import type { GetAllOptions, IdentityDirectory, UpsertRowsOptions } from '../../ports/identity-directory.js';

const PARTITION_KEY = 'identity';
/** A table transaction holds at most 100 operations, all in one partition. */
const MAX_TRANSACTION_SIZE = 100;
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
 * The identity directory in an Azure Table (default name `identities`): partition `identity`, one row per
 * identity, row key = the identity with the characters row keys forbid escaped. Production passes a
 * `TableClient` built with Entra ID; `fromConnectionString` is for Azurite and other emulators.
 */
export class TableIdentityDirectory implements IdentityDirectory {
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
      try {
        await this.table.submitTransaction(chunk, { abortSignal: options?.abortSignal });
      } catch (error) {
        if (tableChecked || statusCodeOf(error) !== 404) throw asStoreError(error, what);
        try {
          await this.table.createTable({ abortSignal: options?.abortSignal });
          await this.table.submitTransaction(chunk, { abortSignal: options?.abortSignal });
        } catch (retryError) {
          throw asStoreError(retryError, what);
        }
      }
      tableChecked = true;
    }
  }

  /** Reads the whole partition. A row that no longer passes the schema is an error, never skipped. */
  async getAll(options?: GetAllOptions): Promise<Map<string, DirectoryRow>> {
    const rows = new Map<string, DirectoryRow>();
    try {
      const entities = this.table.listEntities<IdentityEntity>({
        queryOptions: { filter: odata`PartitionKey eq ${PARTITION_KEY}`, select: ['RowKey', 'displayName', 'team', 'costCenter', 'kind'] },
        abortSignal: options?.abortSignal,
      });
      for await (const entity of entities) {
        const row = fromEntity(entity);
        rows.set(row.identity, row);
      }
    } catch (error) {
      // 404: the table was never created, so nobody was ever imported.
      if (statusCodeOf(error) === 404) return new Map();
      throw asStoreError(error, 'reading the identity directory');
    }
    return rows;
  }
}

function toEntity(row: DirectoryRow): IdentityEntity {
  const entity: IdentityEntity = {
    partitionKey: PARTITION_KEY,
    rowKey: encodeRowKey(row.identity),
    displayName: row.displayName,
    team: row.team,
    costCenter: row.costCenter,
  };
  return row.kind === undefined ? entity : { ...entity, kind: row.kind };
}

function fromEntity(entity: Partial<IdentityEntity>): DirectoryRow {
  const identity = decodeRowKey(String(entity.rowKey ?? ''));
  const candidate = {
    identity,
    displayName: entity.displayName,
    team: entity.team,
    costCenter: entity.costCenter,
    ...(entity.kind === undefined || entity.kind === null ? {} : { kind: entity.kind }),
  };
  const parsed = directoryRowSchema.safeParse(candidate);
  if (!parsed.success) throw new Error(`identity directory row ${JSON.stringify(identity.slice(0, 80))} is invalid: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

