import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { createIngestHandler, INGEST_TRIGGER } from '../../functions/handlers/ingest-gateway-events.js';
import type { TokenTotals } from '../domain/token-totals.js';
import { identityTokenReport } from '../services/identity-token-report.js';
import type { Progress } from '../cli/progress.js';
import { allocateFiles } from '../services/allocate-files.js';
import { compareAmounts, compareEstimateWithInvoice, type InvoiceComparison } from '../domain/invoice-comparison.js';
import { sumAmounts } from '../domain/invoice-allocation.js';
import { unallocatableShare } from '../simulator/cost-export.js';
import { SIMULATION_FILES, writeSimulation } from '../simulator/files.js';
import { createJoinHandler } from '../../functions/handlers/join-diagnostics.js';
import { ArchiveDiagnosticsSource } from '../adapters/archive/archive-diagnostics-source.js';
import { LlmLogExportUsageSource } from '../adapters/files/llm-log-usage-source.js';
import { FolderArchive } from '../adapters/archive/folder-archive.js';
import { TableWatermarkStore } from '../adapters/tables/table-watermark-store.js';
import type { JoinCounts } from '../domain/join.js';
import { joinCounts } from '../services/join-diagnostics.js';
import { uploadArchive } from './archive-upload.js';
import { createRollupHandler } from '../../functions/handlers/rollup.js';
import { loadPrices, rollupOptionsFrom } from '../config/core-options.js';
import { GROUP_BY, type GroupBy } from '../domain/chargeback.js';
import { formatPicodollars } from '../domain/money.js';
import { chargebackReportFor, type ChargebackReportResult } from '../services/chargeback-report.js';
import { pricingOf } from '../domain/usage-pricing.js';
import { importDirectory } from '../services/import-directory.js';
import { createReconcileHandler } from '../../functions/handlers/reconcile.js';
import { StoredAndFileReconciliationSources } from '../adapters/archive/file-reconciliation-sources.js';
import type { CheckResult } from '../domain/reconciliation.js';
import { fireTimer } from './timer-runner.js';
import { createAllocateTimerHandler } from '../../functions/handlers/allocate-invoice.js';
import { BlobCostExportSource } from '../adapters/blob/blob-cost-export-source.js';
import { storedInvoiceFor } from '../services/invoice-report.js';
import { listRequests, traceRequest } from '../services/request-drilldown.js';
import { simulateDay, type GroundTruth, type SourceMix } from '../simulator/traffic.js';
import { Random } from '../simulator/random.js';
import { TableCheckpointStore } from './checkpoint-store.js';
import { LocalEventHub, runEventHubTrigger } from './event-hub-runner.js';
import type { LocalStack } from './local-stack.js';

export interface DemoOptions {
  readonly requests: number;
  readonly seed: number;
  readonly day: string;
  /** Folder for the simulated files, kept afterwards; without it, a temporary folder removed when the run ends. */
  readonly outDir?: string;
  readonly partitions?: number;
  readonly maxBatchSize?: number;
  readonly redeliveryRate?: number;
  /** Inject the faults reconciliation must find (see `SimulationOptions.faults`). */
  readonly faults?: boolean;
}

export interface DemoCheck {
  readonly name: string;
  readonly expected: number | string;
  readonly actual: number | string;
  readonly ok: boolean;
}

export interface DemoSummary {
  /** The folder of the simulated files, when one was given (a temporary one is gone once the run ends). */
  readonly outDir: string | null;
  readonly groundTruth: GroundTruth;
  /** How many requests or lines of each source mix the simulated day sent through the pipeline. */
  readonly sources: SourceMix & {
    /** What the ledger holds: entries by the source that told them (merged requests count under the better one). */
    readonly ledgerEntriesBySource: Readonly<Record<string, number>>;
    /** Requests by where their tokens came from: the gateway's event or payload, APIM's LLM log, or none. */
    readonly requestsByTokenSource: Readonly<Record<string, number>>;
  };
  readonly delivery: {
    readonly events: number;
    readonly deliveries: number;
    readonly redeliveries: number;
    readonly failures: number;
    /** Batches still failing when the trigger's retries ran out: passed over as the host does, their events lost. */
    readonly abandoned: readonly { readonly partitionId: string; readonly from: number; readonly to: number; readonly reason: string }[];
  };
  readonly ledgerEntries: number;
  readonly deadLetters: number;
  readonly join: JoinCounts;
  readonly chargeback: Readonly<Record<GroupBy, ChargebackReportResult>>;
  readonly reconciliation: readonly CheckResult[];
  readonly identities: readonly TokenTotals[];
  /**
   * The simulated cost export (Azure's invoice) allocated to the identities, next to the ledger's list-price
   * estimate per team; `bound` is what the ground truth allows to stay unallocated (bypass and unattributed calls).
   */
  readonly invoice: InvoiceComparison & { readonly bound: { readonly billedCost: string; readonly effectiveCost: string } };
  readonly checks: readonly DemoCheck[];
  readonly ok: boolean;
}

