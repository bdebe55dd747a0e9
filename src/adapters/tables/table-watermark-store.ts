import { TableClient } from '@azure/data-tables';
import { statusCodeOf } from '../rest-error.js';
import { isLoopbackHttp } from '../../domain/loopback.js';
import { asStoreError } from './table-errors.js';
import { TransientStoreError, type StoreOptions } from '../../ports/ledger-store.js';
import type { WatermarkStore, WatermarkWriteOptions } from '../../ports/diagnostics-source.js';

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
    return (await this.read(name, options))?.watermark ?? null;
  }

  /**
   * Moves a watermark forward, never back, so a run that started before another and finishes after it cannot undo
   * its progress: the row is read, and written only if the new watermark is later, on the condition that the row
   * is still at the version read (ETag `If-Match`; a new row with a create that fails if one appeared). A lost
   * race reads again.
   */
  async set(name: string, watermark: string, options?: WatermarkWriteOptions): Promise<void> {
    checkName(name);
    const entity: WatermarkEntity = { partitionKey: PARTITION_KEY, rowKey: name, watermark };
    const isLater = options?.isLater ?? ((a: string, b: string) => a > b);
    for (let attempt = 1; attempt <= WRITE_ATTEMPTS; attempt++) {
      const current = await this.read(name, options);
      if (current && !isLater(watermark, current.watermark)) return;
      try {
        if (current) await this.table.updateEntity(entity, 'Replace', { etag: current.etag, abortSignal: options?.abortSignal });
        else await this.table.createEntity(entity, { abortSignal: options?.abortSignal });
        return;
      } catch (error) {
        const status = statusCodeOf(error);
        // 404 on create: the table does not exist yet.
        if (status === 404 && !current) await this.createTable(options);
        else if (status !== 409 && status !== 412) throw asStoreError(error, `writing watermark ${name}`);
      }
    }
    throw new TransientStoreError(`watermark ${name} kept changing under ${WRITE_ATTEMPTS} attempts to advance it`);
  }

  private async read(name: string, options?: StoreOptions): Promise<{ watermark: string; etag: string } | null> {
    checkName(name);
    try {
      const entity = await this.table.getEntity<WatermarkEntity>(PARTITION_KEY, name, { abortSignal: options?.abortSignal });
      return typeof entity.watermark === 'string' ? { watermark: entity.watermark, etag: entity.etag } : null;
    } catch (error) {
      // 404 covers both a missing row and a table not created yet: no watermark either way.
      if (statusCodeOf(error) === 404) return null;
      throw asStoreError(error, `reading watermark ${name}`);
    }
  }

  private async createTable(options?: StoreOptions): Promise<void> {
    try {
      await this.table.createTable({ abortSignal: options?.abortSignal });
    } catch (error) {
      throw asStoreError(error, 'creating the watermarks table');
    }
  }
}

const WRITE_ATTEMPTS = 5;

function checkName(name: string): void {
  if (name.length === 0 || name.length > 512 || INVALID_ROW_KEY.test(name)) {
    throw new RangeError(`watermark name ${JSON.stringify(name).slice(0, 80)} is not a valid table row key`);
  }
}

