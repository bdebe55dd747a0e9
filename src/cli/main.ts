#!/usr/bin/env node
import { readFile, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { TableIdentityDirectory } from '../adapters/tables/table-identity-directory.js';
import { directoryFromEnvironment, gatewayObjectIds, loadPrices } from '../config/composition-root.js';
import { loadSettings } from '../config/settings.js';
import { lastMonth } from '../contracts/report-query.js';
import { loadPriceTable } from '../contracts/price-table.js';
import { GROUP_BY, type ChargebackRow } from '../domain/chargeback.js';
import { chargebackCsv, chargebackLineRows } from '../domain/chargeback-formats.js';
import { startLocalApi } from '../local/local-api.js';
import { demoTokens } from '../local/token-issuer.js';
import { analyzeFiles } from '../services/analyze-files.js';
import { reconcileFiles } from '../services/reconcile-files.js';
import { describeThresholds, thresholdsReport } from '../domain/reconciliation.js';
import { directoryCommand } from './commands/directory.js';
import { fetchReport } from './report-client.js';
import { apimServiceNameSchema, toWeightsTable } from '../contracts/apim-backend-pool.js';
import type { WeightsRecommendation } from '../domain/weights.js';
import type { LatencyReport } from '../services/latency-report.js';
import { startLocalStack } from '../local/local-stack.js';
import { runDemo, type DemoSummary } from '../local/demo.js';
import { writeSimulation } from '../simulator/files.js';
import { simulateDay } from '../simulator/traffic.js';
import { createProgress } from './progress.js';
import { formatTable } from './table.js';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function day(value: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`))) throw new InvalidArgumentError('expected YYYY-MM-DD');
  return value;
}

/**
 * The 15th of last month: finance's usual question is last month's bill, and the simulated archive's records
 * (up to 30 hours late) have all arrived by then.
 */
function midLastMonth(): string {
  return `${lastMonth()}-15`;
}

const requestsOption = () => new Option('--requests <n>', 'number of simulated requests').argParser(positiveInt);
const seedOption = () => new Option('--seed <n>', 'random seed: the same seed and day give the same traffic').argParser(positiveInt).default(42);
const dayOption = () => new Option('--day <YYYY-MM-DD>', 'UTC day to simulate').argParser(day).default(midLastMonth(), 'the 15th of last month');

function costTable(rows: readonly ChargebackRow[], label: string, total: { cost: string; requests: number }): string {
  return formatTable(
    [label, 'requests', 'prompt', 'cached', 'completion', 'cost (USD)'],
    [...rows.map((r) => [r.displayName ? `${r.key} (${r.displayName})` : r.key, r.requests, r.promptTokens, r.cachedTokens, r.completionTokens, r.cost]), ['TOTAL', total.requests, '', '', '', total.cost]],
  );
}

/** The reconciliation thresholds, one line per graded check (bypass always flags: any direct call is worth a look). */
function thresholdLines(): string {
  const rules = Object.entries(describeThresholds()).map(([check, rule]) => `${check} thresholds: ${rule}\n`);
  return rules.join('') + 'bypass: every direct call warns; one made with an account key fails\n';
}

function printSummary(summary: DemoSummary): void {
  const out = process.stdout;
  out.write('\nCost per team\n' + costTable(summary.chargeback.team.rows, 'team', summary.chargeback.team.totals) + '\n');
  out.write('\nCost per identity\n' + costTable(summary.chargeback.identity.rows, 'identity', summary.chargeback.identity.totals) + '\n');
  out.write('\nCost per model\n' + costTable(summary.chargeback.model.rows, 'model', summary.chargeback.model.totals) + '\n');
  out.write('\nTokens per identity\n');
  out.write(
    formatTable(
      ['identity', 'kind', 'requests', 'prompt', 'cached', 'completion', 'reasoning'],
      summary.identities.map((r) => [r.identity, r.kind, r.requests, r.promptTokens, r.cachedTokens, r.completionTokens, r.reasoningTokens]),
    ) + '\n',
  );
  const statuses = new Map<string, Record<string, number>>();
  for (const c of summary.reconciliation) {
    const counts = statuses.get(c.check) ?? { ok: 0, warn: 0, fail: 0 };
    counts[c.status] = (counts[c.status] ?? 0) + 1;
    statuses.set(c.check, counts);
  }
  out.write('\nReconciliation (hour x deployment results)\n' + formatTable(['check', 'ok', 'warn', 'fail'], [...statuses].map(([check, n]) => [check, n['ok'] ?? 0, n['warn'] ?? 0, n['fail'] ?? 0])) + '\n' + thresholdLines());
  const d = summary.delivery;
  out.write(`\nDelivered ${d.events.toLocaleString('en-US')} events in ${d.deliveries} batches (${d.redeliveries} redelivered).\n`);
  out.write('\nChecks against the simulator\'s ground truth\n');
  out.write(formatTable(['check', 'expected', 'actual', 'result'], summary.checks.map((c) => [c.name, String(c.expected), String(c.actual), c.ok ? 'ok' : 'FAILED'])) + '\n');
}

export function buildCli(): Command {
  const program = new Command('tokenledger')
    .description('Per-identity token chargeback and per-region latency for Azure OpenAI behind Azure API Management.')
    .showHelpAfterError();

  program
    .command('simulate')
    .description('Write a deterministic, realistic day of gateway events, diagnostic archive records and ground truth.')
    .addOption(requestsOption().makeOptionMandatory())
    .addOption(seedOption())
    .addOption(dayOption())
    .requiredOption('--out <dir>', 'output folder')
    .option('--faults', 'inject the faults reconciliation must find: lost gateway events and a metrics token drift')
    .action(async (opts: { requests: number; seed: number; day: string; out: string; faults?: boolean }) => {
      const simulated = simulateDay({ requests: opts.requests, seed: opts.seed, day: opts.day, faults: Boolean(opts.faults) });
      await writeSimulation(opts.out, simulated);
      const t = simulated.groundTruth;
      process.stdout.write(
        `wrote ${t.events.lines} event lines (${t.events.duplicates} duplicates, ${t.events.malformed} malformed), ` +
          `${t.diagnostics.records} diagnostic records (${t.diagnostics.bypass} bypass) to ${opts.out}\n`,
      );
    });

  program
    .command('demo')
    .description('Start the local stack, simulate a day, run it through the function handlers and print what the ledger holds.')
    .addOption(requestsOption().default(50_000))
    .addOption(seedOption())
    .addOption(dayOption())
    .option('--out <dir>', 'folder for the simulated files (default: a new temporary folder)')
    .option('--json <file>', 'write a machine-readable summary')
    .option('--no-serve', 'exit when done instead of serving until Ctrl-C')
    .addOption(new Option('--port <n>', 'port of the local HTTP API (the Functions host default)').argParser(positiveInt).default(7071))
    .action(async (opts: { requests: number; seed: number; day: string; out?: string; json?: string; serve: boolean; port: number }) => {
      const progress = createProgress();
      progress.step('starting the local stack (Cosmos DB server, Azurite)');
      const stack = await startLocalStack();
      let summary: DemoSummary;
      try {
        summary = await runDemo(stack, { requests: opts.requests, seed: opts.seed, day: opts.day, outDir: opts.out }, progress);
      } catch (error) {
        await stack.stop();
        throw error;
      }
      printSummary(summary);
      if (opts.json) await writeFile(opts.json, JSON.stringify(summary, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value), 2) + '\n');
      if (!opts.serve) {
        await stack.stop();
        process.exitCode = summary.ok ? 0 : 1;
        return;
      }
      const api = await startLocalApi(stack, opts.port).catch(() => startLocalApi(stack));
      const tokens = await demoTokens(stack.issuer);
      const month = opts.day.slice(0, 7);
      process.stdout.write(
        [
          '',
          'Serving the local stack until Ctrl-C (or SIGTERM).',
          `API: ${api.url}/api/chargeback`,
          `Dashboard: ${api.url}/api/dashboard/`,
          `Finance token: ${tokens.finance}`,
          `Operator token: ${tokens.operator}`,
          '',
          `Last month's chargeback CSV, with one HTTP call:`,
          `  curl -H "Authorization: Bearer $FINANCE_TOKEN" "${api.url}/api/chargeback?month=${month}&groupBy=team&format=csv"`,
          'or with one CLI command:',
          `  npx tokenledger report chargeback --api ${api.url} --token "$FINANCE_TOKEN" --month ${month} --group-by team --format csv`,
          `Cosmos DB: ${stack.cosmos.endpoint}   Blob: ${stack.azurite.blobEndpoint}   Tables: ${stack.azurite.tableEndpoint}`,
          '',
        ].join('\n'),
      );
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      await api.stop();
      await stack.stop();
    });

  program
    .command('reconcile')
    .description('Reconciliation checks over files: gateway events vs RequestResponse records, APIM LLM log and Azure Monitor metrics.')
    .requiredOption('--events <file>', 'gateway events, JSON lines')
    .requiredOption('--diagnostics <dir>', 'RequestResponse storage archive folder')
    .option('--llm-log <file>', 'ApiManagementGatewayLlmLog export, JSON lines')
    .option('--metrics <file>', 'Azure Monitor metrics response JSON (ProcessedPromptTokens, GeneratedTokens by ModelDeploymentName)')
    .option('--gateway-object-ids <ids>', "comma-separated object ids of the gateway's managed identities")
    .addOption(new Option('--format <format>', 'output format').choices(['json', 'table']).default('table'))
    .action(async (opts: { events: string; diagnostics: string; llmLog?: string; metrics?: string; gatewayObjectIds?: string; format: string }) => {
      const checks = await reconcileFiles({
        eventsFile: opts.events,
        diagnosticsDir: opts.diagnostics,
        ...(opts.llmLog ? { llmLogFile: opts.llmLog } : {}),
        ...(opts.metrics ? { metricsFile: opts.metrics } : {}),
        gatewayObjectIds: gatewayObjectIds({ GATEWAY_OBJECT_IDS: opts.gatewayObjectIds }),
        maxSample: 1000,
      });
      if (opts.format === 'json') {
        const rows = checks.map(({ check, window, deployment, expected, actual, driftPct, status, gatewayOnly, diagnosticsOnly }) => ({ check, window, deployment, expected, actual, driftPct, status, gatewayOnly, diagnosticsOnly }));
        return void process.stdout.write(JSON.stringify({ thresholds: thresholdsReport(), checks: rows }, null, 2) + '\n');
      }
      const flagged = checks.filter((c) => c.status !== 'ok');
      process.stdout.write(
        formatTable(
          ['check', 'window', 'deployment', 'expected', 'actual', 'drift %', 'status', 'gateway only', 'diagnostics only'],
          flagged.map((c) => [c.check, c.window, c.deployment, c.expected, c.actual, c.driftPct === null ? '' : c.driftPct.toFixed(2), c.status, c.gatewayOnlyCount, c.diagnosticsOnlyCount]),
        ) + `\n${checks.length - flagged.length} of ${checks.length} results ok\n${thresholdLines()}`,
      );
    });

  program
    .command('analyze')
    .description('One-shot chargeback and join over files, with no store: the same domain core as the pipeline.')
    .requiredOption('--events <file>', 'gateway events, JSON lines (one Event Hubs body per line)')
    .option('--diagnostics <dir>', 'Azure OpenAI RequestResponse storage archive (folder with insights-logs-requestresponse/…)')
    .option('--prices <file>', 'price table JSON (default: the shipped table)')
    .option('--directory <file>', 'identity directory CSV (identity,displayName,team,costCenter)')
    .option('--gateway-object-ids <ids>', 'comma-separated object ids of the gateway identity (never attributed)')
    .addOption(new Option('--threads <n>', 'threads that read the events file (fewer for files under 64 MiB a thread)').argParser(positiveInt).default(availableParallelism(), 'one per core'))
    .addOption(new Option('--format <format>', 'output format').choices(['json', 'csv', 'table']).default('table'))
    .action(async (opts: { events: string; diagnostics?: string; prices?: string; directory?: string; gatewayObjectIds?: string; threads: number; format: string }) => {
      const progress = createProgress();
      progress.step(`analysing ${opts.events}`);
      const prices = opts.prices ? loadPriceTable(JSON.parse(await readFile(opts.prices, 'utf8'))) : loadPrices({});
      const result = await analyzeFiles({
        eventsFile: opts.events,
        ...(opts.diagnostics ? { diagnosticsDir: opts.diagnostics } : {}),
        ...(opts.directory ? { directoryCsv: opts.directory } : {}),
        prices,
        identity: { gatewayObjectIds: gatewayObjectIds({ GATEWAY_OBJECT_IDS: opts.gatewayObjectIds }) },
        threads: opts.threads,
      });
      progress.step(`${result.entries} requests, ${result.deadLetters} dead letters`);
      const t = result.report.totals;
      if (opts.format === 'json') {
        const tokenSources = t.tokenSources;
        process.stdout.write(
          JSON.stringify(
            {
              chargeback: chargebackLineRows(result.lines, result.directory, result.report.currency),
              totals: { requests: t.requests, promptTokens: t.promptTokens, cachedTokens: t.cachedTokens, completionTokens: t.completionTokens, reasoningTokens: t.reasoningTokens, cost: t.cost, currency: result.report.currency, tokenSources },
              deadLetters: result.deadLetters,
              diagnosticsRejected: result.diagnosticsRejected,
              unpriced: result.report.unpriced,
              join: result.join,
              latency: result.latency,
              weights: result.weights,
            },
            null,
            2,
          ) + '\n',
        );
      } else if (opts.format === 'csv') {
        process.stdout.write(chargebackCsv(result.report));
      } else {
        process.stdout.write(costTable(result.report.rows, 'identity', t) + '\n');
        process.stdout.write(`\njoin: ${result.join.matched} matched, ${result.join.noDiagnostics} without diagnostics, ${result.join.bypass} bypass; ${result.deadLetters} dead letters\n`);
      }
    });

  const report = program.command('report').description('Reports from the TokenLedger HTTP API (Entra ID bearer token).');
  report
    .command('chargeback')
    .description('Per-identity (or team, cost center, model, deployment) token chargeback for a period.')
    .option('--api <url>', 'TokenLedger API base URL (env TOKENLEDGER_API)', process.env['TOKENLEDGER_API'] ?? 'http://127.0.0.1:7071')
    .option('--token <jwt>', 'bearer token (env TOKENLEDGER_TOKEN)', process.env['TOKENLEDGER_TOKEN'])
    .option('--from <date>', 'start, ISO date or instant (inclusive)')
    .option('--to <date>', 'end, ISO date or instant (exclusive)')
    .option('--month <YYYY-MM>', 'a calendar month instead of --from/--to (default: last month)')
    .addOption(new Option('--group-by <key>', 'grouping').choices([...GROUP_BY]).default('identity'))
    .addOption(new Option('--format <format>', 'output format').choices(['json', 'csv', 'focus', 'table']).default('table'))
    .option('--out <file>', 'write to a file instead of stdout')
    .action(async (opts: { api: string; token?: string; from?: string; to?: string; month?: string; groupBy: string; format: string; out?: string }) => {
      const period: Record<string, string> = {};
      if (opts.from) period['from'] = opts.from;
      if (opts.to) period['to'] = opts.to;
      if (!opts.from && !opts.to) period['month'] = opts.month ?? lastMonth();
      const wire = opts.format === 'table' ? 'json' : opts.format;
      const response = await fetchReport(opts.api, 'api/chargeback', { ...period, groupBy: opts.groupBy, format: wire }, opts.token);
      let text: string;
      if (opts.format === 'table') {
        const body = (await response.json()) as { rows: ChargebackRow[]; totals: { cost: string; requests: number } };
        text = costTable(body.rows, opts.groupBy, body.totals) + '\n';
      } else {
        text = await response.text();
      }
      if (opts.out) await writeFile(opts.out, text);
      else process.stdout.write(text);
    });

  const operationsOptions = (command: Command) =>
    command
      .option('--api <url>', 'TokenLedger API base URL (env TOKENLEDGER_API)', process.env['TOKENLEDGER_API'] ?? 'http://127.0.0.1:7071')
      .option('--token <jwt>', 'bearer token with Operations.Read (env TOKENLEDGER_TOKEN)', process.env['TOKENLEDGER_TOKEN'])
      .option('--from <date>', 'start, ISO date or instant (default: 24 hours ago)')
      .option('--to <date>', 'end, exclusive (default: now)')
      .option('--deployment <name>', 'one deployment only');
  const period = (opts: { from?: string; to?: string; deployment?: string }) => ({
    from: opts.from ?? new Date(Date.now() - 86_400_000).toISOString(),
    to: opts.to ?? new Date().toISOString(),
    ...(opts.deployment ? { deployment: opts.deployment } : {}),
  });
  operationsOptions(report.command('latency').description('p50/p90/p95/p99 service latency, counts, 429 and error rates per region.'))
    .addOption(new Option('--format <format>', 'output format').choices(['json', 'table']).default('table'))
    .action(async (opts: { api: string; token?: string; from?: string; to?: string; deployment?: string; format: string }) => {
      const body = (await (await fetchReport(opts.api, 'api/latency', { ...period(opts), groupBy: 'region' }, opts.token)).json()) as LatencyReport;
      if (opts.format === 'json') return void process.stdout.write(JSON.stringify(body, null, 2) + '\n');
      const ms = (v: number | null) => (v === null ? '' : v.toFixed(0));
      const pct = (v: number) => `${(v * 100).toFixed(2)} %`;
      process.stdout.write(
        formatTable(
          ['region', 'requests', 'p50 ms', 'p90 ms', 'p95 ms', 'p99 ms', '429 rate', 'error rate'],
          body.rows.map((r) => [r.region, r.requests, ms(r.p50Ms), ms(r.p90Ms), ms(r.p95Ms), ms(r.p99Ms), pct(r.throttleRate), pct(r.errorRate)]),
        ) + '\n',
      );
    });
  operationsOptions(program.command('weights').description('Recommended backend-pool weights per deployment, with a reason per backend.'))
    .addOption(
      new Option('--format <format>', 'table, json, an ARM deployment template (apim) or a Bicep file (bicep), one backend pool per deployment').choices(['table', 'json', 'apim', 'bicep']).default('table'),
    )
    .option('--apim-service <name>', 'API Management service the pools belong to (required by --format apim|bicep: resources are named <name>/<deployment>-pool)')
    .action(async (opts: { api: string; token?: string; from?: string; to?: string; deployment?: string; format: string; apimService?: string }) => {
      const deployable = opts.format === 'apim' || opts.format === 'bicep';
      if (deployable && !opts.apimService) throw new Error(`--format ${opts.format} needs --apim-service <name>: the pools are resources of that API Management service (<name>/<deployment>-pool)`);
      if (deployable && !apimServiceNameSchema.safeParse(opts.apimService).success) throw new Error(`--apim-service ${JSON.stringify(opts.apimService)}: ${apimServiceNameSchema.safeParse(opts.apimService).error!.issues[0]!.message}`);
      const params = { ...period(opts), format: opts.format === 'table' ? 'json' : opts.format, ...(deployable ? { apimService: opts.apimService! } : {}) };
      const response = await fetchReport(opts.api, 'api/weights', params, opts.token);
      if (opts.format !== 'table') return void process.stdout.write((await response.text()) + '\n');
      const body = (await response.json()) as { recommendations: WeightsRecommendation[] };
      for (const rec of body.recommendations) process.stdout.write(`\n${rec.deployment}: ${rec.explanation}\n${toWeightsTable(rec.weights).join('\n')}\n`);
    });

  program.addCommand(
    directoryCommand(async () => {
      const connection = process.env['TOKENLEDGER_TABLES_CONNECTION_STRING'];
      const directory = connection ? TableIdentityDirectory.fromConnectionString(connection) : directoryFromEnvironment(loadSettings());
      return { directory, close: async () => {} };
    }),
  );

  return program;
}

buildCli()
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    process.stderr.write(`tokenledger: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
