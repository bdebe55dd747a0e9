// Stages the package azd deploys to the function app (azure.yaml: `dist: .deploy/function-app`, built by the
// `prepackage` hook after `npm run build`): the compiled functions and the code they load, the files read at run
// time, a package.json and lockfile without devDependencies or scripts, and the production dependencies copied
// from node_modules as the lockfile lists them. No tests, benchmark, sources, source maps or dev tooling.
//
//   node infra/hooks/stage-function-app.mjs [--out DIR]
//
// Plain Node (no dependencies), so the hook runs wherever azd runs.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const DEFAULT_OUT = join('.deploy', 'function-app');

/** What the function host loads or the code reads at run time (see src/config/package-files.ts). */
export const RUNTIME_PATHS = ['host.json', 'dist/functions', 'dist/src', 'prices', 'queries', 'dashboards/web/dist'];

/** Compiled code only the local stack, the simulator and the CLI use: they need dev dependencies. */
export const DEV_ONLY_PATHS = ['dist/src/local', 'dist/src/simulator', 'dist/src/cli'];

const isDevOnlyLock = (entry) => entry.dev === true || entry.devOptional === true;

function keep(root, source) {
  const path = relative(root, source).split(sep).join('/');
  if (path.endsWith('.map') || path.endsWith('.tsbuildinfo')) return false;
  return !DEV_ONLY_PATHS.some((dev) => path === dev || path.startsWith(`${dev}/`));
}

/** Writes the deployable package into `out` (replacing it) and returns what it holds. */
export function stageFunctionApp({ root, out }) {
  const target = resolve(root, out);
  if (!existsSync(join(root, 'dist', 'functions'))) throw new Error('dist/functions is missing: run `npm run build` first');
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target, { recursive: true });

  for (const path of RUNTIME_PATHS) {
    const source = join(root, path);
    if (!existsSync(source)) throw new Error(`${path} is missing: run \`npm run build\` first`);
    cpSync(source, join(target, path), { recursive: true, filter: (from) => keep(root, from) });
  }

  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const production = { name: pkg.name, version: pkg.version, private: true, type: pkg.type, main: pkg.main, engines: pkg.engines, dependencies: pkg.dependencies };
  writeFileSync(join(target, 'package.json'), `${JSON.stringify(production, null, 2)}\n`);

  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
  const packages = {};
  const copied = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '') {
      const { devDependencies: _dev, bin: _bin, ...rootEntry } = entry;
      packages[path] = rootEntry;
      continue;
    }
    if (isDevOnlyLock(entry)) continue;
    packages[path] = entry;
    // Optional packages for other platforms are in the lockfile but not installed: nothing to copy.
    if (!existsSync(join(root, path))) continue;
    cpSync(join(root, path), join(target, path), {
      recursive: true,
      // A nested node_modules holds packages of their own lockfile entry, copied (or skipped) on their own.
      filter: (from) => from === join(root, path) || !relative(join(root, path), from).split(sep).includes('node_modules'),
    });
    copied.push(path);
  }
  writeFileSync(join(target, 'package-lock.json'), `${JSON.stringify({ ...lock, packages }, null, 2)}\n`);
  // The same exclusions whether azd reads .funcignore from the service folder or from the staged one.
  if (existsSync(join(root, '.funcignore'))) cpSync(join(root, '.funcignore'), join(target, '.funcignore'));
  return { out: target, packages: copied };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { out: { type: 'string', default: DEFAULT_OUT } } });
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  try {
    const staged = stageFunctionApp({ root, out: values.out });
    process.stdout.write(`staged the function app in ${staged.out} with ${staged.packages.length} production packages\n`);
  } catch (error) {
    process.stderr.write(`stage-function-app: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
