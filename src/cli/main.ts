#!/usr/bin/env node
import { writeFile } from 'node:fs/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
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

/** Two days back: the simulated archive holds records up to 30 hours late, and all of them have arrived by then. */
function twoDaysAgo(): string {
  return new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10);
}

const requestsOption = () => new Option('--requests <n>', 'number of simulated requests').argParser(positiveInt);
const seedOption = () => new Option('--seed <n>', 'random seed: the same seed and day give the same traffic').argParser(positiveInt).default(42);
const dayOption = () => new Option('--day <YYYY-MM-DD>', 'UTC day to simulate').argParser(day).default(twoDaysAgo(), 'two days ago');

function printSummary(summary: DemoSummary): void {
  const out = process.stdout;
  out.write('\nTokens per identity\n');
  out.write(
    formatTable(
      ['identity', 'kind', 'requests', 'prompt', 'cached', 'completion', 'reasoning'],
      summary.identities.map((r) => [r.identity, r.kind, r.requests, r.promptTokens, r.cachedTokens, r.completionTokens, r.reasoningTokens]),
    ) + '\n',
  );
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
    .action(async (opts: { requests: number; seed: number; day: string; out: string }) => {
      const simulated = simulateDay({ requests: opts.requests, seed: opts.seed, day: opts.day });
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
    .action(async (opts: { requests: number; seed: number; day: string; out?: string; json?: string; serve: boolean }) => {
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
      if (opts.json) await writeFile(opts.json, JSON.stringify(summary, null, 2) + '\n');
      if (!opts.serve) {
        await stack.stop();
        process.exitCode = summary.ok ? 0 : 1;
        return;
      }
      process.stdout.write(`\nServing the local stack until Ctrl-C.\nCosmos DB: ${stack.cosmos.endpoint}\nBlob storage: ${stack.azurite.blobEndpoint}\nTable storage: ${stack.azurite.tableEndpoint}\n`);
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
      await stack.stop();
    });

  return program;
}

buildCli()
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    process.stderr.write(`tokenledger: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