/** The host hands bodies over as bytes, strings or parsed JSON; the demo (and the benchmark) deliver all three. */
export function asDelivered(line: string, index: number): unknown {
  if (index % 3 === 0) return Buffer.from(line, 'utf8');
  if (index % 3 === 1) return line;
  try {
    return JSON.parse(line);
  } catch {
    return line;
  }
}

function compareIdentities(expected: GroundTruth['identities'], actual: readonly TokenTotals[]): DemoCheck {
  const fields = ['requests', 'promptTokens', 'cachedTokens', 'completionTokens', 'reasoningTokens'] as const;
  const actualById = new Map(actual.map((row) => [row.identity, row]));
  const expectedIds = new Set(expected.map((row) => row.identity));
  const differing = expected.filter((e) => {
    const a = actualById.get(e.identity);
    return !a || fields.some((f) => a[f] !== e[f]);
  }).length;
  const unexpected = actual.filter((row) => !expectedIds.has(row.identity)).length;
  const ok = differing === 0 && unexpected === 0;
  return {
    name: 'per-identity token totals equal ground truth',
    expected: `${expected.length} identities`,
    actual: ok ? `${actual.length} identities` : `${differing} differ, ${unexpected} unexpected`,
    ok,
  };
}

/** How often a long step says it is still running: often enough to show the demo is not stuck. */
const HEARTBEAT_MS = 5_000;

/**
 * Runs one long step (a timer function) with progress: a line when it starts, one every few seconds while it
 * runs, and what the function logged when it ends.
 */
async function longStep(progress: Progress, label: string, work: (log: (message: string) => void) => Promise<void>): Promise<void> {
  progress.step(label);
  const started = Date.now();
  const heartbeat = setInterval(() => progress.step(`  still ${label.split(':')[0]} (${Math.round((Date.now() - started) / 1000)} s)`), HEARTBEAT_MS);
  heartbeat.unref();
  try {
    await work((message) => progress.step(`  ${message}`));
  } finally {
    clearInterval(heartbeat);
  }
}

/** Simulates a day, feeds it through the ingest function on the local stack, and proves the ledger against ground truth. */
/** Small pages, so the demo's drill-down follows a chain of several pages per identity. */
const DRILLDOWN_PAGE_SIZE = 250;

