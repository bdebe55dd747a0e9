#!/usr/bin/env node
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { gatewayObjectIds, loadPrices } from '../config/core-options.js';
import { loadDirectorySettings, loadSettings } from '../config/settings.js';
import { parseReportOptions } from './report-options.js';
import { BASES, chargebackQuerySchemaAt, daySchemaAt, lastMonth, operationsQuerySchemaAt, type PeriodSource } from '../contracts/report-query.js';
import { GROUP_BY, type ChargebackReport, type ChargebackRow } from '../domain/chargeback.js';
import { chargebackCsv, chargebackLineRows } from '../domain/chargeback-formats.js';
import { deadLettersOf, type ReasonCount } from '../domain/dead-letter-reasons.js';
import { analyzeFiles } from '../services/analyze-files.js';
import { allocateFiles } from '../services/allocate-files.js';
import { allocationCsv, allocationFocus, allocationLines, allocationTotals } from '../domain/allocation-formats.js';
import { reconcileFiles } from '../services/reconcile-files.js';
import { roundAmount } from '../domain/invoice-comparison.js';
import { CHECK_STATUSES, describeThresholds, thresholdsReport, type CheckResult, type CheckStatus } from '../domain/reconciliation.js';
import { directoryCommand } from './commands/directory.js';
import { repeatedOptions } from './repeated-options.js';
import { flagTakenAsValue } from './flag-as-value.js';
import { describeImport, pricesCommand } from './commands/prices.js';
import { readPriceTable } from '../adapters/files/price-files.js';
import { PriceMatcher } from '../domain/price-matching.js';
import { deadLettersCommand } from './commands/dead-letters.js';
import { quarantineCommand } from './commands/quarantine.js';
import { rollupCommand } from './commands/rollup.js';
import { traceCommand } from './commands/trace.js';
import { answerJson, fetchReport, parseAnswer } from './report-client.js';
import { apimServiceNameSchema, toWeightsTable } from '../contracts/apim-backend-pool.js';
import type { WeightsRecommendation } from '../domain/weights.js';
import type { LatencyReport } from '../services/latency-report.js';
import type { LocalStack } from '../local/local-stack.js';
import type { DemoSummary } from '../local/demo.js';
import { writeSimulation } from '../simulator/files.js';
import { simulateDay } from '../simulator/traffic.js';
import { createProgress, type Progress } from './progress.js';
import { invoiceTables, type InvoiceTableBody } from './invoice-tables.js';
import { formatTable } from './table.js';
import { Cleanup, stopWhenReaderLeaves } from './cleanup.js';
import { checkInput, checkOutput, describeFileError } from './input-files.js';
import { checkDiagnostics, checkEvents, InputCopies } from './input-copies.js';
import { escapeWritesToTerminal, terminalSafe, terminalSafeLines } from './terminal-text.js';

/** A parser of positive integers up to `max`; `bound` says why the bound is there. */
function positiveInt(max: number, bound: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n <= 0 || n > max) throw new InvalidArgumentError(`expected a positive integer up to ${max.toLocaleString('en-US')} (${bound})`);
    return n;
  };
}

/** A simulated day is held in memory and each file written at once: 300,000 requests take about 2.3 GB; 1,000,000 outgrow the longest string Node.js holds. */
const MAX_REQUESTS = 300_000;
const MAX_SEED = 0xffff_ffff;
const MAX_THREADS = 64;

function day(value: string): string {
  const parsed = daySchemaAt(new Date()).safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues.map((issue) => issue.message).join('; '));
  return value;
}

/** `2026-12-01T00:00Z`: minutes are enough for periods on whole hours. */
function shortInstant(date: Date | string): string {
  return new Date(date).toISOString().slice(0, 16) + 'Z';
}

const PERIOD_NAMES: Readonly<Record<PeriodSource, string>> = { default: 'the default', month: 'the month', range: 'the range given' };

/** What to say when a period has no latency data: the period, where the latest data is, and a range that has it. */
function noDataMessage(from: Date | string, to: Date | string, latestDataHour: string | null, deployment?: string): string {
  const of = deployment ? ` for deployment ${terminalSafe(deployment)}` : '';
  if (latestDataHour === null) return `no data between ${shortInstant(from)} and ${shortInstant(to)}${of}; there is no latency data at all yet\n`;
  const end = Date.parse(latestDataHour) + 3_600_000;
  return (
    `no data between ${shortInstant(from)} and ${shortInstant(to)}${of}; latest data at ${shortInstant(latestDataHour)} (the hour up to ${shortInstant(new Date(end))})\n` +
    `try --from ${shortInstant(new Date(end - 86_400_000))} --to ${shortInstant(new Date(end))}\n`
  );
}

/**
 * The 15th of last month: finance's usual question is last month's bill, and the simulated archive's records
 * (up to 30 hours late) have all arrived by then.
 */
function midLastMonth(): string {
  return `${lastMonth()}-15`;
}

/** How long an interrupted demo waits for its run to stop writing before it removes the temporary folder. */
const RUN_SETTLE_MS = 10_000;

function nextDay(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
}

