/**
 * Figure 4: how the peak RSS of the streaming path (`analyzeFiles` over a JSONL file) grows with the input:
 * peak RSS at N events divided by peak RSS at N/10, each in a fresh child process.
 */
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

export interface RssRun {
  readonly events: number;
  readonly maxRssKiB: number;
  readonly entries: number;
  readonly seconds: number;
  readonly cpuSeconds: number;
}

export interface RssFigure {
  /** The run of each size with the median peak. */
  readonly small: RssRun;
  readonly large: RssRun;
  readonly rssGrowth: number;
  /** Every run's peak, in the order run. */
  readonly smallPeaksKiB: readonly number[];
  readonly largePeaksKiB: readonly number[];
}

/** Copies the first `lines` lines of a file. */
export async function headLines(source: string, target: string, lines: number): Promise<void> {
  const out = createWriteStream(target, 'utf8');
  const reader = createInterface({ input: createReadStream(source, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  for await (const line of reader) {
    if (n >= lines) break;
    if (!out.write(line + '\n')) await once(out, 'drain');
    n++;
  }
  reader.close();
  out.end();
  await once(out, 'finish');
}

/**
 * Peak RSS at both sizes, `runs` fresh processes of each, small and large alternating; each size counts with its
 * median run: one process's peak moves by up to a tenth from run to run, with when the collector happens to run.
 */
export async function rssGrowthOf(small: { file: string; events: number }, large: { file: string; events: number }, threads: number | undefined, runs: number): Promise<RssFigure> {
  const smallRuns: RssRun[] = [];
  const largeRuns: RssRun[] = [];
  for (let i = 0; i < runs; i++) {
    smallRuns.push(await childRss(small.file, small.events, threads));
    largeRuns.push(await childRss(large.file, large.events, threads));
  }
  const median = (all: readonly RssRun[]) => [...all].sort((a, b) => a.maxRssKiB - b.maxRssKiB)[Math.floor((all.length - 1) / 2)]!;
  const [smallRun, largeRun] = [median(smallRuns), median(largeRuns)];
  return {
    small: smallRun,
    large: largeRun,
    rssGrowth: largeRun.maxRssKiB / smallRun.maxRssKiB,
    smallPeaksKiB: smallRuns.map((r) => r.maxRssKiB),
    largePeaksKiB: largeRuns.map((r) => r.maxRssKiB),
  };
}

/** Runs rss-child.ts in a fresh Node process with the same TypeScript loader as this one (`threads`: exactly that many; as shipped when absent). */
export async function childRss(file: string, events: number, threads?: number): Promise<RssRun> {
  const args = [...process.execArgv, new URL('./rss-child.ts', import.meta.url).pathname, file, ...(threads === undefined ? [] : ['--threads', String(threads)])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`rss child exited with ${code}`);
  const parsed = JSON.parse(output.trim().split('\n').at(-1)!) as { maxRssKiB: number; entries: number; seconds: number; cpuSeconds: number };
  return { events, maxRssKiB: parsed.maxRssKiB, entries: parsed.entries, seconds: parsed.seconds, cpuSeconds: parsed.cpuSeconds };
}
