/**
 * Child process of figure 4 (and of the CPU profile): runs `analyzeFiles` over one events file (as
 * `tokenledger analyze` does, without diagnostics or directory) and prints its peak resident set size when the
 * analysis is done (`peakRssKiB`). With `--profile FILE` it also records a V8 CPU
 * profile of the analysis alone (the sampler behind `node --cpu-prof`, started after the modules are loaded), on one
 * thread: the profiler samples the thread it runs on, so the profile shows the whole per-event path. With
 * `--threads N` the analysis uses N threads, whatever the size of the file.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { loadPrices } from '../src/config/core-options.js';
import { analyzeFiles } from './shipped.js';

/**
 * This process's peak resident set size. On Linux, `VmHWM` of /proc/self/status: `getrusage`'s `ru_maxrss`
 * (`process.resourceUsage().maxRSS`) keeps the high-water mark of the memory the process had before it exec'd
 * Node, a copy of the parent's, so a child of a large benchmark process would report at least the parent's size.
 */
function peakRssKiB(): number {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (match) return Number(match[1]);
  } catch {
    // Not Linux: getrusage is the best there is.
  }
  return process.resourceUsage().maxRSS;
}

const [file, flag, flagValue] = process.argv.slice(2);
if (!file || (flag !== undefined && ((flag !== '--profile' && flag !== '--threads') || !flagValue))) throw new Error('usage: rss-child.ts EVENTS_FILE [--profile FILE | --threads N]');
const profileFile = flag === '--profile' ? flagValue : undefined;
const threads = flag === '--threads' ? Number(flagValue) : profileFile ? 1 : undefined;
const prices = loadPrices({});
const session = profileFile ? new Session() : null;
if (session) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 1000 });
  await session.post('Profiler.start');
}
const started = performance.now();
const cpu = process.cpuUsage();
// With --threads, that many threads whatever the file's size: a growth figure compares like with like.
const result = await analyzeFiles({ eventsFile: file, prices, ...(threads === undefined ? {} : { threads, minBytesPerThread: 1 }) });
const seconds = (performance.now() - started) / 1000;
const used = process.cpuUsage(cpu);
if (session && profileFile) {
  const { profile } = await session.post('Profiler.stop');
  await writeFile(profileFile, JSON.stringify(profile));
  session.disconnect();
}
process.stdout.write(
  JSON.stringify({
    maxRssKiB: peakRssKiB(),
    entries: result.entries,
    deadLetters: result.deadLetters,
    totalPico: result.report.totals.costPico.toString(),
    seconds,
    cpuSeconds: (used.user + used.system) / 1e6,
  }) + '\n',
);
