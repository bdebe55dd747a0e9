import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

function filesUnder(dir: string, skip: (path: string) => boolean = () => false): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (skip(path)) return [];
    return entry.isDirectory() ? filesUnder(path, skip) : [path];
  });
}

/** The package name of a bare import specifier (`@azure/cosmos/x` → `@azure/cosmos`), or null for relative and built-in ones. */
function packageOf(specifier: string): string | null {
  if (specifier.startsWith('.') || specifier.startsWith('node:') || builtinModules.includes(specifier.split('/')[0]!)) return null;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

describe('the function app package azd deploys', () => {
  let out: string;
  const pkg = readJson(join(root, 'package.json')) as { dependencies: Record<string, string>; devDependencies: Record<string, string>; engines: unknown };

  beforeAll(async () => {
    if (!existsSync(join(root, 'dist', 'functions'))) await run('npm', ['run', 'build', '--silent'], { cwd: root });
    out = await mkdtemp(join(tmpdir(), 'tokenledger-package-'));
    await run(process.execPath, ['infra/hooks/stage-function-app.mjs', '--out', out], { cwd: root });
  }, 180_000);
  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('is what azure.yaml deploys, staged by the prepackage hook', () => {
    const azure = readFileSync(join(root, 'azure.yaml'), 'utf8');
    expect(azure).toMatch(/^ {4}dist: \.deploy\/function-app$/m);
    expect(azure).toMatch(/^ {6}prepackage:$/m);
    expect(azure.match(/run: .*node infra\/hooks\/stage-function-app\.mjs/g)).toHaveLength(2);
    const ignored = readFileSync(join(root, '.funcignore'), 'utf8').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['test/', 'bench/', '*.map', '*.ts']));
    expect(ignored.some((line) => line.startsWith('node_modules'))).toBe(false);
    expect(readFileSync(join(out, '.funcignore'), 'utf8')).toBe(readFileSync(join(root, '.funcignore'), 'utf8'));
  });

  it('declares production dependencies only, with no scripts to run on install', () => {
    const staged = readJson(join(out, 'package.json'));
    expect(staged['dependencies']).toEqual(pkg.dependencies);
    expect(staged['engines']).toEqual(pkg.engines);
    expect(staged).not.toHaveProperty('devDependencies');
    expect(staged).not.toHaveProperty('scripts');
    const lock = readJson(join(out, 'package-lock.json')) as { packages: Record<string, { dev?: boolean; devOptional?: boolean; devDependencies?: unknown }> };
    expect(lock.packages['']).not.toHaveProperty('devDependencies');
    expect(Object.values(lock.packages).filter((entry) => entry.dev || entry.devOptional)).toEqual([]);
  });

  it('holds every production dependency and no development one', () => {
    for (const name of Object.keys(pkg.dependencies)) expect(existsSync(join(out, 'node_modules', name, 'package.json')), name).toBe(true);
    const rootLock = readJson(join(root, 'package-lock.json')) as { packages: Record<string, { dev?: boolean; devOptional?: boolean }> };
    const devOnly = Object.entries(rootLock.packages).filter(([path, entry]) => path !== '' && (entry.dev || entry.devOptional));
    // A devDependency that a production dependency also needs (fast-xml-parser) stays; the tools go.
    const tools = Object.keys(pkg.devDependencies).filter((name) => devOnly.some(([path]) => path === `node_modules/${name}`));
    expect(tools).toEqual(expect.arrayContaining(['typescript', 'vitest', 'azurite', '@duckdb/node-api', '@sparticuz/chromium']));
    for (const name of tools) expect(existsSync(join(out, 'node_modules', name)), name).toBe(false);
    expect(devOnly.length).toBeGreaterThan(100);
    for (const [path] of devOnly) expect(existsSync(join(out, path)), path).toBe(false);
  });

  it('holds no tests, benchmark, sources, source maps or dev tooling', () => {
    const files = filesUnder(out, (path) => path === join(out, 'node_modules')).map((path) => relative(out, path).split(sep).join('/'));
    expect(files).toContain('host.json');
    expect(files).toContain('dist/functions/index.js');
    expect(files).toContain('prices/default-prices.json');
    expect(files.some((f) => f.startsWith('queries/') && f.endsWith('.kql'))).toBe(true);
    expect(files.some((f) => f.startsWith('dashboards/web/dist/') && f.endsWith('index.html'))).toBe(true);
    const unwanted = files.filter((f) => /\.(map|ts)$/.test(f) || /^(test|bench|src|functions|infra|\.ci)\//.test(f) || /^dist\/src\/(local|simulator|cli)\//.test(f));
    expect(unwanted).toEqual([]);
  });

  it('resolves every package the deployed code imports from its own node_modules, and loads every function module', async () => {
    const code = filesUnder(join(out, 'dist')).filter((f) => f.endsWith('.js'));
    const imported = new Set<string>();
    for (const file of code) {
      for (const match of readFileSync(file, 'utf8').matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)) {
        const name = packageOf(match[1]!);
        if (name) imported.add(name);
      }
    }
    expect(imported.size).toBeGreaterThan(5);
    for (const name of imported) expect(existsSync(join(out, 'node_modules', name, 'package.json')), name).toBe(true);
    const modules = readdirSync(join(out, 'dist', 'functions')).filter((f) => f.endsWith('.js'));
    const script = `for (const f of ${JSON.stringify(modules)}) await import('./dist/functions/' + f); console.log('loaded ' + ${modules.length});`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: out });
    expect(stdout).toContain(`loaded ${modules.length}`);
    expect(statSync(join(out, 'node_modules')).isDirectory()).toBe(true);
  });
});
