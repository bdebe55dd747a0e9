import { execFile } from 'node:child_process';
import { access, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it, onTestFinished } from 'vitest';
import { temporaryFolder } from '../support/temporary-folder.js';

const root = new URL('../..', import.meta.url).pathname;
const run = promisify(execFile);
/** The CLI's exit code, stdout and stderr; a run still going after 20 s is killed and fails the test. */
const outcome = (...args: string[]) =>
  run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: root, timeout: 20_000, killSignal: 'SIGKILL' }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code?: number | string; killed?: boolean; stdout: string; stderr: string }) => {
      if (error.killed) throw new Error(`tokenledger ${args.join(' ')} was still running after 20 s`);
      return { code: error.code, stdout: error.stdout, stderr: error.stderr };
    },
  );

/** An HTTP server on a loopback port answering every request with `handler`; closed when the test ends. */
async function serverAt(handler: (request: IncomingMessage, response: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * Outputs refused before any work (a file given as --out's folder, a file in a folder that does not exist): a run
 * that got past the check under test ends at once instead of simulating or starting the local stack.
 */
const notAFolder = join(root, 'package.json');
const noSuchFolder = join(tmpdir(), 'tokenledger-never-written', 'summary.json');

const answering = (status: number, type: string, body: string) => (_request: IncomingMessage, response: ServerResponse) => {
  response.writeHead(status, { 'content-type': type }).end(body);
};

describe('tokenledger CLI input', () => {
  it.each([
    [['simulate', '--requests', '5', '--day', '2026-01-01', '--out', '--faults'], 'option --out needs a value; got the flag --faults'],
    [['simulate', '--out', '--requests', '5', '--day', '2026-01-01'], 'option --out needs a value; got the flag --requests'],
    [['simulate', '--requests', '--faults', '--out', notAFolder], 'option --requests needs a value; got the flag --faults'],
    [['demo', '--out', '--faults', '--json', noSuchFolder], 'option --out needs a value; got the flag --faults'],
    [['demo', '--json', '--no-serve', '--out', notAFolder], 'option --json needs a value; got the flag --no-serve'],
    [['report', 'chargeback', '--out', '--format', 'csv'], 'option --out needs a value; got the flag --format'],
    [['directory', 'set', 'oid-1', '--display-name', '--team', 'research'], 'option --display-name needs a value; got the flag --team'],
  ])('refuses %j as an option missing its value, naming the option and the flag, before any work', async (args, message) => {
    onTestFinished(() => rm(join(root, '--faults'), { recursive: true, force: true }));
    const result = await outcome(...args);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^error: ${message}\n`));
    await expect(access(join(root, '--faults'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a file or folder option followed by a word beginning with --, and says how to name such a file', async () => {
    onTestFinished(() => rm(join(root, '--simulated'), { recursive: true, force: true }));
    const result = await outcome('simulate', '--requests', '5', '--day', '2026-01-01', '--out', '--simulated');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: option --out needs a value; got --simulated, which reads as a flag \(for a file or folder of that name, write --out=--simulated or --out \.\/--simulated\)\n/);
    await expect(access(join(root, '--simulated'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses --requests above 300,000 at once, the most a simulated day held in memory can have, instead of running out of memory', async () => {
    const out = await temporaryFolder('tokenledger-cli-input-');
    const result = await outcome('simulate', '--requests', '99999999999999', '--day', '2026-01-01', '--out', out);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("option '--requests <n>' argument '99999999999999' is invalid. expected a positive integer up to 300,000 (a simulated day is held in memory)");
  });

  it.each([
    [['demo', '--port', '65536', '--out', notAFolder], "option '--port <n>' argument '65536' is invalid. expected a positive integer up to 65,535 (the highest TCP port)"],
    [['simulate', '--requests', '5', '--seed', '4294967296', '--out', notAFolder], "option '--seed <n>' argument '4294967296' is invalid. expected a positive integer up to 4,294,967,295 (the random generator takes 32 bits"],
    [['analyze', '--events', 'events.jsonl', '--threads', '65'], "option '--threads <n>' argument '65' is invalid. expected a positive integer up to 64"],
  ])('refuses %j beyond the bound of its number, naming the bound', async (args, message) => {
    const result = await outcome(...args);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(message);
  });

  it.each([
    ['report latency', 'api/latency'],
    ['weights', 'api/weights'],
    ['report chargeback', 'api/chargeback'],
    ['report chargeback --format csv', 'api/chargeback'],
    ['trace gw-7', 'api/requests/gw-7'],
    ['directory list', 'api/directory'],
  ])('%s says a URL answering 200 with a web page is not the TokenLedger API, with its status and content type', async (line, path) => {
    const api = await serverAt(answering(200, 'text/html', '<html><body>Your Functions app is up and running</body></html>'));
    const result = await outcome(...line.split(' '), '--api', api, '--token', 't');
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`tokenledger: ${api}/${path} did not answer as the TokenLedger API: status 200 with text/html, not the API's JSON. --api must be the base URL of the TokenLedger API`);
    expect(result.stderr).not.toMatch(/Unexpected token|is not valid JSON/);
  });

  it('says a URL answering 200 with text that is not JSON is not the TokenLedger API', async () => {
    const api = await serverAt(answering(200, 'text/plain', 'OK'));
    const result = await outcome('report', 'latency', '--api', api, '--token', 't');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`tokenledger: ${api}/api/latency did not answer as the TokenLedger API: status 200 with text/plain, not the API's JSON.`);
  });

  it('report latency --format json says a period without data on stderr, as weights does, and keeps stdout the JSON', async () => {
    const body = { from: '2026-12-01T00:00:00.000Z', to: '2026-12-02T00:00:00.000Z', latestDataHour: '2026-11-20T05:00:00.000Z', rows: [], recommendations: [] };
    const api = await serverAt(answering(200, 'application/json', JSON.stringify(body)));
    const period = ['--api', api, '--token', 't', '--from', '2026-12-01', '--to', '2026-12-02'];
    const note = 'no data between 2026-12-01T00:00Z and 2026-12-02T00:00Z; latest data at 2026-11-20T05:00Z (the hour up to 2026-11-20T06:00Z)\ntry --from 2026-11-19T06:00Z --to 2026-11-20T06:00Z\n';
    const weights = await outcome('weights', '--format', 'json', ...period);
    const latency = await outcome('report', 'latency', '--format', 'json', ...period);
    for (const result of [weights, latency]) {
      expect(result.code).toBe(0);
      expect(result.stderr).toBe(note);
      expect(JSON.parse(result.stdout)).toEqual(body);
    }
    const table = await outcome('report', 'latency', ...period);
    expect(table.stdout).toBe(note);
  });
});
