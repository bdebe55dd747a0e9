import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import { REQUEST_RESPONSE_CONTAINER } from '../../domain/archive-layout.js';
import type { ArchiveEntry, ArchiveListing, ArchiveReader } from '../../ports/archive.js';
import { readJsonlChunks } from '../files/jsonl-lines.js';

/** Diagnostic settings name each category's container `insights-logs-<category>`. */
const CONTAINER_PREFIX = 'insights-logs-';
/** The first folder of every blob path in such a container (`resourceId=/SUBSCRIPTIONS/…/PT1H.json`). */
const BLOB_ROOT = 'resourceId=';

async function isFolder(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isDirectory() ?? false;
}

/** What is wrong with a folder for which `requestResponseFolder` finds nothing. */
export const NOT_AN_ARCHIVE = `holds no ${REQUEST_RESPONSE_CONTAINER}/ folder and is not one`;

/**
 * The folder of a local copy of the archive that holds the `RequestResponse` container's blobs, or null when it holds
 * none: `dir/insights-logs-requestresponse` (`azcopy copy '…/insights-logs-requestresponse' dir --recursive` copies
 * the container into a folder of its name), else `dir` itself when it is that folder, or holds the container's
 * `resourceId=` tree directly (a copy of the container's contents: `azcopy copy '…/insights-logs-requestresponse/*'`,
 * Storage Explorer's download) and is not another category's container.
 */
export async function requestResponseFolder(dir: string): Promise<string | null> {
  const container = join(dir, REQUEST_RESPONSE_CONTAINER);
  if (await isFolder(container)) return container;
  const name = basename(resolve(dir)).toLowerCase();
  if (name === REQUEST_RESPONSE_CONTAINER) return dir;
  if (name.startsWith(CONTAINER_PREFIX)) return null;
  return (await isFolder(join(dir, BLOB_ROOT))) ? dir : null;
}

/** A local copy of the storage archive (e.g. `azcopy` output or the simulator's `diagnostics/` folder). */
export class FolderArchive implements ArchiveReader {
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  async list(): Promise<ArchiveListing> {
    const listedAt = new Date();
    const entries = await readdir(this.root, { recursive: true, withFileTypes: true });
    const blobs: ArchiveEntry[] = [];
    // A link is taken for the file it links to (a copy made with `cp -rs` or `ln -s`); a link to a folder is not followed.
    for (const entry of entries) {
      if (!entry.isFile() && !entry.isSymbolicLink()) continue;
      const path = join(entry.parentPath, entry.name);
      const file = await stat(path).catch(() => null);
      if (file?.isFile()) blobs.push({ path: relative(this.root, path).split(sep).join('/'), lastModified: file.mtime });
    }
    return { entries: blobs, listedAt };
  }

  /** Every blob's path, in order. */
  async paths(): Promise<string[]> {
    return (await this.list()).entries.map((entry) => entry.path).sort();
  }

  async *lines(path: string): AsyncGenerator<readonly string[]> {
    for await (const chunk of readJsonlChunks(this.file(path))) yield chunk.lines;
  }

  /** A blob's whole file, to copy it. */
  read(path: string): Promise<Buffer> {
    return readFile(this.file(path));
  }

  private file(path: string): string {
    const full = resolve(this.root, path);
    if (!full.startsWith(this.root + sep)) throw new Error(`archive path escapes the archive root: ${path}`);
    return full;
  }
}
