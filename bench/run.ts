/**
 * `npm run bench [-- --events N --json FILE]`: the performance figures of TokenLedger, measured, printed as a
 * table and written as JSON. See bench/README.md for what each figure means and how it is measured.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadPriceTable, type PriceFile } from '../src/contracts/price-table.js';
import type { AnalyzeResult } from '../src/services/analyze-files.js';
import { analyzeFiles } from './shipped.js';
import { measureBytes, measureCompute, measureDeadLetters, measureStages, readLines, type BytesFigure, type ComputeFigure, type DeadLetterFigure, type StageFigure } from './compute.js';
import { duckdbChargeback, type DuckChargeback } from './duckdb-chargeback.js';
import { generateEvents, type GeneratedEvents } from './generate.js';
import { measureJoinQueries, type JoinQueryRun } from './join-queries.js';
import { profileAnalyze, type ProfileSummary } from './profile.js';
import { headLines, rssGrowthOf, type RssFigure } from './rss.js';
import { median, round } from './stats.js';
import { measureScale, type ScaleRun } from './scale.js';
import { measureStoreWrites, type StoreWritesRun } from './store-writes.js';

const SECTIONS = ['compute', 'analyze', 'rss', 'store', 'join', 'scale'] as const;
type Section = (typeof SECTIONS)[number];

const HELP = `npm run bench -- [options]

  --events N           simulated gateway events in the JSONL file (default 1000000)
  --json FILE          also write the figures as JSON to FILE
  --store-events N     events for the local-stack write count and the larger join size (default 50000)
  --document-identities N  identities calling every day of the month for maxDocumentBytes (default 100000)
  --report-identities N    identities of the month whose report monthReportReads counts (default 10000)
  --compute-lines N    lines held in memory for the compute/JSON.parse figure (default min(events, 200000))
  --rounds N           interleaved rounds of the compute figure (default 5)
  --analyze-rounds N   rounds of analyze and DuckDB after the first call of each (default 3, or 2 above 250,000 events)
  --rss-runs N         fresh processes of each size for the peak RSS figure, whose medians count (default 3)
  --duckdb-one-thread  also run DuckDB once with one thread (wall-clock per-core comparison)
  --only LIST          comma-separated sections: ${SECTIONS.join(',')} (default: all)
  --dir DIR            working directory, kept afterwards; an events file generated there before is reused
                       (default: a new temporary directory, removed afterwards)
  --keep               keep the temporary working directory
  --no-profile         skip the CPU profile of analyzeFiles
  --help`;

const PRICES_FILE = fileURLToPath(new URL('../prices/default-prices.json', import.meta.url));

interface Target {
  readonly target: string;
  readonly met: boolean | null;
}

function integer(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const n = Number(value.replace(/_/g, ''));
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${value}`);
  return n;
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const mib = (kib: number) => `${fmt(kib / 1024)} MiB`;
const log = (text: string) => process.stderr.write(`• ${text}\n`);

/** Wall time and the process' CPU time (all threads: DuckDB's and worker threads included). */
async function timedAsync<T>(run: () => Promise<T>): Promise<{ result: T; seconds: number; cpuSeconds: number }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const result = await run();
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { result, seconds, cpuSeconds: (used.user + used.system) / 1e6 };
}

