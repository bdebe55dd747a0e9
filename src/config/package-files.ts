import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Reads a file shipped with the package (`queries/…`, `prices/…`, `dashboards/…`) from the nearest ancestor
 * folder of this module that holds it, so it works from `src/` (tests) and `dist/src/` (deployed) alike.
 */
export function readPackageFile(relativePath: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, relativePath);
    if (existsSync(candidate)) return readFileSync(candidate, 'utf8');
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`${relativePath} not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}