export async function runDemo(stack: LocalStack, options: DemoOptions, progress: Progress): Promise<DemoSummary> {
  if (options.outDir) return runDemoIn(stack, options, options.outDir, progress);
  const outDir = await mkdtemp(joinPath(tmpdir(), 'tokenledger-demo-'));
  try {
    return await runDemoIn(stack, options, outDir, progress);
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

async function runDemoIn(stack: LocalStack, options: DemoOptions, outDir: string, progress: Progress): Promise<DemoSummary> {
  progress.step(`simulating ${options.requests.toLocaleString('en-US')} requests on ${options.day} (seed ${options.seed}) into ${outDir}`);
  const day = simulateDay({ requests: options.requests, seed: options.seed, day: options.day, faults: Boolean(options.faults) });
  await writeSimulation(outDir, day);

  const hub = new LocalEventHub(options.partitions ?? 4);
  const dayStart = Date.parse(`${options.day}T00:00:00Z`);
  // The join waits for Azure's logs to settle, and the simulator delivers late records up to 30 hours after their
  // request: it runs as if at least two days after the simulated day, so a day of this week is joined whole too.
  const logsSettled = () => new Date(Math.max(Date.now(), dayStart + 3 * 86_400_000));
  day.eventLines.forEach((line, index) => hub.send(asDelivered(line, index), line, new Date(dayStart + index)));
  const runId = Date.now();
  const checkpoints = await TableCheckpointStore.create(stack.azurite.connectionString, `demo-${options.seed}-${runId}`);
  const bar = progress.bar('ingesting events through the Event Hubs trigger', hub.eventCount);
  const delivery = await runEventHubTrigger(hub, createIngestHandler(() => stack.stores), {
    functionName: 'ingest',
    dataType: INGEST_TRIGGER.dataType,
    maxRetries: INGEST_TRIGGER.retry.maxRetryCount,
    checkpoints,
    maxBatchSize: options.maxBatchSize ?? 500,
    redeliveryRate: options.redeliveryRate ?? 0.05,
    random: (() => {
      const random = new Random(options.seed + 1);
      return () => random.next();
    })(),
    onBatch: ({ size, redelivered }) => {
      if (!redelivered) bar.increment(size);
    },
  });
  bar.stop();

  progress.step('uploading the diagnostics archive to Blob storage');
  const archive = await uploadArchive(new FolderArchive(joinPath(outDir, SIMULATION_FILES.diagnostics)), stack.azurite.connectionString);
  const joinHandler = createJoinHandler(
    () => ({
      source: new ArchiveDiagnosticsSource(archive, { now: logsSettled }),
      watermarks: TableWatermarkStore.fromConnectionString(stack.azurite.connectionString, 'watermarks'),
      ledger: stack.stores.ledger,
      diagnostics: stack.stores.diagnostics,
      deadLetters: stack.stores.deadLetters,
      aggregates: stack.stores.aggregates,
      // Streams cut short carry no usage in their gateway event: the join takes APIM's LLM-log count, as in Azure.
      llmUsage: new LlmLogExportUsageSource(joinPath(outDir, SIMULATION_FILES.llmLog)),
    }),
    () => ({ graceInMs: stack.settings.JOIN_GRACE_MINUTES * 60_000, watermarkName: `demo-${options.seed}-${runId}`, now: logsSettled }),
  );
  await longStep(progress, 'joining diagnostics to the ledger: the join timer', (log) => fireTimer('join', joinHandler, new Date(), log));
  await longStep(progress, 'joining again: the second run must change nothing', (log) => fireTimer('join', joinHandler, new Date(), log));

  progress.step('importing the identity directory into Table storage');
  const imported = await importDirectory(await readFile(joinPath(outDir, SIMULATION_FILES.directory), 'utf8'), stack.directory);
  if (imported.errors.length > 0) throw new Error(`directory.csv: ${imported.errors.map((e) => `line ${e.line}: ${e.reason}`).join('; ')}`);
  const rollupOptions = rollupOptionsFrom(stack.settings);
  await longStep(progress, 'rolling up usage, latency and traffic tiles: the rollup timer', (log) => fireTimer('rollup', createRollupHandler(() => stack.stores, () => rollupOptions), new Date(), log));

  const reconcileHandler = createReconcileHandler(
    () => ({
      ledger: stack.stores.ledger,
      results: stack.stores.reconciliation,
      watermarks: TableWatermarkStore.fromConnectionString(stack.azurite.connectionString, 'watermarks'),
      sources: new StoredAndFileReconciliationSources(stack.stores.diagnostics, {
        llmLog: joinPath(outDir, SIMULATION_FILES.llmLog),
        metrics: joinPath(outDir, SIMULATION_FILES.metrics),
      }),
    }),
    () => ({
      watermarkName: `reconcile-${options.seed}-${runId}`,
      gatewayObjectIds: new Set([day.groundTruth.reconciliation.gatewayObjectId]),
      // The simulated day is in the past: run as if at its end plus the settle time, covering exactly that day.
      now: () => new Date(dayStart + 86_400_000 + 2 * 3_600_000),
      initialLookbackInMs: 86_400_000,
    }),
  );
  await longStep(progress, 'reconciling the simulated day: the reconciliation timer (stored diagnostics, LLM log and metrics exports)', (log) =>
    fireTimer('reconcile', reconcileHandler, new Date(), log),
  );

  progress.step('reading the ledger back');
  const report = await identityTokenReport(stack.stores.ledger, { from: new Date(dayStart), to: new Date(dayStart + 86_400_000) });
  const range = { from: new Date(dayStart), to: new Date(dayStart + 86_400_000) };
  progress.step('counting join outcomes');
  const join = await joinCounts(stack.stores.ledger, stack.stores.diagnostics, range);
  progress.step('building chargeback reports from the tiles');
  const directory = await stack.directory.getAll();
  const prices = loadPrices(stack.settings);
  const pricing = pricingOf(prices);
  const currency = prices.currency;
  const reports = Object.fromEntries(
    await Promise.all(
      GROUP_BY.map(async (groupBy) => [groupBy, await chargebackReportFor({ aggregates: stack.stores.aggregates, directory, pricing }, { ...range, groupBy, scope: 'all' }, currency)] as const),
    ),
  ) as Record<GroupBy, ChargebackReportResult>;
  const grandTotals = new Set(GROUP_BY.map((g) => reports[g].totals.costPico));
  const rowSums = new Set(GROUP_BY.map((g) => reports[g].rows.reduce((sum, r) => sum + r.costPico, 0n)));
  const tileTokens = new Map(reports.identity.rows.map((r) => [r.key, r]));

  const reconciliation = await stack.stores.reconciliation.listResults(range);

  progress.step('counting ledger entries by source');
  const entriesBySource: Record<string, number> = {};
  for await (const page of stack.stores.ledger.listEntries(range)) for (const entry of page) entriesBySource[entry.source] = (entriesBySource[entry.source] ?? 0) + 1;
  const tokenSources = reports.identity.totals.tokenSources;

  progress.step('counting dead letters');
  let deadLetters = 0;
  for await (const page of stack.stores.deadLetters.listDeadLetters()) deadLetters += page.length;

  const truth = day.groundTruth;
  progress.step("allocating the simulated cost export (Azure's invoice) to identities");
  const allocated = await allocateFiles({
    costExportFile: joinPath(outDir, SIMULATION_FILES.costExport),
    eventsFile: joinPath(outDir, SIMULATION_FILES.events),
    diagnosticsDir: joinPath(outDir, SIMULATION_FILES.diagnostics),
    directoryCsv: joinPath(outDir, SIMULATION_FILES.directory),
    llmLogFile: joinPath(outDir, SIMULATION_FILES.llmLog),
    identity: { gatewayObjectIds: new Set([truth.reconciliation.gatewayObjectId]) },
  });
  const compared = compareEstimateWithInvoice(
    reports.team.rows.map((row) => ({ team: row.key, costPico: row.costPico })),
    allocated.allocations,
    allocated.directory,
    currency,
  );
  const bound = {
    billedCost: sumAmounts(truth.invoice.rows.map((r) => unallocatableShare(r.billedCost, r.tokens, r.unallocatableTokens))),
    effectiveCost: sumAmounts(truth.invoice.rows.map((r) => unallocatableShare(r.effectiveCost, r.tokens, r.unallocatableTokens))),
  };
  const invoice = { ...compared, bound };

  progress.step('uploading the simulated cost export to Blob storage, where a Cost Management export writes');
  const exportContainer = stack.blobs.getContainerClient(stack.settings.COST_EXPORT_CONTAINER);
  await exportContainer.createIfNotExists();
  const days = options.day.replaceAll('-', '');
  const exportName = `focus/tokenledger-demo/${days}-${days}/${runId}/part_0_0001.csv`;
  const exportBytes = await readFile(joinPath(outDir, SIMULATION_FILES.costExport));
  await exportContainer.getBlockBlobClient(exportName).uploadData(exportBytes, { blobHTTPHeaders: { blobContentType: 'text/csv' } });
  // Written last, as Cost Management writes it once the run's partitions are.
  const blobs = [{ blobName: exportName, byteCount: exportBytes.length, dataRowCount: day.costExportRows }];
  const manifest = JSON.stringify({ manifestVersion: '2024-04-01', byteCount: exportBytes.length, blobCount: 1, dataRowCount: day.costExportRows, blobs });
  await exportContainer.getBlockBlobClient(exportName.replace(/[^/]+$/, 'manifest.json')).uploadData(Buffer.from(manifest), { blobHTTPHeaders: { blobContentType: 'application/json' } });
  const allocateHandler = createAllocateTimerHandler(
    () => ({ exports: new BlobCostExportSource(exportContainer), ledger: stack.stores.ledger, diagnostics: stack.stores.diagnostics, allocations: stack.stores.invoiceAllocations }),
    () => ({ identity: { gatewayObjectIds: new Set([truth.reconciliation.gatewayObjectId]) } }),
  );
  await longStep(progress, "allocating the cost export over the ledger: the allocate timer", (log) => fireTimer('allocate', allocateHandler, new Date(), log));
  const stored = await storedInvoiceFor(stack.stores.invoiceAllocations, range);
  const storedTeams = compareEstimateWithInvoice(
    reports.team.rows.map((row) => ({ team: row.key, costPico: row.costPico })),
    stored.allocations,
    directory,
    currency,
  );
  const drilldown = {
    ledger: stack.stores.ledger,
    diagnostics: stack.stores.diagnostics,
    directory,
    pricing,
    currency,
    identity: { gatewayObjectIds: new Set([truth.reconciliation.gatewayObjectId]) },
  };
  const mostExpensive = [...reports.identity.rows].sort((a, b) => (a.costPico === b.costPico ? 0 : a.costPico > b.costPico ? -1 : 1)).slice(0, 3);
  let drilled: { requests: number; costPico: bigint; traced: number; ok: boolean }[] = [];
  await longStep(progress, 'following the three most expensive identities to their requests: page by page, and one trace each', async (log) => {
    drilled = await Promise.all(mostExpensive.map(async (row) => {
      let requests = 0;
      let costPico = 0n;
      let traced = 0;
      let after = null;
      do {
        const page = await listRequests(drilldown, { ...range, filter: { identity: row.key }, pageSize: DRILLDOWN_PAGE_SIZE, after, scope: 'all' });
        requests += page.items.length;
        for (const item of page.items) costPico += BigInt(item.costPicodollars);
        if (traced === 0 && page.items[0]) {
          const trace = await traceRequest(drilldown, page.items[0].gatewayRequestId, 'all');
          if (trace && trace.request.id === page.items[0].id && trace.cost.costPicodollars === page.items[0].costPicodollars) traced = 1;
        }
        after = page.next;
      } while (after !== null);
      log(`${row.key}: ${requests} requests over the pages`);
      return { requests, costPico, traced, ok: requests === row.requests && costPico === row.costPico && traced === 1 };
    }));
  });
  const teamFigures = (c: InvoiceComparison) => JSON.stringify([c.teams, c.unallocated, c.totals]);
  const t = compared.totals;
  const checks: DemoCheck[] = [
    { name: 'ledger entries = distinct valid requests', expected: truth.ledgerEntries, actual: report.entries, ok: report.entries === truth.ledgerEntries },
    { name: 'dead letters = distinct malformed events', expected: truth.deadLetters, actual: deadLetters, ok: deadLetters === truth.deadLetters },
    {
      // APIM LLM-log lines merge into the request their v1 event tells; RequestResponse lines are diagnostics.
      name: 'ledger entries + dead letters + merged LLM-log lines + diagnostic lines = distinct events in',
      expected: truth.events.distinct,
      actual: report.entries + deadLetters + truth.events.llmLogLines + truth.events.diagnosticLines,
      ok: report.entries + deadLetters + truth.events.llmLogLines + truth.events.diagnosticLines === truth.events.distinct,
    },
    compareIdentities(truth.identities, report.rows),
    {
      name: 'AI Hub payloads and usage records = ledger entries of source ai-hub-gateway',
      expected: truth.sources.aiHubPayloads + truth.sources.aiHubUsageRecords,
      actual: entriesBySource['ai-hub-gateway'] ?? 0,
      ok: (entriesBySource['ai-hub-gateway'] ?? 0) === truth.sources.aiHubPayloads + truth.sources.aiHubUsageRecords,
    },
    {
      // From the LLM-log rows on the event hub (merged at ingest) or from the LLM-log export (taken by the join).
      name: 'streams cut short = requests charged from the LLM log',
      expected: truth.sources.interruptedStreams,
      actual: tokenSources['llm-log'],
      ok: tokenSources['llm-log'] === truth.sources.interruptedStreams,
    },
    ...(['matched', 'noDiagnostics', 'bypass'] as const).map((k) => ({ name: `join: ${k}`, expected: truth.join[k], actual: join[k], ok: truth.join[k] === join[k] })),
    {
      name: 'the report from usage tiles holds the ground-truth tokens per identity',
      expected: `${truth.identities.length} identities`,
      actual: `${truth.identities.filter((t) => tileTokens.get(t.identity)?.promptTokens === t.promptTokens && tileTokens.get(t.identity)?.completionTokens === t.completionTokens).length} match`,
      ok: truth.identities.every((t) => tileTokens.get(t.identity)?.promptTokens === t.promptTokens && tileTokens.get(t.identity)?.completionTokens === t.completionTokens),
    },
    {
      name: 'cost by identity = by team = by cost center = by model = by deployment (exact)',
      expected: formatPicodollars(reports.identity.totals.costPico, 12),
      actual: grandTotals.size === 1 && rowSums.size === 1 && [...rowSums][0] === [...grandTotals][0] ? formatPicodollars([...grandTotals][0]!, 12) : 'differs',
      ok: grandTotals.size === 1 && rowSums.size === 1 && [...rowSums][0] === [...grandTotals][0],
    },
    ...(['billedCost', 'effectiveCost'] as const).map((cost) => {
      const name = cost === 'billedCost' ? 'BilledCost' : 'EffectiveCost';
      const parts = cost === 'billedCost' ? t.allocatedBilledCost : t.allocatedEffectiveCost;
      const ok = compareAmounts(t[cost], truth.invoice[cost]) === 0 && compareAmounts(parts, truth.invoice[cost]) === 0;
      return { name: `invoice allocation: identities + unallocated = the cost export's ${name} (exact)`, expected: truth.invoice[cost], actual: ok ? parts : `${parts} of rows summing to ${t[cost]}`, ok };
    }),
    {
      name: 'invoice allocation: unallocated <= the bypass and unattributed share (BilledCost; EffectiveCost)',
      expected: `<= ${bound.billedCost}; <= ${bound.effectiveCost}`,
      actual: `${t.unallocatedBilledCost}; ${t.unallocatedEffectiveCost}`,
      ok: compareAmounts(t.unallocatedBilledCost, bound.billedCost) <= 0 && compareAmounts(t.unallocatedEffectiveCost, bound.effectiveCost) <= 0,
    },
    {
      name: 'invoice allocation stored by the allocate timer = the offline allocation, per team and unallocated reason (exact)',
      expected: `${compared.teams.length} teams, ${t.allocatedBilledCost} billed`,
      actual: teamFigures(storedTeams) === teamFigures(compared) ? `${storedTeams.teams.length} teams, ${storedTeams.totals.allocatedBilledCost} billed` : `differs: ${storedTeams.teams.length} teams, ${storedTeams.totals.allocatedBilledCost} billed`,
      ok: teamFigures(storedTeams) === teamFigures(compared) && stored.exports.includes(exportName),
    },
    {
      name: `3 most expensive identities: request pages (${DRILLDOWN_PAGE_SIZE} each) = report requests and cost; trace = listed cost`,
      expected: mostExpensive.map((r) => `${r.requests} requests, ${formatPicodollars(r.costPico, 12)}`).join('; '),
      actual: drilled.map((d) => `${d.requests} requests, ${formatPicodollars(d.costPico, 12)}${d.traced ? '' : ', trace differs'}`).join('; '),
      ok: mostExpensive.length > 0 && drilled.every((d) => d.ok),
    },
  ];
  return {
    outDir: options.outDir ?? null,
    groundTruth: truth,
    sources: { ...truth.sources, ledgerEntriesBySource: entriesBySource, requestsByTokenSource: tokenSources },
    delivery: {
      ...delivery,
      events: hub.eventCount,
      abandoned: delivery.abandoned.map(({ error, ...batch }) => ({ ...batch, reason: error instanceof Error ? error.message : String(error) })),
    },
    ledgerEntries: report.entries,
    deadLetters,
    join,
    chargeback: reports,
    reconciliation,
    identities: report.rows,
    invoice,
    checks,
    ok: checks.every((c) => c.ok),
  };
}
