import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Whether an import or export declaration brings in values at run time (TypeScript drops type-only ones). */
function loadsAtRunTime(node: ts.ImportDeclaration | ts.ExportDeclaration): boolean {
  if (ts.isExportDeclaration(node)) return !node.isTypeOnly;
  const clause = node.importClause;
  if (!clause) return true;
  if (clause.isTypeOnly) return false;
  if (clause.name) return true;
  const bindings = clause.namedBindings;
  if (!bindings || ts.isNamespaceImport(bindings)) return true;
  return bindings.elements.length === 0 || bindings.elements.some((element) => !element.isTypeOnly);
}

/**
 * What loading `entry` loads before any of its code runs: the project files and packages reached through static
 * imports, following the project's own files (`.js` specifiers name the `.ts` sources).
 */
function staticImportGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022);
    for (const node of source.statements) {
      if (!(ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) || !node.moduleSpecifier || !loadsAtRunTime(node)) continue;
      const specifier = (node.moduleSpecifier as ts.StringLiteral).text;
      if (specifier.startsWith('.')) visit(join(dirname(file), specifier.replace(/\.js$/, '.ts')));
      else if (!specifier.startsWith('node:')) packages.add(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!);
    }
  };
  visit(join(ROOT, entry));
  return { files: new Set([...files].map((file) => relative(ROOT, file))), packages };
}

describe('the command line starts without the Azure SDK', () => {
  // Loading the Azure SDK clients and the local stack took about half a second before any command ran: the
  // commands that read files (analyze, reconcile, allocate, simulate, weights, report) need none of them.
  const graph = staticImportGraph('src/cli/main.ts');

  it('loads no Azure SDK package and no local emulator before a command runs', () => {
    expect([...graph.packages].filter((name) => name.startsWith('@azure/') || name === '@vercel/cosmosdb-server' || name === 'azurite')).toEqual([]);
  });

  it('loads neither the composition root nor the local stack before a command runs', () => {
    expect([...graph.files].filter((file) => file.startsWith('src/local/') || file === 'src/config/composition-root.ts' || file.startsWith('src/adapters/cosmos/'))).toEqual([]);
  });

  it('finds the Azure SDK where it is imported statically, so the checks above can fail', () => {
    expect([...staticImportGraph('src/config/composition-root.ts').packages]).toEqual(expect.arrayContaining(['@azure/cosmos', '@azure/identity']));
  });
});
