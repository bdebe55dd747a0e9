import { BlobServiceClient } from '@azure/storage-blob';
import { REQUEST_RESPONSE_CONTAINER } from '../domain/archive-layout.js';
import { BlobArchive } from '../adapters/archive/blob-archive.js';
import type { FolderArchive } from '../adapters/archive/folder-archive.js';

/** Copies an archive (e.g. the simulator's folder) into Blob storage with the diagnostic-settings layout. */
export async function uploadArchive(from: FolderArchive, connectionString: string): Promise<BlobArchive> {
  const container = BlobServiceClient.fromConnectionString(connectionString).getContainerClient(REQUEST_RESPONSE_CONTAINER);
  await container.createIfNotExists();
  const prefix = `${REQUEST_RESPONSE_CONTAINER}/`;
  const paths = (await from.paths()).filter((p) => p.startsWith(prefix));
  for (let i = 0; i < paths.length; i += 8) {
    await Promise.all(
      paths.slice(i, i + 8).map(async (path) => {
        const bytes = await from.read(path);
        await container.getBlockBlobClient(path.slice(prefix.length)).upload(bytes, bytes.length);
      }),
    );
  }
  return new BlobArchive(container);
}
