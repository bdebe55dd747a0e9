import type { Container } from '@azure/cosmos';
import { allocatedExportSchema, invoiceHeadSchema, invoicePartSchema, type AllocatedExport, type InvoiceHead, type InvoicePart } from '../../contracts/invoice-allocation-document.js';
import { ALLOCATED_EXPORTS_PARTITION, allocatedExportKey, invoiceHeadKey, invoicePartition } from '../../domain/invoice-documents.js';
import type { Versioned } from '../../ports/aggregate-store.js';
import type { InvoiceAllocationStore, InvoiceDocuments } from '../../ports/invoice-allocation-store.js';
import type { StoreOptions } from '../../ports/ledger-store.js';
import { bulkConditionalWrite, bulkDelete, bulkRead, bulkUpsert, throwIfRefused } from './bulk-write.js';
import { queryPages } from './query-pages.js';
import { readVersioned, versioned, writeIfVersion } from './versioned-documents.js';

const partKeySchema = invoicePartSchema.pick({ id: true, run: true });

const parseDocument = (doc: unknown) => ((doc as { kind?: unknown }).kind === 'invoice-head' ? invoiceHeadSchema.parse(doc) : invoicePartSchema.parse(doc));

/** Allocated cost exports in the `aggregates` container: one partition per billing month, one for the markers. */
export class CosmosInvoiceAllocationStore implements InvoiceAllocationStore {
  constructor(private readonly container: Container) {}

  async listAllocatedExports(options: StoreOptions = {}): Promise<AllocatedExport[]> {
    const markers: AllocatedExport[] = [];
    const query = { query: "SELECT * FROM c WHERE c.pk = @pk AND c.kind = 'invoice-export'", parameters: [{ name: '@pk', value: ALLOCATED_EXPORTS_PARTITION }] };
    for await (const page of queryPages(this.container, query, (doc) => allocatedExportSchema.parse(doc), { ...options, partitionKey: ALLOCATED_EXPORTS_PARTITION })) markers.push(...page);
    return markers.sort((a, b) => (a.exportName < b.exportName ? -1 : 1));
  }

  getAllocatedExport(exportName: string, options: StoreOptions = {}): Promise<Versioned<AllocatedExport> | null> {
    return readVersioned(this.container, allocatedExportKey(exportName), (doc) => allocatedExportSchema.parse(doc), options);
  }

  replaceAllocatedExport(marker: AllocatedExport, expectedVersion: string | null, options: StoreOptions = {}): Promise<string | null> {
    return writeIfVersion(this.container, marker, expectedVersion, options);
  }

  async putParts(parts: readonly InvoicePart[], options: StoreOptions = {}): Promise<void> {
    throwIfRefused('invoice allocation store', 'allocation parts', await bulkUpsert(this.container, parts, options));
  }

  async deleteParts(keys: readonly { id: string; pk: string }[], options: StoreOptions = {}): Promise<void> {
    throwIfRefused('invoice allocation store', 'allocation part removals', await bulkDelete(this.container, keys, options));
  }

  async getHeads(exportName: string, months: readonly string[], options: StoreOptions = {}): Promise<Versioned<InvoiceHead>[]> {
    const found = await bulkRead(this.container, months.map((month) => invoiceHeadKey(exportName, month)), options);
    return found.map(({ document, etag }) => versioned({ _etag: etag }, invoiceHeadSchema.parse(document)));
  }

  async replaceHeads(writes: readonly { head: InvoiceHead; expectedVersion: string | null }[], options: StoreOptions = {}): Promise<InvoiceHead[]> {
    const { conflicts, rejected } = await bulkConditionalWrite(this.container, writes.map(({ head, expectedVersion }) => ({ document: head, etag: expectedVersion })), options);
    throwIfRefused('invoice allocation store', 'allocation heads', rejected);
    return [...conflicts];
  }

  async listPartKeys(exportName: string, month: string, options: StoreOptions = {}): Promise<{ id: string; pk: string; run?: string }[]> {
    const pk = invoicePartition(month);
    const query = {
      query: "SELECT c.id, c.run FROM c WHERE c.pk = @pk AND c.kind = 'invoice-part' AND c.exportName = @exportName",
      parameters: [{ name: '@pk', value: pk }, { name: '@exportName', value: exportName }],
    };
    const keys: { id: string; pk: string; run?: string }[] = [];
    for await (const page of queryPages(this.container, query, (doc) => partKeySchema.parse(doc), { ...options, partitionKey: pk })) {
      for (const { id, run } of page) keys.push({ id, pk, ...(run === undefined ? {} : { run }) });
    }
    return keys;
  }

  async listHeads(month: string, options: StoreOptions = {}): Promise<InvoiceHead[]> {
    const pk = invoicePartition(month);
    const query = { query: "SELECT * FROM c WHERE c.pk = @pk AND c.kind = 'invoice-head'", parameters: [{ name: '@pk', value: pk }] };
    const heads: InvoiceHead[] = [];
    for await (const page of queryPages(this.container, query, (doc) => invoiceHeadSchema.parse(doc), { ...options, partitionKey: pk })) heads.push(...page);
    return heads;
  }

  async listAllocations(month: string, exportNames?: readonly string[], options: StoreOptions = {}): Promise<InvoiceDocuments> {
    const pk = invoicePartition(month);
    const query = {
      query: `SELECT * FROM c WHERE c.pk = @pk AND (c.kind = 'invoice-head' OR c.kind = 'invoice-part')${exportNames ? ' AND ARRAY_CONTAINS(@exportNames, c.exportName)' : ''}`,
      parameters: [{ name: '@pk', value: pk }, ...(exportNames ? [{ name: '@exportNames', value: [...exportNames] }] : [])],
    };
    const heads: InvoiceHead[] = [];
    const parts: InvoicePart[] = [];
    for await (const page of queryPages(this.container, query, parseDocument, { ...options, partitionKey: pk })) {
      for (const doc of page) {
        if (doc.kind === 'invoice-head') heads.push(doc);
        else parts.push(doc);
      }
    }
    return { heads, parts };
  }
}
