import { z } from 'zod';

/**
 * The `manifest.json` Cost Management writes into an export run's folder (Exports, API 2023-07-01-preview and later),
 * after the run's partitions: "the specifics of the file partitions are described in a manifest.json file provided
 * with each export run" and "to handle the full dataset, you must ingest each partition of the export" (Microsoft
 * Learn, "Tutorial: Create and manage exported data", file partitioning). Only what reading a run needs is checked;
 * the other fields (`exportConfig`, `deliveryConfig`, `runInfo`, `byteCount`) are kept out. A row count may be
 * `null`: manifests of version 2024-04-01 (Exports API 2025-03-01) write `"dataRowCount": null` (microsoft/finops-toolkit
 * issue #2173); such a count is unknown, not zero.
 */
const rowCount = z.number().int().nonnegative().nullish();

export const costExportManifestSchema = z.object({
  blobCount: rowCount,
  dataRowCount: rowCount,
  blobs: z.array(
    z.object({
      /** The partition's name in the container (`<directory>/<export>/<date range>/<run id>/part_0_0001.csv`). */
      blobName: z.string().min(1).max(1024),
      dataRowCount: rowCount,
    }),
  ),
});
export type CostExportManifest = z.infer<typeof costExportManifestSchema>;

/** The name of a run's manifest, in the run's folder. */
export const MANIFEST_FILE = /(?:^|\/)manifest\.json$/i;

/** Whether `listed` (a name in the container's listing) is the blob a manifest names `blobName`, whatever the prefix either carries. */
export function namesBlob(listed: string, blobName: string): boolean {
  const named = blobName.replace(/^\/+/, '');
  return listed === named || listed.endsWith(`/${named}`) || named.endsWith(`/${listed}`);
}
