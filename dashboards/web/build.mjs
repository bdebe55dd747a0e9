// Bundles the dashboard into dashboards/web/dist: app-<hash>.js (with Chart.js), app-<hash>.css and an
// index.html that names them. Content-hashed names let the function serve assets as immutable while the page
// itself is revalidated. Offline: everything comes from node_modules, nothing from a CDN.
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
const staging = join(here, `.dist-${process.pid}`);

await rm(staging, { recursive: true, force: true });
await mkdir(staging, { recursive: true });
try {
  const result = await build({
    absWorkingDir: here,
    entryPoints: [
      { in: 'src/main.ts', out: 'app' },
      { in: 'src/styles.css', out: 'app' },
    ],
    entryNames: '[name]-[hash]',
    outdir: staging,
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: ['es2020', 'chrome100', 'edge100', 'firefox100', 'safari15'],
    minify: true,
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
  });
  const outputs = Object.entries(result.metafile.outputs);
  const named = (ext) => {
    const found = outputs.find(([file, output]) => output.entryPoint !== undefined && file.endsWith(ext));
    if (!found) throw new Error(`esbuild produced no ${ext} entry`);
    return relative(staging, join(here, found[0])).split('\\').join('/');
  };
  const page = await readFile(join(here, 'index.html'), 'utf8');
  let html = page;
  for (const [placeholder, file] of [['./app.js', named('.js')], ['./app.css', named('.css')]]) {
    if (!html.includes(`"${placeholder}"`)) throw new Error(`index.html does not reference ${placeholder}`);
    html = html.replace(`"${placeholder}"`, `"./${file}"`);
  }
  await writeFile(join(staging, 'index.html'), html);
  await rm(dist, { recursive: true, force: true });
  await rename(staging, dist);
  if (process.env.npm_config_loglevel !== 'silent') process.stdout.write(`dashboard built into ${relative(process.cwd(), dist) || '.'}: ${named('.js')}, ${named('.css')}\n`);
} catch (error) {
  await rm(staging, { recursive: true, force: true });
  throw error;
}