/** Per-identity tokens and exact cost of TokenLedger's lines against DuckDB's rows; empty when identical. */
function chargebackMismatches(outcome: Pick<AnalyzeResult, 'lines'>, duck: DuckChargeback): string[] {
  const ours = new Map<string, { requests: number; promptTokens: number; cachedTokens: number; completionTokens: number; reasoningTokens: number; costPico: bigint }>();
  for (const line of outcome.lines) {
    const sum = ours.get(line.identity) ?? { requests: 0, promptTokens: 0, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0, costPico: 0n };
    sum.requests += line.requests;
    sum.promptTokens += line.promptTokens;
    sum.cachedTokens += line.cachedTokens;
    sum.completionTokens += line.completionTokens;
    sum.reasoningTokens += line.reasoningTokens;
    sum.costPico += line.costPico;
    ours.set(line.identity, sum);
  }
  const out: string[] = [];
  for (const key of new Set([...ours.keys(), ...duck.byIdentity.keys()])) {
    const a = ours.get(key);
    const b = duck.byIdentity.get(key);
    if (!a || !b) out.push(`${key}: only in ${a ? 'TokenLedger' : 'DuckDB'}`);
    else if (a.requests !== b.requests || a.promptTokens !== b.promptTokens || a.cachedTokens !== b.cachedTokens || a.completionTokens !== b.completionTokens || a.reasoningTokens !== b.reasoningTokens || a.costPico !== b.costPico) {
      out.push(`${key}: TokenLedger ${a.requests} req ${a.costPico} pico, DuckDB ${b.requests} req ${b.costPico} pico`);
    }
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      events: { type: 'string' },
      json: { type: 'string' },
      'store-events': { type: 'string' },
      'compute-lines': { type: 'string' },
      'document-identities': { type: 'string' },
      'report-identities': { type: 'string' },
      rounds: { type: 'string' },
      'analyze-rounds': { type: 'string' },
      'rss-runs': { type: 'string' },
      only: { type: 'string' },
      dir: { type: 'string' },
      keep: { type: 'boolean', default: false },
      'no-profile': { type: 'boolean', default: false },
      'duckdb-one-thread': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const events = integer(values.events, 1_000_000, 'events');
  const storeEvents = integer(values['store-events'], 50_000, 'store-events');
  const computeLines = integer(values['compute-lines'], Math.min(events, 200_000), 'compute-lines');
  const rounds = integer(values.rounds, 5, 'rounds');
  const documentIdentities = integer(values['document-identities'], 100_000, 'document-identities');
  const reportIdentities = integer(values['report-identities'], 10_000, 'report-identities');
  const analyzeRounds = integer(values['analyze-rounds'], events > 250_000 ? 2 : 3, 'analyze-rounds');
  const rssRuns = integer(values['rss-runs'], 3, 'rss-runs');
  const only = new Set<Section>(values.only ? (values.only.split(',').map((s) => s.trim()) as Section[]) : SECTIONS);
  for (const section of only) if (!SECTIONS.includes(section)) throw new Error(`unknown section ${section}; expected ${SECTIONS.join(', ')}`);

  const dir = values.dir ? resolve(values.dir) : await mkdtemp(join(tmpdir(), 'tokenledger-bench-'));
  await mkdir(dir, { recursive: true });
  const machine = {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cpus: cpus().length,
    availableParallelism: availableParallelism(),
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAverageAtStart: loadavg().map((l) => round(l, 2)),
    loadAverageAtEnd: [] as number[],
  };
  const pricesJson = JSON.parse(await readFile(PRICES_FILE, 'utf8')) as PriceFile;
  const prices = loadPriceTable(pricesJson);
  const startedAll = performance.now();

  try {
    const needsFile = only.has('compute') || only.has('analyze') || only.has('rss');
    let generated: GeneratedEvents | null = null;
    const eventsFile = join(dir, `events-${events}.jsonl`);
    if (needsFile) {
      const marker = `${eventsFile}.done`;
      if (existsSync(marker)) {
        generated = JSON.parse(await readFile(marker, 'utf8')) as GeneratedEvents;
        log(`reusing ${fmt(generated.lines)} events in ${eventsFile}`);
      } else {
        log(`generating ${fmt(events)} events into ${eventsFile} (simulated days of 100,000 requests)`);
        generated = await generateEvents(eventsFile, events);
        await writeFile(marker, JSON.stringify(generated));
        log(`generated ${fmt(generated.bytes / 2 ** 20)} MiB in ${fmt(generated.seconds, 1)} s`);
      }
    }

    // 1. Compute path against JSON.parse.
    let compute: ComputeFigure | null = null;
    let stages: StageFigure[] | null = null;
    let bytes: BytesFigure | null = null;
    let deadLetters: DeadLetterFigure | null = null;
    if (only.has('compute')) {
      log(`compute path vs JSON.parse: ${fmt(computeLines)} lines in memory, ${rounds} interleaved rounds on one thread`);
      let lines: string[] | null = await readLines(eventsFile, computeLines);
      compute = measureCompute(lines, prices, rounds);
      const stageLines = lines.slice(0, Math.min(lines.length, 100_000));
      lines = null;
      log(`where the time goes: cumulative stages over ${fmt(stageLines.length)} lines, 3 rounds`);
      stages = measureStages(stageLines, prices, 3);
      log(`bodies as bytes, as the trigger delivers them, against the same lines as text: ${fmt(stageLines.length)} lines, 3 rounds`);
      bytes = measureBytes(stageLines, prices, 3);
      log(`lines that become dead letters against the others: ${fmt(stageLines.length)} lines, 3 rounds`);
      deadLetters = measureDeadLetters(stageLines, prices, 3);
    }

    // 2. analyzeFiles against DuckDB.
    let analyze: {
      readonly sequentialSeconds: number[];
      readonly duckdbSeconds: number[];
      readonly sequentialCpuSeconds: number[];
      readonly duckdbCpuSeconds: number[];
      readonly duckdbOneThreadSeconds: number | null;
      readonly duckdbThreads: number;
      readonly analyzeThreads: number;
      readonly analyzeOneThreadSeconds: number;
      readonly analyzeOneThreadCpuSeconds: number;
      readonly firstCallSeconds: { readonly analyzeFiles: number; readonly duckdb: number };
      readonly ratios: number[];
      readonly totalPico: string;
      readonly duckdbTotalPico: string;
      readonly totalsIdentical: boolean;
      readonly perIdentityMismatches: string[];
      readonly entries: number;
      readonly deadLetters: number;
    } | null = null;
    let profile: ProfileSummary | null = null;
    if (only.has('analyze')) {
      // The rounds compare a process that has analysed before: analyzeFiles keeps its worker threads, loaded and
      // optimised, between analyses. The first call of each is timed on its own, as a one-shot command meets it.
      log('analyzeFiles and DuckDB: the first call of each in this process, before the rounds');
      const firstAnalyze = await timedAsync(() => analyzeFiles({ eventsFile, prices }));
      const firstDuck = await duckdbChargeback(eventsFile, PRICES_FILE);
      log(`first call: analyzeFiles ${fmt(firstAnalyze.seconds, 2)} s, DuckDB ${fmt(firstDuck.seconds, 2)} s`);
      log(`analyzeFiles vs DuckDB: ${analyzeRounds} rounds, order alternating`);
      const sequentialSeconds: number[] = [];
      const duckdbSeconds: number[] = [];
      const sequentialCpuSeconds: number[] = [];
      const duckdbCpuSeconds: number[] = [];
      let sequential: AnalyzeResult | undefined;
      let duck: DuckChargeback | undefined;
      const runs: Record<string, () => Promise<void>> = {
        analyzeFiles: async () => {
          const run = await timedAsync(() => analyzeFiles({ eventsFile, prices }));
          sequential = run.result;
          sequentialSeconds.push(run.seconds);
          sequentialCpuSeconds.push(run.cpuSeconds);
        },
        duckdb: async () => {
          const run = await timedAsync(() => duckdbChargeback(eventsFile, PRICES_FILE));
          duck = run.result;
          duckdbSeconds.push(duck.seconds);
          duckdbCpuSeconds.push(run.cpuSeconds);
        },
      };
      const names = Object.keys(runs);
      for (let r = 0; r < analyzeRounds; r++) {
        for (let i = 0; i < names.length; i++) {
          const name = names[(i + r) % names.length]!;
          await runs[name]!();
        }
        log(`round ${r + 1}: analyzeFiles ${fmt(sequentialSeconds.at(-1)!, 2)} s, DuckDB ${fmt(duckdbSeconds.at(-1)!, 2)} s`);
      }
      log('analyzeFiles on one thread (once), to show what the worker threads add');
      const analyzeOneThread = await timedAsync(() => analyzeFiles({ eventsFile, prices, threads: 1 }));
      let oneThread: DuckChargeback | null = null;
      if (values['duckdb-one-thread']) {
        log('DuckDB on one thread (once), for a per-core comparison');
        oneThread = await duckdbChargeback(eventsFile, PRICES_FILE, 1);
      }
      const seq = sequential!;
      const duckResult = duck!;
      analyze = {
        sequentialSeconds,
        duckdbSeconds,
        sequentialCpuSeconds,
        duckdbCpuSeconds,
        duckdbOneThreadSeconds: oneThread?.seconds ?? null,
        duckdbThreads: duckResult.threads,
        analyzeThreads: availableParallelism(),
        analyzeOneThreadSeconds: analyzeOneThread.seconds,
        analyzeOneThreadCpuSeconds: analyzeOneThread.cpuSeconds,
        firstCallSeconds: { analyzeFiles: firstAnalyze.seconds, duckdb: firstDuck.seconds },
        ratios: sequentialSeconds.map((s, i) => duckdbSeconds[i]! / s),
        totalPico: seq.report.totals.costPico.toString(),
        duckdbTotalPico: duckResult.totalPico.toString(),
        totalsIdentical:
          seq.report.totals.costPico === duckResult.totalPico &&
          analyzeOneThread.result.report.totals.costPico === duckResult.totalPico &&
          (oneThread === null || oneThread.totalPico === duckResult.totalPico),
        perIdentityMismatches: chargebackMismatches(seq, duckResult),
        entries: seq.entries,
        deadLetters: seq.deadLetters,
      };
    }

    // 4. Peak RSS of analyzeFiles at N and N/10, each in a fresh process.
    let rss: (RssFigure & { oneThread: RssFigure }) | null = null;
    const headFile = async (lines: number) => {
      const file = join(dir, `events-${events}-head-${lines}.jsonl`);
      if (!existsSync(file)) await headLines(eventsFile, file, lines);
      return file;
    };
    if (only.has('rss')) {
      const smallEvents = Math.max(1, Math.floor(events / 10));
      const threads = availableParallelism();
      const sizes = [{ file: await headFile(smallEvents), events: smallEvents }, { file: eventsFile, events }] as const;
      log(`peak RSS of analyzeFiles: ${fmt(smallEvents)} and ${fmt(events)} events on ${threads} threads at both sizes, ${rssRuns} fresh processes of each`);
      const figure = await rssGrowthOf(...sizes, threads, rssRuns);
      log('the same on one thread at both sizes (the growth of the streaming analysis alone)');
      rss = { ...figure, oneThread: await rssGrowthOf(...sizes, 1, rssRuns) };
    }
    // The CPU profile of analyzeFiles, on up to 100,000 events (enough for a stable picture).
    if (only.has('analyze') && !values['no-profile']) {
      const profileEvents = Math.min(events, 100_000);
      log(`CPU profile of analyzeFiles over ${fmt(profileEvents)} events (V8 sampling profiler, child process)`);
      profile = await profileAnalyze(profileEvents === events ? eventsFile : await headFile(profileEvents));
    }

    // 3a. Cosmos DB writes per event on the local stack.
    let store: StoreWritesRun | null = null;
    if (only.has('store')) {
      log(`Cosmos DB writes: ingest + rollup of ${fmt(storeEvents)} events on the local stack, through a counting proxy`);
      store = await measureStoreWrites({ events: storeEvents, seed: 42, day: '2026-11-20' });
    }

    // 3b. Log Analytics queries of the join at two sizes.
    let join10k: JoinQueryRun[] | null = null;
    if (only.has('join')) {
      const sizes = [Math.max(1_000, Math.round(storeEvents / 5)), storeEvents];
      log(`Log Analytics queries of the join: ${sizes.map((s) => fmt(s)).join(' and ')} events against a local fake`);
      join10k = [];
      for (const size of sizes) join10k.push(await measureJoinQueries(Math.round(size / 1.0306), 11, '2026-11-20'));
    }
    // 3c. Document sizes, partitions and report reads at enterprise scale.
    let scale: ScaleRun | null = null;
    if (only.has('scale')) {
      log(`store scale: a month of ${fmt(documentIdentities)} and of ${fmt(reportIdentities)} identities rolled up, and one simulated day's ledger partitions`);
      scale = await measureScale({ documentIdentities, reportIdentities, partitionRequests: storeEvents, prices: pricesJson });
    }
    machine.loadAverageAtEnd = loadavg().map((l) => round(l, 2));

    // Figures, targets, table, JSON.
    const analyzeVsDuckdb = analyze ? median(analyze.ratios) : null;
    const joinIndependent = join10k ? new Set(join10k.map((j) => j.queries)).size === 1 : null;
    const targets: Record<string, Target> = {
      computeVsJsonParse: { target: '>= 0.6', met: compute ? compute.computeVsJsonParse >= 0.6 : null },
      analyzeVsDuckdb: { target: '>= 1.0 (both on all cores, wall clock)', met: analyzeVsDuckdb === null ? null : analyzeVsDuckdb >= 1 },
      totalsIdentical: { target: 'true', met: analyze ? analyze.totalsIdentical && analyze.perIdentityMismatches.length === 0 : null },
      storeWritesPerEvent: { target: '<= 1.2', met: store ? store.storeWritesPerEvent <= 1.2 : null },
      joinQueriesPer10k: { target: 'query count independent of event count', met: joinIndependent },
      rssGrowth: { target: '<= 1.5', met: rss ? rss.rssGrowth <= 1.5 : null },
      maxDocumentBytes: { target: '<= 1048576', met: scale ? scale.documents.largestDocumentBytes <= 1_048_576 : null },
      hotPartitionShare: { target: '<= 0.05', met: scale ? scale.partitions.hotPartitionShare <= 0.05 : null },
      monthReportReads: { target: '<= 1000', met: scale ? scale.report.reportReads! <= 1000 : null },
    };
    const summary = {
      computeVsJsonParse: compute ? round(compute.computeVsJsonParse) : null,
      computeVsJsonParseCpu: compute ? round(compute.computeVsJsonParseCpu) : null,
      computeEventsPerSecPerCore: compute ? Math.round(compute.computeEventsPerSecPerCore) : null,
      jsonParseEventsPerSecPerCore: compute ? Math.round(compute.jsonParseEventsPerSecPerCore) : null,
      computeWorkerThreads: false,
      analyzeVsDuckdb: analyzeVsDuckdb === null ? null : round(analyzeVsDuckdb),
      analyzeVsDuckdbFirstCall: analyze ? round(analyze.firstCallSeconds.duckdb / analyze.firstCallSeconds.analyzeFiles) : null,
      analyzeVsDuckdbOneThread: analyze?.duckdbOneThreadSeconds ? round(analyze.duckdbOneThreadSeconds / analyze.analyzeOneThreadSeconds) : null,
      analyzeOneThreadVsDuckdb: analyze ? round(median(analyze.duckdbSeconds) / analyze.analyzeOneThreadSeconds) : null,
      analyzeVsDuckdbCpu: analyze ? round(median(analyze.duckdbCpuSeconds.map((d, i) => d / analyze!.sequentialCpuSeconds[i]!))) : null,
      totalsIdentical: targets['totalsIdentical']!.met,
      grandTotalPico: analyze?.totalPico ?? null,
      storeWritesPerEvent: store ? round(store.storeWritesPerEvent) : null,
      joinQueriesPer10k: join10k ? round(join10k.at(-1)!.queriesPer10k, 2) : null,
      joinQueriesPer10kBySize: join10k ? Object.fromEntries(join10k.map((j) => [String(j.events), round(j.queriesPer10k, 2)])) : null,
      joinQueriesBySize: join10k ? Object.fromEntries(join10k.map((j) => [String(j.events), j.queries])) : null,
      joinQueriesIndependentOfEvents: joinIndependent,
      rssGrowth: rss ? round(rss.rssGrowth) : null,
      rssGrowthOneThread: rss ? round(rss.oneThread.rssGrowth) : null,
      maxDocumentBytes: scale ? scale.documents.largestDocumentBytes : null,
      maxDocumentBytesIdentities: scale ? scale.documents.identities : null,
      hotPartitionShare: scale ? round(scale.partitions.hotPartitionShare, 4) : null,
      recordHotPartitionShare: scale ? round(scale.partitions.records.hotPartitionShare, 4) : null,
      monthReportReads: scale ? scale.report.reportReads : null,
      monthReportIdentities: scale ? scale.report.identities : null,
    };
    const json = {
      ...summary,
      events: generated?.lines ?? null,
      targets,
      machine,
      seconds: round((performance.now() - startedAll) / 1000, 1),
      details: {
        generated,
        compute: compute && { ...compute, totals: { ...compute.totals, costPico: compute.totals.costPico.toString() } },
        computeFromBytes: bytes,
        computeDeadLetters: deadLetters,
        computeStages: stages,
        analyze: analyze && {
          ...analyze,
          medianSeconds: { analyzeFiles: median(analyze.sequentialSeconds), duckdb: median(analyze.duckdbSeconds), duckdbOneThread: analyze.duckdbOneThreadSeconds },
          medianCpuSeconds: { analyzeFiles: median(analyze.sequentialCpuSeconds), duckdb: median(analyze.duckdbCpuSeconds) },
          analyzeFilesEventsPerSec: (generated?.lines ?? 0) / median(analyze.sequentialSeconds),
        },
        analyzeProfile: profile,
        rss,
        store,
        join: join10k,
        scale,
      },
    };

    const rows: [string, string, string, string][] = [];
    const met = (key: string) => {
      const m = targets[key]?.met;
      return m === null || m === undefined ? '' : m ? 'met' : 'MISSED';
    };
    if (compute) {
      rows.push(['computeVsJsonParse', fmt(compute.computeVsJsonParse, 3), targets['computeVsJsonParse']!.target, met('computeVsJsonParse')]);
      rows.push(['  same, from CPU time', fmt(compute.computeVsJsonParseCpu, 3), '', '']);
      rows.push(['  compute events/s per core', fmt(compute.computeEventsPerSecPerCore), '', 'one thread, no workers']);
      rows.push(['  JSON.parse events/s per core', fmt(compute.jsonParseEventsPerSecPerCore), '', `median of ${rounds}`]);
    }
    if (stages) for (const s of stages) rows.push([`  stage ${s.stage}`, `${fmt(s.costInJsonParses, 2)} × JSON.parse`, '', `${fmt(s.eventsPerSec)} ev/CPU-s cumulative`]);
    if (bytes) rows.push(['  bodies as bytes vs text', fmt(bytes.bytesVsText, 3), '', 'CPU time, as the Event Hubs trigger delivers them']);
    if (deadLetters) rows.push(['  dead-letter lines', `${fmt(deadLetters.lineShare * 100, 1)} % of lines`, '', `${fmt(deadLetters.timeShare * 100, 1)} % of the compute path's CPU time`]);
    if (analyze) {
      rows.push(['analyzeVsDuckdb', fmt(analyzeVsDuckdb!, 3), targets['analyzeVsDuckdb']!.target, met('analyzeVsDuckdb')]);
      rows.push(['  first call in the process', fmt(json.analyzeVsDuckdbFirstCall!, 3), '', `${fmt(analyze.firstCallSeconds.analyzeFiles, 2)} s / ${fmt(analyze.firstCallSeconds.duckdb, 2)} s, before the rounds (worker threads start)`]);
      rows.push(['  CPU-time ratio DuckDB / analyzeFiles', fmt(json.analyzeVsDuckdbCpu!, 3), '', `CPU s ${fmt(median(analyze.duckdbCpuSeconds), 1)} / ${fmt(median(analyze.sequentialCpuSeconds), 1)}`]);
      rows.push(['  analyzeFiles / DuckDB s', `${fmt(median(analyze.sequentialSeconds), 2)} / ${fmt(median(analyze.duckdbSeconds), 2)}`, '', `threads ${analyze.analyzeThreads} / ${analyze.duckdbThreads}${analyze.duckdbOneThreadSeconds === null ? '' : `; DuckDB on 1 thread ${fmt(analyze.duckdbOneThreadSeconds, 2)} s`}`]);
      rows.push(['  analyzeFiles on 1 thread s', fmt(analyze.analyzeOneThreadSeconds, 2), '', `CPU s ${fmt(analyze.analyzeOneThreadCpuSeconds, 1)}; DuckDB (all cores) / this = ${fmt(json.analyzeOneThreadVsDuckdb!, 3)}`]);
      rows.push(['  grand total (picodollars)', analyze.totalPico, 'identical', `${met('totalsIdentical')}; DuckDB ${analyze.duckdbTotalPico}`]);
    }
    if (profile) for (const p of profile.self.slice(0, 6)) rows.push(['  analyze profile (self)', `${fmt(p.percent, 1)} %`, '', p.function.length > 90 ? `${p.function.slice(0, 89)}…` : p.function]);
    if (store) {
      rows.push(['storeWritesPerEvent', fmt(store.storeWritesPerEvent, 3), targets['storeWritesPerEvent']!.target, met('storeWritesPerEvent')]);
      rows.push(['  ingest / rollup writes', `${fmt(store.ingest.writes)} / ${fmt(store.rollup.writes)}`, '', `${fmt(store.events)} events, ${fmt(store.redeliveredEvents)} redelivered`]);
    }
    if (join10k) {
      rows.push(['joinQueriesPer10k', join10k.map((j) => fmt(j.queriesPer10k, 1)).join(' / '), targets['joinQueriesPer10k']!.target, met('joinQueriesPer10k')]);
      rows.push(['  queries', join10k.map((j) => fmt(j.queries)).join(' / '), '', `at ${join10k.map((j) => fmt(j.events)).join(' / ')} events`]);
    }
    if (scale) {
      rows.push(['maxDocumentBytes', fmt(scale.documents.largestDocumentBytes), targets['maxDocumentBytes']!.target, met('maxDocumentBytes')]);
      rows.push(['  month of identities', fmt(scale.documents.identities), '', `${fmt(scale.documents.requests)} requests, ${fmt(scale.documents.usageDocuments)} usage documents, ${fmt(scale.documents.seconds, 1)} s`]);
      rows.push(['monthReportReads', fmt(scale.report.reportReads!), targets['monthReportReads']!.target, met('monthReportReads')]);
      rows.push(['  month of identities', fmt(scale.report.identities), '', `${fmt(scale.report.reportRows!)} report rows from ${fmt(scale.report.usageDocuments)} usage documents`]);
      rows.push(['hotPartitionShare', fmt(scale.partitions.hotPartitionShare, 4), targets['hotPartitionShare']!.target, met('hotPartitionShare')]);
      rows.push(['  busiest hour', scale.partitions.hour, '', `${fmt(scale.partitions.documents)} ledger documents over ${fmt(scale.partitions.partitions)} logical partitions`]);
      const records = scale.partitions.records;
      rows.push(['  diagnostic records', fmt(records.hotPartitionShare, 4), '', `busiest hour ${records.hour}: ${fmt(records.documents)} records over ${fmt(records.partitions)} logical partitions`]);
    }
    if (rss) {
      rows.push(['rssGrowth', fmt(rss.rssGrowth, 2), targets['rssGrowth']!.target, met('rssGrowth')]);
      rows.push(['  peak RSS N/10 → N', `${mib(rss.small.maxRssKiB)} → ${mib(rss.large.maxRssKiB)}`, '', `${fmt(rss.small.events)} → ${fmt(rss.large.events)} events, medians of ${rss.largePeaksKiB.length} runs`]);
      rows.push(['  every run', `${rss.smallPeaksKiB.map(mib).join(', ')}`, '', `→ ${rss.largePeaksKiB.map(mib).join(', ')}`]);
      rows.push(['  same, one thread at both sizes', `${mib(rss.oneThread.small.maxRssKiB)} → ${mib(rss.oneThread.large.maxRssKiB)}`, '', `rssGrowthOneThread ${fmt(rss.oneThread.rssGrowth, 2)}`]);
    }
    const widths = [0, 1, 2, 3].map((c) => Math.max(...[['figure', 'value', 'target', 'result'], ...rows].map((r) => r[c]!.length)));
    const line = (r: readonly string[]) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd();
    process.stdout.write(
      `\nTokenLedger benchmark: ${fmt(generated?.lines ?? 0)} events; ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}; load ${machine.loadAverageAtStart.join(' ')} → ${machine.loadAverageAtEnd.join(' ')}\n\n` +
        [line(['figure', 'value', 'target', 'result']), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') +
        `\n\n${fmt(json.seconds, 1)} s in all\n`,
    );
    if (values.json) {
      await writeFile(values.json, JSON.stringify(json, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n');
      log(`wrote ${values.json}`);
    }
  } finally {
    if (!values.keep && !values.dir) await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