const EVENTS_HELP = 'gateway events: JSON lines (one Event Hubs body per line), or Event Hubs Capture files (an .avro file or a folder of them)';
const DIAGNOSTICS_HELP = 'Azure OpenAI RequestResponse records: a copy of the storage archive (the folder holding insights-logs-requestresponse/, or that folder), or a Log Analytics export of AzureDiagnostics rows (a file)';
const LLM_LOG_FILE = { option: '--llm-log', kind: 'file', holding: 'ApiManagementGatewayLlmLog records (JSON lines, a JSON array, a query API response or the portal CSV)', text: true, utf16: true } as const;
const PRICES_FILE = { option: '--prices', kind: 'file', holding: 'a price file (as in prices/) or a saved Azure Retail Prices API response', text: true } as const;
const DIRECTORY_FILE = { option: '--directory', kind: 'file', holding: 'identity directory CSV (identity,displayName,team,costCenter[,kind])', text: true } as const;

/** What `analyze` did with the `RequestResponse` records a diagnostic setting streamed into its events file. */
function recordsInEvents(records: number, archiveGiven: boolean): string {
  const counted = `${records} RequestResponse record${records === 1 ? '' : 's'} in the events file`;
  return archiveGiven
    ? `${counted} not joined: the storage archive of --diagnostics is joined instead`
    : `${counted} joined, as the pipeline's ingest stores them for its join (no --diagnostics archive given)`;
}

/** Reasons of dead letters shown on stderr; `--format json` lists them all under `deadLetterReasons`. */
const SHOWN_REASONS = 5;

/**
 * The most frequent reasons why lines of the events file were dead letters, a step each on stderr; `listsAll` names
 * the command whose output lists every reason.
 */
function tellDeadLetters(reasons: readonly ReasonCount[], progress: Progress = createProgress(), listsAll = '--format json'): void {
  for (const { reason, deadLetters } of reasons.slice(0, SHOWN_REASONS)) progress.step(`${deadLetters.toLocaleString('en-US')} dead letter${deadLetters === 1 ? '' : 's'}: ${reason}`);
  const rest = reasons.slice(SHOWN_REASONS);
  if (rest.length === 0) return;
  const count = deadLettersOf(rest);
  progress.step(`${count.toLocaleString('en-US')} dead letter${count === 1 ? '' : 's'} for ${rest.length} other reason${rest.length === 1 ? '' : 's'} (${listsAll} lists every reason)`);
}

/** Requests the price table cannot price, a step per model and deployment on stderr: the costs leave them out. */
function tellUnpriced(unpriced: ChargebackReport['unpriced'], progress: Progress): void {
  for (const { model, deployment, requests } of unpriced) {
    progress.step(`${requests.toLocaleString('en-US')} request${requests === 1 ? '' : 's'} of model ${model} (deployment ${deployment}) not priced: the price table has no price for it, so the costs leave ${requests === 1 ? 'it' : 'them'} out (--format json lists them under unpriced)`);
  }
}

const requestsOption = () => new Option('--requests <n>', `number of simulated requests (at most ${MAX_REQUESTS.toLocaleString('en-US')})`).argParser(positiveInt(MAX_REQUESTS, 'a simulated day is held in memory'));
const seedOption = () =>
  new Option('--seed <n>', 'random seed: the same seed and day give the same traffic').argParser(positiveInt(MAX_SEED, 'the random generator takes 32 bits: a larger seed would repeat the traffic of a smaller one')).default(42);
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

/** Why checks were unavailable: one line per check and reason, with how many results it left ungraded. */
function unavailableLines(checks: readonly CheckResult[]): string {
  const reasons = new Map<string, number>();
  for (const c of checks) {
    if (c.status !== 'unavailable') continue;
    const line = `${c.check} unavailable: ${c.reason ?? 'no reason given'}`;
    reasons.set(line, (reasons.get(line) ?? 0) + 1);
  }
  return [...reasons].map(([line, n]) => `${line} (${n} ${n === 1 ? 'result' : 'results'})\n`).join('');
}

