import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const cli = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: new URL('../..', import.meta.url).pathname });

describe('tokenledger CLI', () => {
  it.each(['tokenledger', 'simulate', 'demo'])('prints help for %s', async (command) => {
    const { stdout } = await cli(...(command === 'tokenledger' ? [] : [command]), '--help');
    expect(stdout).toMatch(/^Usage: tokenledger/);
  });

  it('simulate writes events, the diagnostics archive, a directory and ground truth', async () => {
    const out = await mkdtemp(join(tmpdir(), 'tokenledger-cli-'));
    await cli('simulate', '--requests', '300', '--seed', '5', '--day', '2026-11-20', '--out', out);
    expect((await readdir(out)).sort()).toEqual(['diagnostics', 'directory.csv', 'events.jsonl', 'ground-truth.json']);
    const truth = JSON.parse(await readFile(join(out, 'ground-truth.json'), 'utf8')) as { requests: number; events: { lines: number } };
    const lines = (await readFile(join(out, 'events.jsonl'), 'utf8')).trimEnd().split('\n');
    expect(truth.requests).toBe(300);
    expect(lines).toHaveLength(truth.events.lines);
  });

  it('rejects a non-numeric --requests with a clear message', async () => {
    await expect(cli('simulate', '--requests', 'many', '--out', tmpdir())).rejects.toMatchObject({ stderr: expect.stringMatching(/expected a positive integer/) });
  });
});
