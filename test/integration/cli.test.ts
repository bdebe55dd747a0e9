import { execFile, spawn } from 'node:child_process';
import { access, readFile, readdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { temporaryFolder } from '../support/temporary-folder.js';

const run = promisify(execFile);
const cli = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: new URL('../..', import.meta.url).pathname });

describe('tokenledger CLI', () => {
  it.each(['tokenledger', 'simulate', 'demo', 'analyze', 'allocate', 'report', 'weights', 'directory', 'prices', 'trace', 'rollup'])('prints help for %s', async (command) => {
    const { stdout } = await cli(...(command === 'tokenledger' ? [] : [command]), '--help');
    expect(stdout).toMatch(/^Usage: tokenledger/);
  });

  it('simulate writes events, the diagnostics archive, a directory, the cost export and ground truth', async () => {
    const out = await temporaryFolder('tokenledger-cli-');
    await cli('simulate', '--requests', '300', '--seed', '5', '--day', '2026-11-20', '--out', out);
    expect((await readdir(out)).sort()).toEqual(['cost-export.csv', 'diagnostics', 'directory.csv', 'events.jsonl', 'ground-truth.json', 'llm-log.jsonl', 'metrics.json']);
    const truth = JSON.parse(await readFile(join(out, 'ground-truth.json'), 'utf8')) as { requests: number; events: { lines: number } };
    const lines = (await readFile(join(out, 'events.jsonl'), 'utf8')).trimEnd().split('\n');
    expect(truth.requests).toBe(300);
    expect(lines).toHaveLength(truth.events.lines);
  });

  it('analyze prints chargeback rows, totals, dead letters, join counts, latency and weights as JSON', async () => {
    const out = await temporaryFolder('tokenledger-analyze-');
    await cli('simulate', '--requests', '1500', '--seed', '8', '--day', '2026-10-15', '--out', out);
    const truth = JSON.parse(await readFile(join(out, 'ground-truth.json'), 'utf8')) as { deadLetters: number; join: unknown; identities: { identity: string; promptTokens: number }[] };
    const { stdout } = await cli('analyze', '--events', join(out, 'events.jsonl'), '--diagnostics', join(out, 'diagnostics'), '--directory', join(out, 'directory.csv'), '--llm-log', join(out, 'llm-log.jsonl'), '--format', 'json');
    const result = JSON.parse(stdout) as {
      chargeback: { identity: string; team: string; promptTokens: number; cost: string; currency: string; priceVersion: string | null }[];
      totals: { cost: string; promptTokens: number };
      deadLetters: number;
      deadLetterReasons: { reason: string; deadLetters: number }[];
      join: unknown;
      latency: { region: string; deployment: string; requests: number; p50Ms: number; p99Ms: number }[];
      weights: { deployment: string; backendId: string; region: string | null; weight: number; reason: string }[];
    };
    expect(result.deadLetters).toBe(truth.deadLetters);
    expect(result.deadLetterReasons.reduce((sum, r) => sum + r.deadLetters, 0)).toBe(truth.deadLetters);
    expect(result.join).toEqual(truth.join);
    const prompt = new Map<string, number>();
    for (const row of result.chargeback) prompt.set(row.identity, (prompt.get(row.identity) ?? 0) + row.promptTokens);
    expect(Object.fromEntries(prompt)).toEqual(Object.fromEntries(truth.identities.map((i) => [i.identity, i.promptTokens])));
    const cents = (v: string) => BigInt(v.replace('.', ''));
    expect(result.chargeback.reduce((sum, row) => sum + cents(row.cost), 0n)).toBe(cents(result.totals.cost));
    expect(result.chargeback.every((row) => row.team !== '(unmapped)' && row.currency === 'USD')).toBe(true);
    expect(result.latency.length).toBeGreaterThanOrEqual(16);
    expect(result.latency.every((r) => r.p50Ms > 0 && r.p99Ms >= r.p50Ms)).toBe(true);
    for (const deployment of new Set(result.weights.map((w) => w.deployment))) {
      expect(result.weights.filter((w) => w.deployment === deployment).reduce((sum, w) => sum + w.weight, 0)).toBe(100);
    }
    const eastus = result.weights.filter((w) => w.deployment === 'gpt-4o-prod' && w.region === 'eastus').map((w) => w.backendId);
    expect(eastus.sort()).toEqual(['aoai-eastus', 'aoai-eastus-2']);
  });

  it('weights --format apim|bicep asks for --apim-service before calling the API', async () => {
    for (const format of ['apim', 'bicep']) {
      await expect(cli('weights', '--format', format, '--api', 'http://127.0.0.1:9')).rejects.toMatchObject({ stderr: expect.stringMatching(/--format \w+ needs --apim-service <name>/) });
    }
    await expect(cli('weights', '--format', 'apim', '--apim-service', 'not a name', '--api', 'http://127.0.0.1:9')).rejects.toMatchObject({ stderr: expect.stringMatching(/--apim-service "not a name": an API Management service name/) });
  });

  it('reconcile finds no requests failure on a fault-free simulated day, and fails the windows of lost events with --faults', async () => {
    type Output = { thresholds: Record<string, { rule: string }>; checks: { check: string; window: string; deployment: string; status: string; diagnosticsOnly: string[] }[] };
    const reconcileDay = async (...faults: string[]) => {
      const out = await temporaryFolder('tokenledger-reconcile-');
      await cli('simulate', '--requests', '6000', '--seed', '3', '--day', '2026-10-15', ...faults, '--out', out);
      const truth = JSON.parse(await readFile(join(out, 'ground-truth.json'), 'utf8')) as { reconciliation: { gatewayObjectId: string; lostEvents: string[] } };
      const files = ['--events', join(out, 'events.jsonl'), '--diagnostics', join(out, 'diagnostics'), '--llm-log', join(out, 'llm-log.jsonl'), '--metrics', join(out, 'metrics.json')];
      const { stdout } = await cli('reconcile', ...files, '--gateway-object-ids', truth.reconciliation.gatewayObjectId, '--format', 'json');
      const table = (await cli('reconcile', ...files, '--gateway-object-ids', truth.reconciliation.gatewayObjectId)).stdout;
      return { output: JSON.parse(stdout) as Output, table, lost: truth.reconciliation.lostEvents, files };
    };
    const clean = await reconcileDay();
    expect(Object.keys(clean.output.thresholds).sort()).toEqual(['llm-tokens', 'metrics-tokens', 'requests']);
    expect(clean.output.thresholds['requests']!.rule).toMatch(/fail above max\(5 requests, 5 % of max\(ledger requests, 100\)\)/);
    expect(clean.table).toMatch(/^requests thresholds: .*fail above/m);
    expect(clean.output.checks.filter((c) => c.check === 'requests' && c.status === 'fail')).toEqual([]);

    const faulty = await reconcileDay('--faults');
    expect(faulty.lost.length).toBeGreaterThan(0);
    const failed = faulty.output.checks.filter((c) => c.check === 'requests' && c.status === 'fail');
    expect(failed.flatMap((c) => c.diagnosticsOnly).sort()).toEqual([...faulty.lost].sort());

    // Without the gateway's object ids no record is the gateway's: the command says so rather than pass in silence.
    const blind = await cli('reconcile', ...faulty.files, '--format', 'json');
    expect(blind.stderr).toMatch(/no --gateway-object-ids: .*reconciliation\.gatewayObjectId in ground-truth\.json/);
    // Its JSON holds no dead letters: the note on the reasons it leaves out names the command that lists them all.
    expect(blind.stderr).toMatch(/dead letters? for \d+ other reasons? \(analyze --format json lists every reason\)/);
    expect((JSON.parse(blind.stdout) as Output).checks.filter((c) => c.check === 'requests' && c.status === 'fail')).toEqual([]);
  });

  it('says how to reach the directory, and which setting is missing, when given no way to reach a store', async () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(Tables__|CosmosDB__|TOKENLEDGER_)/.test(name)));
    const bare = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: new URL('../..', import.meta.url).pathname, env });
    await expect(bare('directory', 'list')).rejects.toMatchObject({ stderr: expect.stringContaining('Tables__endpoint is not set: give --api and a token to go through the API') });
    await expect(bare('rollup', 'rebuild', '--month', '2026-10')).rejects.toMatchObject({ stderr: expect.stringContaining('invalid settings: CosmosDB__accountEndpoint is not set') });
  });

  it('refuses an impossible --day instead of simulating the day it rolls over to', async () => {
    const out = join(tmpdir(), 'tokenledger-never-written');
    await expect(cli('simulate', '--requests', '10', '--day', '2026-02-30', '--out', out)).rejects.toMatchObject({ stderr: expect.stringMatching(/2026-02-30 is not a day of the calendar/) });
    await expect(cli('simulate', '--requests', '10', '--day', '0026-02-03', '--out', out)).rejects.toMatchObject({ stderr: expect.stringMatching(/the year 0026 is before 2000/) });
    await expect(readdir(out)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a --month, --from or --to reaching 10000-01-01, and a --day after today, before calling the API or writing a file', async () => {
    const unreachable = ['--api', 'http://127.0.0.1:9', '--token', 't'];
    await expect(cli('report', 'chargeback', '--month', '9999-12', ...unreachable)).rejects.toMatchObject({ stderr: expect.stringContaining('invalid --month: the month must end before 10000-01-01, so 9999-11 is the last') });
    await expect(cli('report', 'chargeback', '--from', '9999-12-31T23:00:00-01:00', '--to', '9999-12-31T23:00:00-02:00', ...unreachable)).rejects.toMatchObject({
      stderr: expect.stringMatching(/invalid --from: "9999-12-31T23:00:00-01:00" is 10000-01-01T00:00Z or later in UTC: .*; --to: "9999-12-31T23:00:00-02:00" is 10000-01-01T00:00Z or later/),
    });
    await expect(cli('report', 'latency', '--from', '9999-12-31', '--to', '9999-12-31T23:00:00-01:00', ...unreachable)).rejects.toMatchObject({ stderr: expect.stringContaining('invalid --to: "9999-12-31T23:00:00-01:00" is 10000-01-01T00:00Z or later in UTC') });
    await expect(cli('weights', '--to', '9999-12-31T23:00:00-01:00', ...unreachable)).rejects.toMatchObject({ stderr: expect.stringContaining('invalid --to: ') });
    const out = join(tmpdir(), 'tokenledger-never-written');
    await expect(cli('simulate', '--requests', '10', '--day', '9999-12-15', '--out', out)).rejects.toMatchObject({ stderr: expect.stringMatching(/--day <YYYY-MM-DD>' argument '9999-12-15' is invalid\. 9999-12-15 is after today \(\d{4}-\d{2}-\d{2}, UTC\): events more than a day ahead of the clock are refused/) });
    await expect(readdir(out)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('names the option, the path and what it expects when an input path is wrong', async () => {
    const folder = await temporaryFolder('tokenledger-cli-');
    await expect(cli('analyze', '--events', folder)).rejects.toMatchObject({
      stderr: `tokenledger: --events ${JSON.stringify(folder)} is a folder with no file in it: expected a file of gateway events as JSON lines (one Event Hubs body per line), or Event Hubs Capture files (.avro)\n`,
    });
    await expect(cli('reconcile', '--events', join(folder, 'missing.jsonl'), '--diagnostics', folder)).rejects.toMatchObject({
      stderr: expect.stringMatching(/^tokenledger: --events ".*missing\.jsonl" does not exist: expected a file of gateway events/),
    });
    // A compressed file would be read as lines of garbage, each a dead letter: it is named for what it is.
    const compressed = join(folder, 'events.jsonl.gz');
    await writeFile(compressed, gzipSync('{}\n'));
    await expect(cli('analyze', '--events', compressed)).rejects.toMatchObject({
      stderr: `tokenledger: --events ${JSON.stringify(compressed)} is gzip-compressed: expected a file of gateway events as JSON lines (one Event Hubs body per line); decompress it first (gunzip -k)\n`,
    });
    // Pretty-printed JSON would be read as lines that are each a dead letter: it is named for what it is.
    const pretty = join(folder, 'events.json');
    await writeFile(pretty, '{\n  "schema": "tokenledger.gateway/v1"\n}\n');
    await expect(cli('analyze', '--events', pretty)).rejects.toMatchObject({
      stderr: `tokenledger: --events ${JSON.stringify(pretty)} is one JSON document written over several lines (its first line is "{" alone): expected a file of gateway events as JSON lines (one Event Hubs body per line); write each body on a line of its own, e.g. jq -c . FILE > events.jsonl\n`,
    });
    // A folder that is no copy of the archive would join nothing: it is refused, not read as an archive without records.
    const events = join(folder, 'events.jsonl');
    await writeFile(events, '\n');
    await expect(cli('analyze', '--events', events, '--diagnostics', folder)).rejects.toMatchObject({
      stderr: `tokenledger: --diagnostics ${JSON.stringify(folder)} holds no insights-logs-requestresponse/ folder and is not one: expected a folder of RequestResponse storage-archive records (the folder holding insights-logs-requestresponse/, or that folder itself)\n`,
    });
  });

  it('says which API it could not reach and that it must be running, instead of "fetch failed"', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await expect(cli('report', 'latency', '--api', `http://127.0.0.1:${port}`, '--token', 't')).rejects.toMatchObject({
      stderr: expect.stringContaining(`tokenledger: cannot reach the TokenLedger API at http://127.0.0.1:${port} (ECONNREFUSED): the API must be running there. Locally, start it with \`npm run demo\``),
    });
    await expect(cli('report', 'chargeback', '--api', 'localhost 7071')).rejects.toMatchObject({ stderr: expect.stringMatching(/--api "localhost 7071" is not a URL/) });
  });

  it('trace prints one request from the API as a table with control characters escaped, or as JSON', async () => {
    const planted = '\u001b]0;owned\u0007chat\u009b2J';
    const trace = {
      request: {
        id: 'gw-7',
        time: '2026-10-15T10:00:00.000Z',
        source: 'gateway-v1',
        gatewayRequestId: 'gw-7',
        apimRequestId: 'apim-7',
        deployment: planted,
        model: 'gpt-4o-mini',
        operation: 'ChatCompletions_Create',
        status: 200,
        tokens: { source: 'gateway', promptTokens: 1200, cachedTokens: 200, completionTokens: 80, reasoningTokens: 0 },
        parts: [{ source: 'gateway-v1' }, { source: 'apim-llm-log' }],
        diagnostics: { status: 'matched' },
      },
      diagnostics: { correlationId: 'apim-7', regionCode: 'eastus', account: 'aoai', status: 200, durationMs: 812, modelName: 'gpt-4o-mini', modelVersion: '2024-07-18' },
      identity: { key: 'oid-1', kind: 'user', via: 'oid', displayName: 'Ada', team: 'research', costCenter: 'cc-1' },
      cost: { basis: 'per-token', costPicodollars: '198000000', cost: '0.000198', currency: 'USD', price: null, lines: null },
      priceVersion: 'gpt-4o-mini@2024-07-18',
      priceTable: 'sha256:0123456789abcdef',
    };
    const paths: string[] = [];
    const server = createServer((req, res) => {
      paths.push(req.url ?? '');
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(trace));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const table = await cli('trace', 'GW 7/x', '--api', api, '--token', 't');
      expect(paths).toEqual(['/api/requests/GW%207%2Fx']);
      expect(table.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
      expect(table.stdout).toContain('\\x1b]0;owned\\x07chat\\x9b2J / gpt-4o-mini');
      expect(table.stdout).toMatch(/merged from\s+gateway-v1 \+ apim-llm-log/);
      expect(table.stdout).toMatch(/identity\s+oid-1 \(user, decided by oid\)/);
      expect(table.stdout).toMatch(/cost\s+0\.000198 USD \(198000000 picodollars, per-token\)/);
      const json = JSON.parse((await cli('trace', 'gw-7', '--api', api, '--token', 't', '--format', 'json')).stdout) as Record<string, unknown>;
      expect(Object.keys(json)).toEqual(expect.arrayContaining(['request', 'diagnostics', 'cost', 'priceVersion']));
      expect(json).toEqual(trace);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('analyze reads events and an LLM log given as a pipe (/dev/stdin) as it reads the same files', async () => {
    const out = await temporaryFolder('tokenledger-pipe-');
    await cli('simulate', '--requests', '300', '--seed', '3', '--day', '2026-10-15', '--out', out);
    const args = (events: string, llmLog: string) => ['--import', 'tsx', 'src/cli/main.ts', 'analyze', '--events', events, '--diagnostics', join(out, 'diagnostics'), '--llm-log', llmLog, '--format', 'json'];
    const fromFiles = await run(process.execPath, args(join(out, 'events.jsonl'), join(out, 'llm-log.jsonl')), { cwd: new URL('../..', import.meta.url).pathname });
    // Node gives a child's stdin as a socket; a shell's `cat FILE |` gives a pipe: both are read.
    const piped = async (file: string, pipedArgs: string[], shell = false) => {
      const cwd = new URL('../..', import.meta.url).pathname;
      const child = shell
        ? spawn('sh', ['-c', `cat "$0" | "$@"`, file, process.execPath, ...pipedArgs], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn(process.execPath, pipedArgs, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
      const output = { stdout: '', stderr: '' };
      child.stdout.on('data', (chunk: Buffer) => (output.stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
      if (!shell) child.stdin!.end(await readFile(file));
      const code = await new Promise<number | null>((resolve) => child.on('close', (exitCode) => resolve(exitCode)));
      return { code, ...output };
    };
    const eventsPiped = await piped(join(out, 'events.jsonl'), args('/dev/stdin', join(out, 'llm-log.jsonl')));
    expect(eventsPiped.code, eventsPiped.stderr).toBe(0);
    expect(eventsPiped.stdout).toBe(fromFiles.stdout);
    expect(eventsPiped.stderr).toContain('/dev/stdin is not a regular file (a pipe): reading it into a temporary file');
    const llmLogPiped = await piped(join(out, 'llm-log.jsonl'), args(join(out, 'events.jsonl'), '/dev/stdin'), true);
    expect(llmLogPiped.code, llmLogPiped.stderr).toBe(0);
    expect(llmLogPiped.stdout).toBe(fromFiles.stdout);
  });

  it('analyze says on stderr which requests the price table cannot price, whatever the format', async () => {
    const out = await temporaryFolder('tokenledger-unpriced-');
    await cli('simulate', '--requests', '300', '--seed', '5', '--day', '2026-10-15', '--out', out);
    const prices = JSON.parse(await readFile(new URL('../../prices/default-prices.json', import.meta.url), 'utf8')) as { prices: { model: string }[] };
    await writeFile(join(out, 'prices.json'), JSON.stringify({ ...prices, prices: prices.prices.filter((p) => p.model !== 'gpt-4o') }));
    const json = await cli('analyze', '--events', join(out, 'events.jsonl'), '--prices', join(out, 'prices.json'), '--format', 'json');
    const unpriced = (JSON.parse(json.stdout) as { unpriced: { model: string; deployment: string; requests: number }[] }).unpriced;
    expect(unpriced.length).toBeGreaterThan(0);
    for (const format of ['table', 'csv', 'json']) {
      const { stderr } = await cli('analyze', '--events', join(out, 'events.jsonl'), '--prices', join(out, 'prices.json'), '--format', format);
      for (const { model, deployment, requests } of unpriced) {
        expect(stderr).toContain(`${requests} request${requests === 1 ? '' : 's'} of model ${model} (deployment ${deployment}) not priced: the price table has no price for it`);
      }
    }
  });

  it('refuses an option that takes one value given twice, instead of keeping the last', async () => {
    await expect(cli('analyze', '--events', 'first.jsonl', '--events=second.jsonl', '--format', 'json')).rejects.toMatchObject({
      stderr: expect.stringMatching(/^error: option --events given more than once; each takes one value\n/),
    });
    await expect(cli('weights', '--from', '2026-10-15', '--to', '2026-10-16', '--to', '2026-10-17', '--api', 'http://127.0.0.1:9')).rejects.toMatchObject({
      stderr: expect.stringMatching(/^error: option --to given more than once/),
    });
  });

  it('trace refuses the request ids . and .., which no URL path can name, instead of asking the API another path', async () => {
    for (const id of ['.', '..']) {
      await expect(cli('trace', id, '--api', 'http://127.0.0.1:9')).rejects.toMatchObject({
        stderr: `tokenledger: request id ${JSON.stringify(id)} cannot be asked for through the API: a URL path cannot name "." or ".."\n`,
      });
    }
  });

  it('weights writes a line break or tab planted in a deployment, backend or region as a visible escape, not as a line', async () => {
    const forged = 'chat\nbatch: aoai-forged 100 (all traffic)\t';
    const body = {
      from: '2026-10-15T00:00:00.000Z',
      to: '2026-10-16T00:00:00.000Z',
      latestDataHour: '2026-10-15T10:00:00.000Z',
      recommendations: [
        {
          deployment: forged,
          basis: 'service-latency',
          stepLimited: false,
          explanation: 'Equal weights.\nbackend: forged',
          weights: [{ backendId: 'aoai\neastus', regionCode: 'east\rus', weight: 100, priority: 1, healthy: true, score: 1, previousWeight: null, reason: 'only\tbackend' }],
        },
      ],
    };
    const server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { stdout } = await cli('weights', '--from', '2026-10-15T00:00:00Z', '--to', '2026-10-16T00:00:00Z', '--api', `http://127.0.0.1:${(server.address() as AddressInfo).port}`, '--token', 't');
      expect(stdout).not.toMatch(/^batch: aoai-forged/m);
      expect(stdout).not.toMatch(/^backend: forged/m);
      expect(stdout).not.toMatch(/[\t\r]/);
      expect(stdout).toContain('chat\\x0abatch: aoai-forged 100 (all traffic)\\x09: Equal weights.\\x0abackend: forged');
      expect(stdout).toMatch(/^aoai\\x0aeastus\s+east\\x0dus\s+100\s+1\s+only\\x09backend$/m);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('writes the control characters of echoed input as visible escapes in every error path', async () => {
    const planted = '\u001b]0;owned\u0007\u001b[31myesterday\u009b2J';
    const own = await cli('report', 'latency', '--from', planted).catch((error: { stderr: string }) => error);
    expect(own.stderr).toMatch(/invalid --from: .*owned.*yesterday/);
    const commander = await cli('simulate', '--requests', planted).catch((error: { stderr: string }) => error);
    expect(commander.stderr).toContain("argument '\\x1b]0;owned");
    for (const { stderr } of [own, commander]) expect(stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
  });

  it('demo stops the local stack and removes its temporary folder on SIGTERM, exiting as the signal would', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'demo', '--requests', '2000', '--no-serve'], {
      cwd: new URL('../..', import.meta.url).pathname,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const folder = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        const found = /into (\S*tokenledger-demo-\S+)\n/.exec(stderr);
        if (found) resolve(found[1]!);
      });
      child.once('exit', () => reject(new Error(`the demo ended before simulating:\n${stderr}`)));
    });
    await access(folder);
    child.kill('SIGTERM');
    expect(await exited).toBe(143);
    expect(stderr).toContain('SIGTERM: stopping the local stack and removing temporary files');
    await expect(access(folder)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('demo refuses a --port another process listens on before any work, naming the port and --port', async () => {
    // The commands it prints name the port: another Functions host on 7071 would answer them.
    const holder = createServer((_request, response) => response.end('another host'));
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as AddressInfo;
    try {
      const failed = await cli('demo', '--requests', '2000', '--port', String(port)).catch((error: { code: number; stderr: string }) => error);
      expect(failed).toMatchObject({ code: 1 });
      expect((failed as { stderr: string }).stderr).toContain(`port ${port} of the local API is in use (another Functions host or demo?): stop what holds it, or choose another with --port`);
      expect((failed as { stderr: string }).stderr).not.toContain('starting the local stack');
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
  });

  it('demo stops at the step Ctrl-C interrupts: SIGINT while the local stack starts runs nothing after it', async () => {
    const temp = await temporaryFolder('tokenledger-interrupt-');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'demo', '--requests', '2000', '--no-serve'], {
      cwd: new URL('../..', import.meta.url).pathname,
      env: { ...process.env, TMPDIR: temp },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('starting the local stack')) resolve();
      });
      child.once('exit', () => reject(new Error(`the demo ended before starting its stack:\n${stderr}`)));
    });
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toContain('SIGINT: stopping the local stack and removing temporary files');
    expect(stderr).not.toContain('simulating');
    expect((await readdir(temp)).filter((name) => name.startsWith('tokenledger-demo-'))).toEqual([]);
  });

  it('demo --json names no folder for simulated files it kept in a temporary one, which is gone', async () => {
    const out = await temporaryFolder('tokenledger-summary-');
    await cli('demo', '--requests', '2000', '--no-serve', '--json', join(out, 'summary.json'));
    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as { outDir: unknown; ok: unknown };
    expect(summary).toMatchObject({ outDir: null, ok: true });
  });

  it('ends quietly with the status of SIGPIPE when the reader of its output goes away (`| head`)', async () => {
    const out = await temporaryFolder('tokenledger-pipe-');
    await cli('simulate', '--requests', '1500', '--seed', '8', '--day', '2026-10-15', '--out', out);
    // About 140 KB of JSON through a shell pipe (64 KB): the writes go on after `head` has left.
    const analyze = ['--import', 'tsx', 'src/cli/main.ts', 'analyze', '--events', join(out, 'events.jsonl'), '--format', 'json'].map((arg) => `'${arg}'`).join(' ');
    const { stdout, stderr } = await run('bash', ['-c', `'${process.execPath}' ${analyze} | head -c 100 > /dev/null; echo "status \${PIPESTATUS[0]}"`], {
      cwd: new URL('../..', import.meta.url).pathname,
    });
    expect(stdout.trim()).toBe('status 141');
    // No error and no stack trace (its lines begin "    at "); the dead letters' reasons may say "at position".
    expect(stderr).not.toMatch(/EPIPE|Error|^\s+at /m);
  });

  it.each([
    ['stdout', ''],
    ['stderr', '2>&1 >/dev/null'],
  ])('demo removes its temporary folder before it ends with the status of SIGPIPE when the reader of its %s goes away', async (_stream, redirect) => {
    const temp = await temporaryFolder('tokenledger-pipe-');
    // The reader, `true`, leaves at once without reading: the demo's summary (stdout) and its progress (stderr) come later.
    const { stdout } = await run('bash', ['-c', `'${process.execPath}' --import tsx src/cli/main.ts demo --requests 2000 --no-serve ${redirect} | true; echo "status \${PIPESTATUS[0]}"`], {
      cwd: new URL('../..', import.meta.url).pathname,
      env: { ...process.env, TMPDIR: temp },
    });
    expect(stdout.trim()).toBe('status 141');
    expect((await readdir(temp)).filter((name) => name.startsWith('tokenledger-demo-'))).toEqual([]);
  });

  it('rejects a non-numeric --requests with a clear message', async () => {
    await expect(cli('simulate', '--requests', 'many', '--out', tmpdir())).rejects.toMatchObject({ stderr: expect.stringMatching(/expected a positive integer/) });
  });
});
