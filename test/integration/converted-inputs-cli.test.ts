import { execFile } from 'node:child_process';
import { mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { writeCaptureFile } from '../support/capture-files.js';
import { azCliExport, portalCsvExport, queryApiExport } from '../support/requestresponse-exports.js';
import { temporaryFolder } from '../support/temporary-folder.js';

const run = promisify(execFile);

/** The CLI with its temporary files in `tmp`, so that a test sees what it leaves behind. */
const cliIn = (tmp: string) => (...args: string[]) =>
  run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: new URL('../..', import.meta.url).pathname, env: { ...process.env, TMPDIR: tmp } });

/** Writes `lines` as the Capture folder tree azcopy downloads: namespace/hub/partition/yyyy/mm/dd/hh/mm/ss.avro, a few files a partition. */
async function writeCaptureTree(root: string, lines: readonly string[], partitions: number, filesPerPartition: number): Promise<void> {
  const perPartition = Math.ceil(lines.length / partitions);
  for (let p = 0; p < partitions; p++) {
    const part = lines.slice(p * perPartition, (p + 1) * perPartition);
    const perFile = Math.ceil(part.length / filesPerPartition);
    for (let f = 0; f < filesPerPartition; f++) {
      const folder = join(root, 'contoso-ns', 'gateway-events', String(p), '2026', '10', '15', String(f).padStart(2, '0'), '00');
      await mkdir(folder, { recursive: true });
      await writeCaptureFile(join(folder, '00.avro'), part.slice(f * perFile, (f + 1) * perFile), { codec: f % 2 === 0 ? 'deflate' : 'null', blockSize: 16_384, partitionId: String(p) });
    }
  }
}

