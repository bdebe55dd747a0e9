import { readdir, readFile } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import type { ArchiveReader } from '../../ports/archive.js';

/** A local copy of the storage archive (e.g. `azcopy` output or the simulator's `diagnostics/` folder). */
export class FolderArchive implements ArchiveReader {
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  async list(): Promise<string[]> {
    const entries = await readdir(this.root, { recursive: true, withFileTypes: true });
    return entries
      .filter((e) => e.isFile())
      .map((e) => relative(this.root, join(e.parentPath, e.name)).split(sep).join('/'))
      .sort();
  }

  async read(path: string): Promise<string> {
    const full = resolve(this.root, path);
    if (!full.startsWith(this.root + sep)) throw new Error(`archive path escapes the archive root: ${path}`);
    return readFile(full, 'utf8');
  }
}
