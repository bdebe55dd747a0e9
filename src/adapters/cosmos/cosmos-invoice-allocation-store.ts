import type { Container } from '@azure/cosmos';
import { allocatedExportSchema, invoiceHeadSchema, invoicePartSchema, type AllocatedExport, type InvoiceHead, type InvoicePart } from '../../contracts/invoice-allocation-document.js';
import { ALLOCATED_EXPORTS_PARTITION, invoicePartition } from '../../domain/invoice-documents.js';
import type { InvoiceAllocationStore, InvoiceDocuments } from '../../ports/invoice-allocation-store.js';
import type { StoreOptions } from '../../ports/ledger-store.js';
import { bulkDelete, bulkUpsert } from './bulk-write.js';
import { queryPages } from './query-pages.js';

async function writeAll(what: string, write: () => Promise<{ status: unknown }[]>): Promise<void> {
  const rejected = await write();
  if (rejected.length > 0) throw new Error(`invoice allocation store refused ${rejected.length} ${what} (status ${rejected.map((r) => String(r.status)).join(', ')})`);
}

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

  async replaceAllocation(marker: AllocatedExport, heads: readonly InvoiceHead[], parts: readonly InvoicePart[], options: StoreOptions = {}): Promise<void> {
    await writeAll('allocation parts', () => bulkUpsert(this.container, parts, options));
    await writeAll('allocation heads', () => bulkUpsert(this.container, heads, options));
    const previous = (await this.listAllocatedExports(options)).find((m) => m.id === marker.id);
    const generationOf = new Map(heads.map((h) => [h.month, h.generation]));
    for (const month of [...new Set([...(previous?.months ?? []), ...marker.months])].sort()) {
      const { heads: storedHeads, parts: storedParts } = await this.documentsOf(month, marker.exportName, options);
      const keep = generationOf.get(month);
      const stale = [...storedParts.filter((p) => p.generation !== keep), ...(keep === undefined ? storedHeads : [])];
      await writeAll('stale allocation documents', () => bulkDelete(this.container, stale.map((d) => ({ id: d.id, pk: d.pk })), options));
    }
    await writeAll('allocated export markers', () => bulkUpsert(this.container, [marker], options));
  }

  listAllocations(month: string, options: StoreOptions = {}): Promise<InvoiceDocuments> {
    return this.documentsOf(month, null, options);
  }

  private async documentsOf(month: string, exportName: string | null, options: StoreOptions): Promise<{ heads: InvoiceHead[]; parts: InvoicePart[] }> {
    const pk = invoicePartition(month);
    const query = {
      query: `SELECT * FROM c WHERE c.pk = @pk AND (c.kind = 'invoice-head' OR c.kind = 'invoice-part')${exportName === null ? '' : ' AND c.exportName = @exportName'}`,
      parameters: [{ name: '@pk', value: pk }, ...(exportName === null ? [] : [{ name: '@exportName', value: exportName }])],
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
