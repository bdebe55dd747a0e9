import { createRequire } from 'node:module';
import { TABLE_SCHEMAS, schemaText } from '../../src/adapters/log-analytics/table-schemas.js';

/** The slice of the Kusto language service (a Bridge.NET bundle that installs a global `Kusto`) the tests use. */
interface BridgeList<T> {
  readonly Count: number;
  getItem(index: number): T;
}
interface KustoToken {
  readonly Kind: number;
  readonly Text: string;
  readonly ValueText: string;
}
interface KustoDiagnostic {
  readonly Severity: string;
  readonly Code: string;
  readonly Message: string;
  readonly Start: number;
}
interface KustoLanguage {
  GlobalState: { Default: { WithDatabase(database: unknown): unknown } };
  KustoCode: {
    ParseAndAnalyze(text: string, globals: unknown): {
      GetDiagnostics(): BridgeList<KustoDiagnostic>;
      Syntax: { GetTokens(): BridgeList<KustoToken>; Statements: { Count: number } };
    };
  };
  Symbols: {
    TableSymbol: { From(schema: string): { WithName(name: string): unknown } };
    DatabaseSymbol: { $ctor2: new (name: string, alternateName: string | null, members: unknown[]) => unknown };
  };
  Syntax: { SyntaxKind: Record<string, number> };
}

const requireFromHere = createRequire(import.meta.url);
requireFromHere('@kusto/language-service-next/bridge.min.js');
requireFromHere('@kusto/language-service-next/Kusto.Language.Bridge.min.js');
const kusto = (globalThis as unknown as { Kusto: { Language: KustoLanguage } }).Kusto.Language;
/** A workspace holding every table the queries read, with the columns `TABLE_SCHEMAS` declares. */
const globals = kusto.GlobalState.Default.WithDatabase(
  new kusto.Symbols.DatabaseSymbol.$ctor2('workspace', null, Object.entries(TABLE_SCHEMAS).map(([name, schema]) => kusto.Symbols.TableSymbol.From(schemaText(schema)).WithName(name))),
);
const STRING_TOKEN = kusto.Syntax.SyntaxKind['StringLiteralToken'];

function list<T>(items: BridgeList<T>): T[] {
  return Array.from({ length: items.Count }, (_, i) => items.getItem(i));
}

/** The error diagnostics (not warnings or suggestions) of a query against the declared schemas. */
export function kqlErrors(query: string): KustoDiagnostic[] {
  return list(kusto.KustoCode.ParseAndAnalyze(query, globals).GetDiagnostics()).filter((d) => d.Severity === 'Error');
}

/** What the language service makes of a query: its errors, its tokens (string literals marked), string values, statements. */
export function analyseKql(query: string): { errors: string[]; kinds: (number | 'string')[]; strings: string[]; statements: number } {
  const code = kusto.KustoCode.ParseAndAnalyze(query, globals);
  const tokens = list(code.Syntax.GetTokens());
  return {
    errors: list(code.GetDiagnostics()).filter((d) => d.Severity === 'Error').map((d) => d.Message),
    kinds: tokens.map((t) => (t.Kind === STRING_TOKEN ? 'string' : t.Kind)),
    strings: tokens.filter((t) => t.Kind === STRING_TOKEN).map((t) => t.ValueText),
    statements: code.Syntax.Statements.Count,
  };
}