/** Every record of a copy of the RequestResponse archive, in path order. */
async function archiveRecords(diagnostics: string): Promise<Record<string, unknown>[]> {
  const archive = join(diagnostics, 'insights-logs-requestresponse');
  const files = (await readdir(archive, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
  const texts = await Promise.all(files.sort().map((file) => readFile(file, 'utf8')));
  return texts.flatMap((text) => text.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as Record<string, unknown>));
}

describe('tokenledger commands over Event Hubs Capture files and Log Analytics exports', () => {
  it('analyze, reconcile and allocate give over a Capture folder what they give over the same bodies as JSON lines, and leave no temporary file', async () => {
    const tmp = await temporaryFolder('tokenledger-capture-cli-');
    const cli = cliIn(tmp);
    const out = join(tmp, 'day');
    await cli('simulate', '--requests', '600', '--seed', '8', '--day', '2026-10-15', '--out', out);
    const lines = (await readFile(join(out, 'events.jsonl'), 'utf8')).trimEnd().split('\n');
    const capture = join(tmp, 'capture');
    // Path order (partition, then time) is the file's line order.
    await writeCaptureTree(capture, lines, 2, 3);

    const analyze = (events: string) => cli('analyze', '--events', events, '--diagnostics', join(out, 'diagnostics'), '--directory', join(out, 'directory.csv'), '--format', 'json');
    const [fromLines, fromCapture] = [await analyze(join(out, 'events.jsonl')), await analyze(capture)];
    expect(JSON.parse(fromCapture.stdout)).toEqual(JSON.parse(fromLines.stdout));
    expect(fromCapture.stdout).toBe(fromLines.stdout);
    expect(fromCapture.stderr).toMatch(/reading 6 Event Hubs Capture files \(\d+\.\d MiB\) into a temporary file of JSON lines\n/);
    expect(fromCapture.stderr).toContain(`${lines.length.toLocaleString('en-US')} events from 6 Capture files\n`);

    const reconcile = (events: string) => cli('reconcile', '--events', events, '--diagnostics', join(out, 'diagnostics'), '--format', 'json');
    expect((await reconcile(capture)).stdout).toBe((await reconcile(join(out, 'events.jsonl'))).stdout);
    const allocate = (events: string) => cli('allocate', '--cost-export', join(out, 'cost-export.csv'), '--events', events, '--diagnostics', join(out, 'diagnostics'), '--format', 'json');
    expect((await allocate(capture)).stdout).toBe((await allocate(join(out, 'events.jsonl'))).stdout);

    expect((await readdir(tmp)).filter((name) => name.startsWith('tokenledger-'))).toEqual([]);
  });

  it("analyses Json.NET's indented bodies, which a JSON lines file cannot hold, and counts bodies without text", async () => {
    const tmp = await temporaryFolder('tokenledger-capture-cli-');
    const aiHub = await readFile(new URL('../fixtures/ai-hub-gateway/event-main.json', import.meta.url));
    const file = join(tmp, '00.avro');
    await writeCaptureFile(file, [aiHub, null, '']);
    const { stdout, stderr } = await cliIn(tmp)('analyze', '--events', file, '--format', 'json');
    const result = JSON.parse(stdout) as { totals: { requests: number; promptTokens: number }; deadLetters: number };
    expect(result).toMatchObject({ totals: { requests: 1, promptTokens: 1523 }, deadLetters: 0 });
    expect(stderr).toContain('1 event from 1 Capture file; 2 without a body, not analysed\n');
  });

  it('refuses a Capture file cut short, and a folder holding other files, naming what is wrong', async () => {
    const tmp = await temporaryFolder('tokenledger-capture-cli-');
    const cli = cliIn(tmp);
    const capture = join(tmp, 'capture');
    await mkdir(join(capture, '0'), { recursive: true });
    await writeCaptureFile(join(capture, '0', '00.avro'), ['{"a":1}', '{"b":2}'], { codec: 'null' });
    const bytes = await readFile(join(capture, '0', '00.avro'));
    await writeFile(join(capture, '0', '00.avro'), bytes.subarray(0, bytes.length - 5));
    await expect(cli('analyze', '--events', capture)).rejects.toMatchObject({
      stderr: expect.stringMatching(/\] reading 1 Event Hubs Capture file .*\ntokenledger: ".*00\.avro" ends inside block 1 \(at byte \d+\).*: the file is cut short\n$/),
    });
    // The temporary file of the read that failed is gone too.
    expect((await readdir(tmp)).filter((name) => name.startsWith('tokenledger-'))).toEqual([]);

    await writeFile(join(capture, 'notes.txt'), 'not an event\n');
    await expect(cli('analyze', '--events', capture)).rejects.toMatchObject({
      stderr: `tokenledger: --events ${JSON.stringify(capture)} is a folder, and "notes.txt" in it is not an Avro file: expected a file of gateway events as JSON lines (one Event Hubs body per line), or Event Hubs Capture files (.avro); a folder holds Capture files only\n`,
    });

    // A link to another download's partition folder is named, not passed over with its events.
    await rm(join(capture, 'notes.txt'));
    await writeCaptureFile(join(capture, '0', '00.avro'), ['{"a":1}']);
    const elsewhere = await temporaryFolder('tokenledger-capture-cli-');
    await symlink(elsewhere, join(capture, '1'));
    await expect(cli('analyze', '--events', capture)).rejects.toMatchObject({
      stderr: `tokenledger: --events ${JSON.stringify(capture)} is a folder, and "1" in it is a link to a folder, which is not followed: give the folder it links to as --events of its own, or copy its files in\n`,
    });
  });

  it('analyze, reconcile and allocate join a Log Analytics export of RequestResponse rows as they join the archive it was made from', async () => {
    const tmp = await temporaryFolder('tokenledger-la-export-cli-');
    const cli = cliIn(tmp);
    const out = join(tmp, 'day');
    await cli('simulate', '--requests', '600', '--seed', '11', '--day', '2026-10-15', '--out', out);
    const parsed = await archiveRecords(join(out, 'diagnostics'));
    const exports = { 'query-api.json': queryApiExport(parsed), 'az-cli.json': azCliExport(parsed), 'portal.csv': portalCsvExport(parsed) };
    for (const [name, text] of Object.entries(exports)) await writeFile(join(tmp, name), text);

    const events = join(out, 'events.jsonl');
    const analyze = (diagnostics: string) => cli('analyze', '--events', events, '--diagnostics', diagnostics, '--format', 'json');
    const fromArchive = await analyze(join(out, 'diagnostics'));
    expect((JSON.parse(fromArchive.stdout) as { diagnosticsRejected: number }).diagnosticsRejected).toBe(0);
    const reconcile = (diagnostics: string) => cli('reconcile', '--events', events, '--diagnostics', diagnostics, '--format', 'json');
    const allocate = (diagnostics: string) => cli('allocate', '--cost-export', join(out, 'cost-export.csv'), '--events', events, '--diagnostics', diagnostics, '--format', 'json');
    const [reconciled, allocated] = [await reconcile(join(out, 'diagnostics')), await allocate(join(out, 'diagnostics'))];
    for (const name of Object.keys(exports)) {
      const fromExport = await analyze(join(tmp, name));
      expect(fromExport.stdout).toBe(fromArchive.stdout);
      expect(fromExport.stderr).toContain(`${parsed.length.toLocaleString('en-US')} RequestResponse records read from ${join(tmp, name)}\n`);
      expect((await reconcile(join(tmp, name))).stdout).toBe(reconciled.stdout);
      expect((await allocate(join(tmp, name))).stdout).toBe(allocated.stdout);
    }
    expect((await readdir(tmp)).filter((name) => name.startsWith('tokenledger-'))).toEqual([]);
  });

  it('reads UTF-16 events, LLM log, metrics and Log Analytics exports (as Windows PowerShell 5 writes them) as their UTF-8 text', async () => {
    const tmp = await temporaryFolder('tokenledger-utf16-cli-');
    const cli = cliIn(tmp);
    const out = join(tmp, 'day');
    await cli('simulate', '--requests', '400', '--seed', '4', '--day', '2026-10-15', '--out', out);
    const utf16le = (text: string) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    const utf16be = (text: string) => Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()]);
    const converted = async (name: string, encode: (text: string) => Buffer) => {
      const path = join(tmp, `utf16-${name}`);
      await writeFile(path, encode(await readFile(join(out, name), 'utf8')));
      return path;
    };
    const [events, llmLog, metrics] = [await converted('events.jsonl', utf16le), await converted('llm-log.jsonl', utf16be), await converted('metrics.json', utf16le)];
    const diagnostics = join(out, 'diagnostics');

    const analyze = (e: string, l: string) => cli('analyze', '--events', e, '--diagnostics', diagnostics, '--llm-log', l, '--format', 'json');
    const fromUtf16 = await analyze(events, llmLog);
    expect(fromUtf16.stdout).toBe((await analyze(join(out, 'events.jsonl'), join(out, 'llm-log.jsonl'))).stdout);
    expect(fromUtf16.stderr).toContain(`${events} is UTF-16 text: reading a UTF-8 copy of it\n`);
    expect(fromUtf16.stderr).toContain(`${llmLog} is UTF-16 text: reading a UTF-8 copy of it\n`);
    const reconcile = (e: string, l: string, m: string) => cli('reconcile', '--events', e, '--diagnostics', diagnostics, '--llm-log', l, '--metrics', m, '--format', 'json');
    expect((await reconcile(events, llmLog, metrics)).stdout).toBe((await reconcile(join(out, 'events.jsonl'), join(out, 'llm-log.jsonl'), join(out, 'metrics.json'))).stdout);

    const exported = join(tmp, 'az-cli-utf16.json');
    await writeFile(exported, utf16le(azCliExport(await archiveRecords(diagnostics))));
    const overExport = await cli('analyze', '--events', join(out, 'events.jsonl'), '--diagnostics', exported, '--format', 'json');
    expect(overExport.stdout).toBe((await cli('analyze', '--events', join(out, 'events.jsonl'), '--diagnostics', diagnostics, '--format', 'json')).stdout);

    // A bad row of a UTF-16 file is named by the file given, not by its copy.
    const badLlmLog = join(tmp, 'bad-llm-log.jsonl');
    const rows = (await readFile(join(out, 'llm-log.jsonl'), 'utf8')).trimEnd().split('\n');
    await writeFile(badLlmLog, utf16le([...rows, '{"CorrelationId":"a","TimeGenerated":"yesterday"}'].join('\n')));
    const refused = analyze(events, badLlmLog);
    await expect(refused).rejects.toMatchObject({ stderr: expect.stringContaining(`tokenledger: ${badLlmLog} line ${rows.length + 1}: invalid ApiManagementGatewayLlmLog row`) });
    await expect(refused).rejects.toMatchObject({ stderr: expect.not.stringContaining('utf8-') });

    // A pretty-printed document is still told from JSON lines in UTF-16.
    await writeFile(join(tmp, 'pretty.json'), utf16le('{\n  "schema": "tokenledger.gateway/v1"\n}\n'));
    await expect(cli('analyze', '--events', join(tmp, 'pretty.json'))).rejects.toMatchObject({ stderr: expect.stringContaining('is one JSON document written over several lines') });
    expect((await readdir(tmp)).filter((name) => name.startsWith('tokenledger-'))).toEqual([]);
  });
});
