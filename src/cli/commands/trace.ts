import { Command, Option } from 'commander';
import { answerJson, fetchReport, pathSegment } from '../report-client.js';
import { formatTable } from '../table.js';

/** What `GET /api/requests/{id}` answers, as far as the table shows it. */
export interface TraceBody {
  readonly request: {
    readonly id: string;
    readonly time: string;
    readonly source: string;
    readonly gatewayRequestId: string;
    readonly apimRequestId: string | null;
    readonly deployment: string | null;
    readonly model: string | null;
    readonly operation: string | null;
    readonly status: number | null;
    readonly tokens: { readonly source: string; readonly promptTokens: number; readonly cachedTokens: number; readonly completionTokens: number; readonly reasoningTokens: number };
    readonly parts?: readonly { readonly source: string }[];
    readonly diagnostics?: { readonly status: string } | null;
  };
  readonly diagnostics: { readonly correlationId: string; readonly regionCode: string | null; readonly account: string; readonly status: number | null; readonly durationMs: number | null; readonly modelName: string | null; readonly modelVersion: string | null } | null;
  readonly identity: { readonly key: string; readonly kind: string; readonly via: string; readonly displayName: string | null; readonly team: string; readonly costCenter: string };
  readonly cost: { readonly basis: string; readonly costPicodollars: string; readonly cost: string; readonly currency: string };
  readonly priceVersion: string | null;
  readonly priceTable: string;
}

const text = (value: string | number | null | undefined) => (value === null || value === undefined ? '' : String(value));

/** One request as field/value rows; `formatTable` escapes every control character a value may hold. */
export function traceTable(body: TraceBody): string {
  const r = body.request;
  const d = body.diagnostics;
  const t = r.tokens;
  const rows: [string, string][] = [
    ['request', r.id],
    ['time', r.time],
    ['gateway request id', r.gatewayRequestId],
    ['apim-request-id', text(r.apimRequestId)],
    ['merged from', (r.parts ?? [{ source: r.source }]).map((p) => p.source).join(' + ')],
    ['identity', `${body.identity.key} (${body.identity.kind}, decided by ${body.identity.via})`],
    ['display name', text(body.identity.displayName)],
    ['team / cost center', `${body.identity.team} / ${body.identity.costCenter}`],
    ['deployment / model', `${text(r.deployment)} / ${text(r.model)}`],
    ['operation / status', `${text(r.operation)} / ${text(r.status)}`],
    ['tokens', `prompt ${t.promptTokens} (cached ${t.cachedTokens}), completion ${t.completionTokens} (reasoning ${t.reasoningTokens}), from ${t.source}`],
    ['join', r.diagnostics ? r.diagnostics.status : 'not judged yet'],
    [
      'diagnostic record',
      d ? `${d.account} ${text(d.regionCode)}, status ${text(d.status)}, ${text(d.durationMs)} ms, ${text(d.modelName)} ${text(d.modelVersion)}`.trim() : 'none',
    ],
    ['cost', `${body.cost.cost} ${body.cost.currency} (${body.cost.costPicodollars} picodollars, ${body.cost.basis})`],
    ['price version', text(body.priceVersion)],
    ['price table', body.priceTable],
  ];
  return formatTable(['field', 'value'], rows);
}

/** `trace <request id>`: one request end to end from `GET /api/requests/{id}`. */
export function traceCommand(): Command {
  return new Command('trace')
    .description('One request end to end: its ledger document and parts, the joined diagnostic record, identity, price and cost.')
    .argument('<request-id>', "the gateway request id or the backend's apim-request-id")
    .option('--api <url>', 'TokenLedger API base URL (env TOKENLEDGER_API)', process.env['TOKENLEDGER_API'] ?? 'http://127.0.0.1:7071')
    .option('--token <jwt>', 'bearer token (env TOKENLEDGER_TOKEN)', process.env['TOKENLEDGER_TOKEN'])
    .addOption(new Option('--format <format>', 'output format').choices(['json', 'table']).default('table'))
    .action(async (requestId: string, opts: { api: string; token?: string; format: string }) => {
      const response = await fetchReport(opts.api, `api/requests/${pathSegment(requestId, 'request id')}`, {}, opts.token);
      const body = (await answerJson(response)) as TraceBody;
      process.stdout.write(opts.format === 'json' ? `${JSON.stringify(body, null, 2)}\n` : `${traceTable(body)}\n`);
    });
}
