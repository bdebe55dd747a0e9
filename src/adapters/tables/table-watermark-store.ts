import { TableClient } from '@azure/data-tables';
import { asStoreError, isLoopbackHttp, statusCodeOf } from './table-errors.js';
import type { StoreOptions } from '../../ports/ledger-store.js';
import type { WatermarkStore } from '../../ports/diagnostics-source.js';

const PARTITION_KEY = 'watermarks';
/** Characters Azure Tables forbid in a row key, and control characters. */
const INVALID_ROW_KEY = /[/\\#?\u0000-\u001f\u007f-\u009f]/;

interface WatermarkEntity {
  readonly partitionKey: string;
  readonly rowKey: string;
  readonly watermark: string;
}

/**
 * Watermarks in an Azure Table: partition `watermarks`, one row per source name. Production passes a
 * `TableClient` built with Entra ID; `fromConnectionString` is for Azurite and other emulators.
 */
export class TableWatermarkStore implements WatermarkStore {
  constructor(private readonly table: TableClient) {}

  /** Plain http is allowed only for an emulator on a loopback address. */
  static fromConnectionString(connectionString: string, tableName: string): TableWatermarkStore {
    const probe = TableClient.fromConnectionString(connectionString, tableName);
    if (!isLoopbackHttp(probe.url)) return new TableWatermarkStore(probe);
    return new TableWatermarkStore(TableClient.fromConnectionString(connectionString, tableName, { allowInsecureConnection: true }));
  }

  async get(name: string, options?: StoreOptions): Promise<string | null> {
    checkName(name);
    try {
      const entity = await this.table.getEntity<WatermarkEntity>(PARTITION_KEY, name, { abortSignal: options?.abortSignal });
      return typeof entity.watermark === 'string' ? entity.watermark : null;
    } catch (error) {
      // 404 covers both a missing row and a table not created yet: no watermark either way.
      if (statusCodeOf(error) === 404) return null;
      throw asStoreError(error, `reading watermark ${name}`);
    }
  }

  async set(name: string, watermark: string, options?: StoreOptions): Promise<void> {
    checkName(name);
    const entity: WatermarkEntity = { partitionKey: PARTITION_KEY, rowKey: name, watermark };
    try {
      await this.table.upsertEntity(entity, 'Replace', { abortSignal: options?.abortSignal });
    } catch (error) {
      if (statusCodeOf(error) !== 404) throw asStoreError(error, `writing watermark ${name}`);
      try {
        await this.table.createTable({ abortSignal: options?.abortSignal });
        await this.table.upsertEntity(entity, 'Replace', { abortSignal: options?.abortSignal });
      } catch (retryError) {
        throw asStoreError(retryError, `writing watermark ${name}`);
      }
    }
  }
}

function checkName(name: string): void {
  if (name.length === 0 || name.length > 512 || INVALID_ROW_KEY.test(name)) {
    throw new RangeError(`watermark name ${JSON.stringify(name).slice(0, 80)} is not a valid table row key`);
  }
}

