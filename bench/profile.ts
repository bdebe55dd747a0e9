/**
 * A CPU profile of `analyzeFiles` (V8's sampling profiler, as `node --cpu-prof` uses it, in a child process and
 * limited to the analysis itself) reduced to the functions that take the time: self time and inclusive time, as
 * shares of the profile's total.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileShare {
  readonly function: string;
  readonly percent: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  readonly self: readonly ProfileShare[];
  readonly inclusive: readonly ProfileShare[];
}

/** `name file:line`, with the path shortened to the project or package it is in. */
function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.includes('/node_modules/') ? url.slice(url.lastIndexOf('/node_modules/') + 14) : url.replace(/^.*\/(src|bench|functions)\//, '$1/');
  return `${functionName || '(anonymous)'}${file ? ` ${file}${lineNumber > 0 ? `:${lineNumber + 1}` : ''}` : ''}`;
}

export function summariseProfile(profile: CpuProfile, top = 15): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const timeById = new Map<number, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    timeById.set(id, (timeById.get(id) ?? 0) + dt);
    total += dt;
  });
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, time] of timeById) {
    const own = label(byId.get(id)!);
    self.set(own, (self.get(own) ?? 0) + time);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const name = label(byId.get(at)!);
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + time);
    }
  }
  const shares = (map: Map<string, number>) =>
    [...map]
      .filter(([name]) => !name.startsWith('(root)') && !name.startsWith('(program)') && !name.startsWith('(idle)'))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, time]) => ({ function: name, percent: Math.round((1000 * time) / total) / 10 }));
  return { totalMs: Math.round(total / 1000), self: shares(self), inclusive: shares(inclusive) };
}

/** Profiles rss-child.ts (analyzeFiles over `file`) in a child process. */
export async function profileAnalyze(file: string): Promise<ProfileSummary> {
  const dir = await mkdtemp(join(file, '..', 'cpu-profile-'));
  try {
    const target = join(dir, 'analyze.cpuprofile');
    const child = spawn(process.execPath, [...process.execArgv, new URL('./rss-child.ts', import.meta.url).pathname, file, '--profile', target], { stdio: ['ignore', 'ignore', 'inherit'] });
    const [code] = (await once(child, 'exit')) as [number | null];
    if (code !== 0) throw new Error(`profiled child exited with ${code}`);
    return summariseProfile(JSON.parse(await readFile(target, 'utf8')) as CpuProfile);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