function printSummary(summary: DemoSummary): void {
  const out = process.stdout;
  out.write('\nCost per team\n' + costTable(summary.chargeback.team.rows, 'team', summary.chargeback.team.totals) + '\n');
  out.write('\nCost per identity\n' + costTable(summary.chargeback.identity.rows, 'identity', summary.chargeback.identity.totals) + '\n');
  out.write('\nCost per model\n' + costTable(summary.chargeback.model.rows, 'model', summary.chargeback.model.totals) + '\n');
  const invoice = summary.invoice;
  const amount = (value: string) => roundAmount(value, 4);
  out.write(
    `\nList-price estimate vs Azure's invoice (the simulated cost export) allocated by token share, per team (${invoice.currency})\n` +
      formatTable(
        ['team', 'estimate (list)', 'invoice billed', 'invoice effective', 'billed - estimate', 'effective - estimate'],
        [
          ...invoice.teams.map((r) => [r.team, amount(r.estimate), amount(r.billedCost), amount(r.effectiveCost), amount(r.billedDifference), amount(r.effectiveDifference)]),
          ['(unallocated)', '', amount(invoice.totals.unallocatedBilledCost), amount(invoice.totals.unallocatedEffectiveCost), '', ''],
          ['TOTAL', amount(invoice.totals.estimate), amount(invoice.totals.allocatedBilledCost), amount(invoice.totals.allocatedEffectiveCost), '', ''],
        ],
      ) +
      '\n' +
      invoice.unallocated.map((u) => `unallocated ${amount(u.billedCost)} billed, ${amount(u.effectiveCost)} effective: ${u.reason}\n`).join('') +
      `at most ${amount(invoice.bound.billedCost)} billed may stay unallocated: the share of bypass and unattributed calls in the ground truth\n` +
      'Billed is the negotiated price of the tokens Azure billed; effective adds the PTU reservation amortized over the day.\n',
  );
  out.write('\nTokens per identity\n');
  out.write(
    formatTable(
      ['identity', 'kind', 'requests', 'prompt', 'cached', 'completion', 'reasoning'],
      summary.identities.map((r) => [r.identity, r.kind, r.requests, r.promptTokens, r.cachedTokens, r.completionTokens, r.reasoningTokens]),
    ) + '\n',
  );
  const statuses = new Map<string, Record<CheckStatus, number>>();
  for (const c of summary.reconciliation) {
    const counts = statuses.get(c.check) ?? { ok: 0, warn: 0, fail: 0, unavailable: 0 };
    counts[c.status]++;
    statuses.set(c.check, counts);
  }
  out.write(
    '\nReconciliation (hour x deployment results)\n' +
      formatTable(['check', ...CHECK_STATUSES], [...statuses].map(([check, n]) => [check, ...CHECK_STATUSES.map((status) => n[status])])) +
      '\n' +
      unavailableLines(summary.reconciliation) +
      thresholdLines(),
  );
  const m = summary.sources;
  out.write(
    '\nSource mixes sent through the event hub\n' +
      formatTable(
        ['source mix', 'count'],
        [
          ['requests told by a v1 event only', m.v1],
          ['AI Hub Gateway payloads (en-US timestamps, CRLF-indented)', m.aiHubPayloads],
          ['  of which without cachedTokens (main branch)', m.aiHubWithoutCachedTokens],
          ['AI Hub usage records (token counts as digit strings)', m.aiHubUsageRecords],
          ['  AI Hub payloads and records logged at 12 AM or 12 PM', m.aiHubTwelveOClock],
          ['requests told by a v1 event and APIM GatewayLlmLogs rows', m.v1AndLlmLog],
          ['  of which streams cut short (tokens from the LLM-log rows)', m.v1AndLlmLogInterrupted],
          ['GatewayLlmLogs rows (token and message rows)', m.llmLogRows],
          ['RequestResponse records over Event Hubs', m.requestResponseOverEventHubs],
          ['streams cut short, charged from the LLM log', m.interruptedStreams],
          ...Object.entries(m.ledgerEntriesBySource).map(([source, n]) => [`ledger entries of source ${source}`, n]),
          ...Object.entries(m.requestsByTokenSource).map(([source, n]) => [`requests with tokens from ${source}`, n]),
        ],
      ) +
      '\n',
  );
  const d = summary.delivery;
  out.write(`\nDelivered ${d.events.toLocaleString('en-US')} events in ${d.deliveries} batches (${d.redeliveries} redelivered).\n`);
  for (const batch of d.abandoned) {
    out.write(`Abandoned after the trigger's retries: partition ${batch.partitionId}, events ${batch.from}-${batch.to}: ${terminalSafe(batch.reason)}\n`);
  }
  out.write('\nChecks against the simulator\'s ground truth\n');
  out.write(formatTable(['check', 'expected', 'actual', 'result'], summary.checks.map((c) => [c.name, String(c.expected), String(c.actual), c.ok ? 'ok' : 'FAILED'])) + '\n');
}

/** Why the local API cannot listen on `port` (another Functions host holds 7071 by default), or null when it can. */
async function portTaken(port: number): Promise<string | null> {
  const server = createNetServer();
  const failure = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
    server.once('error', resolve);
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(null)));
  });
  if (!failure) return null;
  const why = failure.code === 'EADDRINUSE' ? 'is in use (another Functions host or demo?)' : `cannot be listened on (${failure.code ?? failure.message})`;
  return `port ${port} of the local API ${why}: stop what holds it, or choose another with --port`;
}

/** Serves the demo's stack (API and dashboard) until Ctrl-C or SIGTERM, printing the tokens and commands to try. */
async function serve(stack: LocalStack, opts: { day: string; port: number }, cleanup: Cleanup, interrupted: Promise<unknown>): Promise<void> {
  const [{ startLocalApi }, { demoTokens }] = await Promise.all([import('../local/local-api.js'), import('../local/token-issuer.js')]);
  const api = await startLocalApi(stack, opts.port).catch(async (error: unknown) => {
    throw new Error((await portTaken(opts.port)) ?? `the local API cannot start on port ${opts.port}: ${error instanceof Error ? error.message : String(error)}`);
  });
  cleanup.add(() => api.stop());
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
      `The simulated month's chargeback CSV, with one HTTP call:`,
      `  curl -H "Authorization: Bearer $FINANCE_TOKEN" "${api.url}/api/chargeback?month=${month}&groupBy=team&format=csv"`,
      'or with one CLI command:',
      `  npx tokenledger report chargeback --api ${api.url} --token "$FINANCE_TOKEN" --month ${month} --group-by team --format csv`,
      `Latency of the simulated day: npx tokenledger report latency --api ${api.url} --token "$OPERATOR_TOKEN" --from ${opts.day} --to ${nextDay(opts.day)}`,
      `Cosmos DB: ${stack.cosmos.endpoint}   Blob: ${stack.azurite.blobEndpoint}   Tables: ${stack.azurite.tableEndpoint}`,
      '',
    ].join('\n'),
  );
  await interrupted;
}

