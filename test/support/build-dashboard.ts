import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Vitest global setup: bundles the dashboard once per run (dashboards/web/dist), so the dashboard function and
 * the browser test serve what `npm run build:dashboard` would build from the current sources.
 */
export default function buildDashboard(): void {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  execFileSync(process.execPath, ['dashboards/web/build.mjs'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
}
