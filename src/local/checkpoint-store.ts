import { TableClient, type TableServiceClientOptions } from '@azure/data-tables';

/** Where each partition's reader resumes: the next sequence number to deliver. */
export interface CheckpointStore {
  get(partitionId: string): Promise<number>;
  set(partitionId: string, nextSequenceNumber: number): Promise<void>;
}

/**
 * Checkpoints in an Azure Table, one row per (consumer group, partition), as the Functions host keeps
 * its own in the storage account. Locally this runs against Azurite.
 */
export class TableCheckpointStore implements CheckpointStore {
  private constructor(
    private readonly table: TableClient,
    private readonly consumerGroup: string,
  ) {}

  static async create(connectionString: string, consumerGroup: string, tableName = 'checkpoints'): Promise<TableCheckpointStore> {
    const options: TableServiceClientOptions = { allowInsecureConnection: true };
    const table = TableClient.fromConnectionString(connectionString, tableName, options);
    await table.createTable();
    return new TableCheckpointStore(table, consumerGroup);
  }

  async get(partitionId: string): Promise<number> {
    try {
      const row = await this.table.getEntity<{ next: number }>(this.consumerGroup, partitionId);
      return Number(row.next);
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return 0;
      throw error;
    }
  }

  async set(partitionId: string, nextSequenceNumber: number): Promise<void> {
    await this.table.upsertEntity({ partitionKey: this.consumerGroup, rowKey: partitionId, next: nextSequenceNumber }, 'Replace');
  }
}