export function buildCli(): Command {
  const program = new Command('tokenledger')
    .description('Per-identity token chargeback and per-region latency for Azure OpenAI behind Azure API Management.')
    .showHelpAfterError()
    // Commander's own messages echo what was typed (an unknown option, a bad argument): escaped like every other.
    .configureOutput({ writeErr: (text) => process.stderr.write(terminalSafeLines(text)), outputError: (text, write) => write(text) })
    .hook('preAction', (_root, action) => {
      const repeated = repeatedOptions(action, process.argv.slice(2));
      if (repeated.length > 0) action.error(`error: option${repeated.length === 1 ? '' : 's'} ${repeated.join(', ')} given more than once; each takes one value`);
    });

  program
    .command('simulate')
    .description('Write a deterministic, realistic day of gateway events, diagnostic archive records, its Azure OpenAI cost export (FOCUS CSV) and ground truth.')
    .addOption(requestsOption().makeOptionMandatory())
    .addOption(seedOption())
    .addOption(dayOption())
    .requiredOption('--out <dir>', 'output folder')
    .option('--faults', 'inject the faults reconciliation must find: lost gateway events and a metrics token drift')
    .action(async (opts: { requests: number; seed: number; day: string; out: string; faults?: boolean }) => {
      await checkOutput(opts.out, { option: '--out', kind: 'folder' });
      const simulated = simulateDay({ requests: opts.requests, seed: opts.seed, day: opts.day, faults: Boolean(opts.faults) });
      await writeSimulation(opts.out, simulated);
      const t = simulated.groundTruth;
      process.stdout.write(
        `wrote ${t.events.lines} event lines (${t.events.duplicates} duplicates, ${t.events.malformed} malformed), ` +
          `${t.diagnostics.records} diagnostic records (${t.diagnostics.bypass} bypass) and a cost export of ${t.invoice.rows.length} rows ` +
          `(BilledCost ${t.invoice.billedCost} ${t.invoice.currency}) to ${opts.out}\n`,
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
    .option('--faults', 'inject the faults reconciliation must find: lost gateway events and a metrics token drift')
    .addOption(new Option('--port <n>', 'port of the local HTTP API (the Functions host default)').argParser(positiveInt(65_535, 'the highest TCP port')).default(7071))
    .action(async (opts: { requests: number; seed: number; day: string; out?: string; json?: string; serve: boolean; port: number; faults?: boolean }) => {
      if (opts.out) await checkOutput(opts.out, { option: '--out', kind: 'folder' });
      if (opts.json) await checkOutput(opts.json, { option: '--json', kind: 'file' });
      // Before minutes of work: the commands the demo prints name this port.
      const taken = opts.serve ? await portTaken(opts.port) : null;
      if (taken) throw new Error(taken);
      const progress = createProgress();
      // Everything the demo holds is released on every way out: success, failure, Ctrl-C or SIGTERM.
      const cleanup = new Cleanup();
      const interrupted = cleanup.signal();
      let stopping = false;
      void interrupted.then(() => (stopping = true));
      /** After an interrupt, the run goes no further than the step it is in. */
      const unlessStopping = () => {
        if (stopping) throw new Error('interrupted');
      };
      let settled: Promise<unknown> = Promise.resolve();
      const work = (async () => {
        const outDir = opts.out ?? (await mkdtemp(joinPath(tmpdir(), 'tokenledger-demo-')));
        if (!opts.out) cleanup.add(() => rm(outDir, { recursive: true, force: true }));
        // After an interrupt, the run may still be writing into the folder: it ends (the stack stopped under it)
        // before the folder goes, or the folder would be written again after its removal.
        cleanup.add(() => Promise.race([settled, new Promise((resolve) => setTimeout(resolve, RUN_SETTLE_MS).unref())]).then(() => {}));
        progress.step('starting the local stack (Cosmos DB server, Azurite)');
        const [{ startLocalStack }, { runDemo }] = await Promise.all([import('../local/local-stack.js'), import('../local/demo.js')]);
        unlessStopping();
        const starting = startLocalStack();
        cleanup.add(async () => (await starting.catch(() => null))?.stop());
        const stack = await starting;
        unlessStopping();
        const ran = await runDemo(stack, { requests: opts.requests, seed: opts.seed, day: opts.day, outDir, faults: Boolean(opts.faults) }, progress);
        // A temporary folder is gone once the run ends: the summary names only a folder given with --out.
        return { stack, summary: { ...ran, outDir: opts.out ?? null } };
      })();
      // After an interrupt, the work fails as the stack stops under it: that failure is expected and dropped.
      const outcome = work.then((value) => ({ value }), (error: unknown) => ({ error }));
      settled = outcome;
      const first = await Promise.race([outcome, interrupted]);
      if (typeof first === 'string') {
        progress.step(`${first}: stopping the local stack and removing temporary files`);
        return cleanup.exitOn(first);
      }
      if ('error' in first) {
        await cleanup.run();
        throw first.error;
      }
      const { stack, summary } = first.value;
      try {
        printSummary(summary);
        if (opts.json) await writeFile(opts.json, JSON.stringify(summary, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value), 2) + '\n');
        process.exitCode = summary.ok ? 0 : 1;
        if (opts.serve) await serve(stack, opts, cleanup, interrupted);
      } finally {
        await cleanup.run();
      }
    });

  program
    .command('reconcile')
    .description('Reconciliation checks over files: gateway events vs RequestResponse records, APIM LLM log and Azure Monitor metrics.')
    .requiredOption('--events <path>', EVENTS_HELP)
    .requiredOption('--diagnostics <path>', DIAGNOSTICS_HELP)
    .option('--llm-log <file>', 'ApiManagementGatewayLlmLog export: JSON lines, a Log Analytics query API response, az JSON or the portal CSV')
    .option('--metrics <file>', 'Azure Monitor metrics response JSON, or a metrics:getBatch body (ProcessedPromptTokens, GeneratedTokens by ModelDeploymentName)')
    .option('--gateway-object-ids <ids>', "comma-separated object ids of the gateway's managed identities")
    .addOption(new Option('--format <format>', 'output format').choices(['json', 'table']).default('table'))
    .action(async (opts: { events: string; diagnostics: string; llmLog?: string; metrics?: string; gatewayObjectIds?: string; format: string }) => {
      const events = await checkEvents(opts.events);
      const diagnostics = await checkDiagnostics(opts.diagnostics);
      if (opts.llmLog) await checkInput(opts.llmLog, LLM_LOG_FILE);
      if (opts.metrics) await checkInput(opts.metrics, { option: '--metrics', kind: 'file', holding: 'Azure Monitor metrics response JSON', text: true, utf16: true });
      const progress = createProgress();
      const gatewayIds = gatewayObjectIds({ GATEWAY_OBJECT_IDS: opts.gatewayObjectIds });
      if (gatewayIds.size === 0) {
        progress.step(
          "no --gateway-object-ids: no record counts as the gateway's own, so the requests check finds no lost gateway event (files from simulate: the id is reconciliation.gatewayObjectId in ground-truth.json)",
        );
      }
      const { checks, deadLetterReasons } = await InputCopies.use(progress, async (copies) =>
        reconcileFiles({
          eventsFile: await copies.eventsFile(events),
          diagnosticsDir: await copies.diagnosticsFolder(diagnostics),
          ...(opts.llmLog ? { llmLogFile: await copies.utf8(opts.llmLog) } : {}),
          ...(opts.metrics ? { metricsFile: await copies.utf8(opts.metrics) } : {}),
          gatewayObjectIds: gatewayIds,
          maxSample: 1000,
        }),
      );
      tellDeadLetters(deadLetterReasons, progress, 'analyze --format json');
      if (opts.format === 'json') {
        const rows = checks.map(({ check, window, deployment, expected, actual, driftPct, status, reason, gatewayOnly, diagnosticsOnly }) => ({
          check,
          window,
          deployment,
          expected,
          actual,
          driftPct,
          status,
          ...(reason !== undefined ? { reason } : {}),
          gatewayOnly,
          diagnosticsOnly,
        }));
        return void process.stdout.write(JSON.stringify({ thresholds: thresholdsReport(), checks: rows }, null, 2) + '\n');
      }
      const flagged = checks.filter((c) => c.status !== 'ok');
      process.stdout.write(
        formatTable(
          ['check', 'window', 'deployment', 'expected', 'actual', 'drift %', 'status', 'gateway only', 'diagnostics only'],
          flagged.map((c) => [c.check, c.window, c.deployment, c.expected ?? '', c.actual, c.driftPct === null ? '' : c.driftPct.toFixed(2), c.status, c.gatewayOnlyCount, c.diagnosticsOnlyCount]),
        ) + `\n${checks.length - flagged.length} of ${checks.length} results ok\n${unavailableLines(checks)}${thresholdLines()}`,
      );
    });

  program
    .command('analyze')
    .description('One-shot chargeback and join over files, with no store: the same domain core as the pipeline.')
    .requiredOption('--events <path>', EVENTS_HELP)
    .option('--diagnostics <path>', DIAGNOSTICS_HELP)
    .option('--prices <file>', 'price file JSON, or a saved Azure Retail Prices API response (Global prices in effect today) (default: the shipped table)')
    .option('--directory <file>', DIRECTORY_FILE.holding)
    .option('--llm-log <file>', 'ApiManagementGatewayLlmLog export: streams cut short take its tokens, as the join does')
    .option('--gateway-object-ids <ids>', 'comma-separated object ids of the gateway identity (never attributed)')
    .addOption(new Option('--threads <n>', `threads that read the events file (fewer for files under 64 MiB a thread; at most ${MAX_THREADS})`).argParser(positiveInt(MAX_THREADS, 'each thread holds buffers of its own')).default(availableParallelism(), 'one per core'))
    .addOption(new Option('--format <format>', 'output format').choices(['json', 'csv', 'table']).default('table'))
    .action(async (opts: { events: string; diagnostics?: string; prices?: string; directory?: string; llmLog?: string; gatewayObjectIds?: string; threads: number; format: string }) => {
      const events = await checkEvents(opts.events);
      const diagnostics = opts.diagnostics ? await checkDiagnostics(opts.diagnostics) : null;
      if (opts.llmLog) await checkInput(opts.llmLog, LLM_LOG_FILE);
      if (opts.prices) await checkInput(opts.prices, PRICES_FILE);
      if (opts.directory) await checkInput(opts.directory, DIRECTORY_FILE);
      const progress = createProgress();
      progress.step(`analysing ${opts.events}`);
      const read = opts.prices ? await readPriceTable(opts.prices) : { table: loadPrices({}) };
      if (read.imported) process.stderr.write(describeImport(read.imported));
      const prices = read.table;
      const result = await InputCopies.use(progress, async (copies) =>
        analyzeFiles({
          eventsFile: await copies.eventsFile(events),
          ...(diagnostics ? { diagnosticsDir: await copies.diagnosticsFolder(diagnostics) } : {}),
          ...(opts.directory ? { directoryCsv: opts.directory } : {}),
          ...(opts.llmLog ? { llmLogFile: await copies.utf8(opts.llmLog) } : {}),
          prices,
          identity: { gatewayObjectIds: gatewayObjectIds({ GATEWAY_OBJECT_IDS: opts.gatewayObjectIds }) },
          threads: opts.threads,
        }),
      );
      progress.step(`${result.entries} requests, ${result.deadLetters} dead letters, ${result.conflictingDuplicates} conflicting duplicates`);
      tellDeadLetters(result.deadLetterReasons, progress);
      tellUnpriced(result.report.unpriced, progress);
      if (result.diagnosticsInEvents > 0) progress.step(recordsInEvents(result.diagnosticsInEvents, Boolean(opts.diagnostics)));
      const t = result.report.totals;
      if (opts.format === 'json') {
        const tokenSources = t.tokenSources;
        process.stdout.write(
          JSON.stringify(
            {
              chargeback: chargebackLineRows(result.lines, result.directory, result.report.currency),
              totals: { requests: t.requests, promptTokens: t.promptTokens, cachedTokens: t.cachedTokens, completionTokens: t.completionTokens, reasoningTokens: t.reasoningTokens, cost: t.cost, currency: result.report.currency, tokenSources },
              deadLetters: result.deadLetters,
              deadLetterReasons: result.deadLetterReasons,
              conflictingDuplicates: result.conflictingDuplicates,
              diagnosticsRejected: result.diagnosticsRejected,
              diagnosticsInEvents: result.diagnosticsInEvents,
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
        process.stdout.write(`\njoin: ${result.join.matched} matched, ${result.join.noDiagnostics} without diagnostics, ${result.join.bypass} bypass; ${result.deadLetters} dead letters, ${result.conflictingDuplicates} conflicting duplicates\n`);
      }
    });

  program
    .command('allocate')
    .description("Allocates Azure's own bill (a Cost Management 'Cost and usage details' export: FOCUS, actual or amortized) to identities, to the cent.")
    .requiredOption('--cost-export <file>', "Cost Management export 'Cost and usage details' (FOCUS, actual or amortized): .csv, .csv.gz or .parquet")
    .requiredOption('--events <path>', EVENTS_HELP)
    .requiredOption('--diagnostics <path>', DIAGNOSTICS_HELP)
    .option('--prices <file>', 'price file JSON whose provisioned entries name the PTU deployments (costs come from the export)')
    .option('--directory <file>', DIRECTORY_FILE.holding)
    .option('--llm-log <file>', 'ApiManagementGatewayLlmLog export: streams cut short take its tokens, as the join does')
    .option('--gateway-object-ids <ids>', 'comma-separated object ids of the gateway identity (never attributed)')
    .addOption(new Option('--format <format>', 'output format').choices(['json', 'csv', 'focus']).default('json'))
    .action(async (opts: { costExport: string; events: string; diagnostics: string; prices?: string; directory?: string; llmLog?: string; gatewayObjectIds?: string; format: string }) => {
      await checkInput(opts.costExport, { option: '--cost-export', kind: 'file', holding: "a Cost Management 'Cost and usage details' export" });
      const events = await checkEvents(opts.events);
      const diagnostics = await checkDiagnostics(opts.diagnostics);
      if (opts.prices) {
        await checkInput(opts.prices, PRICES_FILE);
      }
      const prices = opts.prices ? (await readPriceTable(opts.prices)).table : undefined;
      if (opts.directory) await checkInput(opts.directory, DIRECTORY_FILE);
      if (opts.llmLog) await checkInput(opts.llmLog, LLM_LOG_FILE);
      const progress = createProgress();
      const result = await InputCopies.use(progress, async (copies) =>
        allocateFiles({
          costExportFile: opts.costExport,
          eventsFile: await copies.eventsFile(events),
          diagnosticsDir: await copies.diagnosticsFolder(diagnostics),
          ...(opts.directory ? { directoryCsv: opts.directory } : {}),
          ...(opts.llmLog ? { llmLogFile: await copies.utf8(opts.llmLog) } : {}),
          ...(prices ? { prices } : {}),
          identity: { gatewayObjectIds: gatewayObjectIds({ GATEWAY_OBJECT_IDS: opts.gatewayObjectIds }) },
        }),
      );
      tellDeadLetters(result.deadLetterReasons, progress, 'analyze --format json');
      if (opts.format === 'focus') return void process.stdout.write(allocationFocus(result.allocations, result.directory, prices ? { matcher: new PriceMatcher(prices), currency: prices.currency } : undefined));
      const lines = allocationLines(result.allocations, result.directory);
      if (opts.format === 'csv') return void process.stdout.write(allocationCsv(lines));
      process.stdout.write(JSON.stringify({ allocations: lines, totals: allocationTotals(result.allocations, result) }, null, 2) + '\n');
    });

  const report = program.command('report').description('Reports from the TokenLedger HTTP API (Entra ID bearer token).');
  report
    .command('chargeback')
    .description('Per-identity (or team, cost center, model, deployment) token chargeback for a period.')
    .option('--api <url>', 'TokenLedger API base URL (env TOKENLEDGER_API)', process.env['TOKENLEDGER_API'] ?? 'http://127.0.0.1:7071')
    .option('--token <jwt>', 'bearer token (env TOKENLEDGER_TOKEN)', process.env['TOKENLEDGER_TOKEN'])
    .option('--from <date>', 'start, ISO date or instant (inclusive)')
    .option('--to <date>', 'end, ISO date or instant (exclusive)')
    .option('--month <YYYY-MM>', 'a calendar month instead of --from/--to (default: the current month to date, UTC)')
    .addOption(new Option('--group-by <key>', 'grouping').choices([...GROUP_BY]).default('identity'))
    .addOption(new Option('--format <format>', 'output format').choices(['json', 'csv', 'focus', 'table']).default('table'))
    .addOption(new Option('--basis <basis>', "list prices (the ledger's estimate) or Azure's invoice as the allocate timer stored it").choices([...BASES]).default('list'))
    .option('--out <file>', 'write to a file instead of stdout')
    .action(async (opts: { api: string; token?: string; from?: string; to?: string; month?: string; groupBy: string; format: string; basis: string; out?: string }) => {
      const wire = opts.format === 'table' ? 'json' : opts.format;
      const query = parseReportOptions(chargebackQuerySchemaAt(new Date()), { from: opts.from, to: opts.to, month: opts.month, groupBy: opts.groupBy, format: wire, basis: opts.basis });
      if (opts.out) await checkOutput(opts.out, { option: '--out', kind: 'file' });
      process.stderr.write(`chargeback from ${shortInstant(query.from)} to ${shortInstant(query.to)} (${query.period === 'default' ? 'the current month to date, UTC' : PERIOD_NAMES[query.period]})\n`);
      const period = { from: query.from.toISOString(), to: query.to.toISOString() };
      const response = await fetchReport(opts.api, 'api/chargeback', { ...period, groupBy: opts.groupBy, format: wire, ...(query.basis === 'invoice' ? { basis: 'invoice' } : {}) }, opts.token);
      let text: string;
      if (opts.format === 'table' && query.basis === 'invoice') {
        text = invoiceTables((await answerJson(response)) as InvoiceTableBody);
      } else if (opts.format === 'table') {
        const body = (await answerJson(response)) as { rows: ChargebackRow[]; totals: { cost: string; requests: number }; unpriced?: ChargebackReport['unpriced'] };
        tellUnpriced(body.unpriced ?? [], createProgress());
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
      .option('--from <date>', 'start on a whole UTC hour, ISO date or instant (default: 24 hours before --to)')
      .option('--to <date>', 'end on a whole UTC hour, exclusive (default: the end of the current hour)')
      .option('--deployment <name>', 'one deployment only');
  const period = (opts: { from?: string; to?: string; deployment?: string }) => {
    const query = parseReportOptions(operationsQuerySchemaAt(new Date()), { from: opts.from, to: opts.to, deployment: opts.deployment });
    return { from: query.from.toISOString(), to: query.to.toISOString(), ...(query.deployment ? { deployment: query.deployment } : {}) };
  };
  operationsOptions(report.command('latency').description('p50/p90/p95/p99 service latency, counts, 429 and error rates per region.'))
    .addOption(new Option('--format <format>', 'output format').choices(['json', 'table']).default('table'))
    .action(async (opts: { api: string; token?: string; from?: string; to?: string; deployment?: string; format: string }) => {
      const body = (await answerJson(await fetchReport(opts.api, 'api/latency', { ...period(opts), groupBy: 'region' }, opts.token))) as LatencyReport;
      if (opts.format === 'json') process.stdout.write(JSON.stringify(body, null, 2) + '\n');
      // JSON has no room for a note: it goes to stderr, as for weights.
      if (body.rows.length === 0) return void (opts.format === 'table' ? process.stdout : process.stderr).write(noDataMessage(body.from, body.to, body.latestDataHour, opts.deployment));
      if (opts.format === 'json') return;
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
      const range = period(opts);
      const response = await fetchReport(opts.api, 'api/weights', { ...range, format: 'json' }, opts.token);
      const text = await response.text();
      const body = parseAnswer(response, text) as { from: string; to: string; latestDataHour: string | null; recommendations: WeightsRecommendation[] };
      if (opts.format === 'json') process.stdout.write(text + '\n');
      // JSON, APIM templates and Bicep have no room for a note: it goes to stderr, and no empty template to stdout.
      const none = noDataMessage(body.from, body.to, body.latestDataHour, opts.deployment);
      if (body.recommendations.length === 0) return void (opts.format === 'table' ? process.stdout : process.stderr).write(none);
      if (opts.format === 'json') return;
      if (deployable) {
        const deployment = await fetchReport(opts.api, 'api/weights', { ...range, format: opts.format, apimService: opts.apimService! }, opts.token);
        return void process.stdout.write((await deployment.text()) + '\n');
      }
      // Deployment names, backend ids and regions are outside text: a line break in one would forge a line.
      for (const rec of body.recommendations) {
        const weights = rec.weights.map((w) => ({ ...w, backendId: terminalSafe(w.backendId), regionCode: w.regionCode === null ? null : terminalSafe(w.regionCode), reason: terminalSafe(w.reason) }));
        process.stdout.write(`\n${terminalSafe(rec.deployment)}: ${terminalSafe(rec.explanation)}\n${toWeightsTable(weights).join('\n')}\n`);
      }
    });

  const directory = directoryCommand(async () => {
    const connection = process.env['TOKENLEDGER_TABLES_CONNECTION_STRING'];
    const [{ TableIdentityDirectory }, { directoryFromEnvironment }] = await Promise.all([import('../adapters/tables/table-identity-directory.js'), import('../config/composition-root.js')]);
    const settings = loadDirectorySettings();
    if (!connection && !settings.Tables__endpoint) {
      throw new Error('Tables__endpoint is not set: give --api and a token to go through the API, or set Tables__endpoint (TOKENLEDGER_TABLES_CONNECTION_STRING for a local emulator)');
    }
    const directory = connection ? TableIdentityDirectory.fromConnectionString(connection) : directoryFromEnvironment(settings);
    return { directory, close: async () => {} };
  });
  program.addCommand(directory.copyInheritedSettings(program));
  program.addCommand(pricesCommand().copyInheritedSettings(program));
  program.addCommand(traceCommand().copyInheritedSettings(program));

  // Cosmos DB from the app settings (CosmosDB__accountEndpoint, …); Blob storage from DeadLetters__blobEndpoint, or
  // TOKENLEDGER_BLOB_CONNECTION_STRING for a local emulator.
  const deployedStores = async () => {
    const settings = loadSettings();
    const connection = process.env['TOKENLEDGER_BLOB_CONNECTION_STRING'];
    const [{ BlobServiceClient }, { blobServiceFrom, createCosmosClient, createStores }] = await Promise.all([import('@azure/storage-blob'), import('../config/composition-root.js')]);
    const blobs = connection ? BlobServiceClient.fromConnectionString(connection) : blobServiceFrom(settings);
    const client = createCosmosClient(settings);
    return { ports: createStores(client, settings, blobs), close: async () => client.dispose() };
  };
  program.addCommand(quarantineCommand(deployedStores).copyInheritedSettings(program));
  program.addCommand(deadLettersCommand(deployedStores).copyInheritedSettings(program));

  // Cosmos DB from the app settings, as the function app reaches it.
  const rollup = rollupCommand(async () => {
    const settings = loadSettings();
    const [{ CosmosAggregateStore }, { CONTAINERS, createCosmosClient }] = await Promise.all([import('../adapters/cosmos/cosmos-aggregate-store.js'), import('../config/composition-root.js')]);
    const client = createCosmosClient(settings);
    return { aggregates: new CosmosAggregateStore(client.database(settings.TOKENLEDGER_DATABASE).container(CONTAINERS.aggregates.id)), close: async () => client.dispose() };
  });
  program.addCommand(rollup.copyInheritedSettings(program));

  // Before a command parses its options: parsing would take the flag as the value, or fail on it with another reason.
  for (const parent of commandsWithSubcommands(program)) {
    parent.hook('preSubcommand', (_parent, command) => {
      const refused = flagTakenAsValue(command, process.argv.slice(2));
      if (refused) command.error(`error: ${refused}`);
    });
  }
  return program;
}

function commandsWithSubcommands(command: Command): Command[] {
  return command.commands.length === 0 ? [] : [command, ...command.commands.flatMap(commandsWithSubcommands)];
}

escapeWritesToTerminal(process.stdout);
stopWhenReaderLeaves(process.stdout);
stopWhenReaderLeaves(process.stderr);
buildCli()
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    const message = describeFileError(error) ?? (error instanceof Error ? error.message : String(error));
    process.stderr.write(`tokenledger: ${terminalSafeLines(message)}\n`);
    process.exitCode = 1;
  });
