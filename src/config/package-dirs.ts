import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The absolute path of a folder shipped with the package (e.g. `dashboards/web/dist`), found the way
 * `readPackageFile` finds files: in the nearest ancestor folder of this module that holds it, so it works from
 * `src/` (tests) and `dist/src/` (deployed) alike. Null when no ancestor holds it (e.g. not built yet).
 */
export function findPackageDir(relativePath: string): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, relativePath);
    if (existsSync(candidate) && statSync(candidate).isDirectory()) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}
