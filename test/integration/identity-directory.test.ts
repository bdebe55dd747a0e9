import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TableClient } from '@azure/data-tables';
import { Command, CommanderError } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MemoryIdentityDirectory } from '../../src/adapters/memory/memory-identity-directory.js';
import { caseVariantRanges, decodeRowKey, encodeRowKey, TableIdentityDirectory } from '../../src/adapters/tables/table-identity-directory.js';
import { directoryCommand, type DirectoryConnection } from '../../src/cli/commands/directory.js';
import type { DirectoryRow } from '../../src/contracts/directory.js';
import { startAzurite, type Azurite } from '../../src/local/azurite.js';
import type { EditableIdentityDirectory, IdentityDirectory } from '../../src/ports/identity-directory.js';
import { TransientStoreError } from '../../src/ports/ledger-store.js';
import { findDirectoryEntry, removeDirectoryEntry, replaceDirectoryEntry } from '../../src/services/directory-entry.js';
import { importDirectory } from '../../src/services/import-directory.js';

const HEADER = 'identity,displayName,team,costCenter,kind';
const KINDS = ['user', 'servicePrincipal', 'managedIdentity', 'workloadIdentity', 'apimSubscription', ''] as const;
const TEAMS = [
  ['Search', 'CC-1001'],
  ['Support Copilot, EMEA', 'CC-1002'],
  ['Data "Science"', 'CC-2001'],
] as const;

const quote = (value: string) => (/[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);
const guid = (n: number) => `${n.toString(16).padStart(8, '0')}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

function row(n: number): DirectoryRow {
  const [team, costCenter] = TEAMS[n % TEAMS.length]!;
  const kind = KINDS[n % KINDS.length]!;
  const base = { identity: n % 10 === 9 ? `sub-${n}` : guid(n), displayName: n % 7 === 0 ? `=HYPERLINK("x","${n}")` : `Caller ${n}`, team, costCenter };
  return kind === '' ? base : { ...base, kind };
}

function toCsv(rows: readonly DirectoryRow[], options: { upperCaseGuids?: boolean } = {}): string {
  const lines = rows.map((r) =>
    [options.upperCaseGuids && /^[0-9a-f-]{36}$/.test(r.identity) ? r.identity.toUpperCase() : r.identity, r.displayName, r.team, r.costCenter, r.kind ?? ''].map(quote).join(','),
  );
  return [HEADER, ...lines].join('\r\n') + '\r\n';
}

const byIdentity = (rows: readonly DirectoryRow[]) => new Map(rows.map((r) => [r.identity, r]));

let azurite: Azurite;
let tables = 0;
/** A fresh table per test, so tests never see each other's rows. */
function tableClient(): TableClient {
  return TableClient.fromConnectionString(azurite.connectionString, `identities${++tables}`, { allowInsecureConnection: true });
}

/**
 * A fresh table holding rows as another release or tool wrote them (the directory's checks bypassed), and the
 * directory over it.
 */
async function directoryHolding(...rows: (Record<string, unknown> & { identity: string })[]): Promise<TableIdentityDirectory> {
  const table = tableClient();
  await table.createTable();
  for (const { identity, ...fields } of rows) await table.createEntity({ partitionKey: 'identity', rowKey: encodeRowKey(identity), ...fields });
  return new TableIdentityDirectory(table);
}

/** The `directory` command over a directory, with what it prints and how often it connected and closed. */
function harness(directory: EditableIdentityDirectory = new MemoryIdentityDirectory()) {
  const io = { out: '', err: '', connects: 0, closes: 0 };
  const connect = async (): Promise<DirectoryConnection> => {
    io.connects++;
    return { directory, close: async () => void io.closes++ };
  };
  const command = directoryCommand(connect)
    .exitOverride()
    .configureOutput({ writeOut: (s) => void (io.out += s), writeErr: (s) => void (io.err += s) });
  return { io, command, directory };
}

beforeAll(async () => {
  azurite = await startAzurite();
});

afterAll(async () => {
  await azurite?.stop();
});

const implementations: [string, () => IdentityDirectory][] = [
  ['TableIdentityDirectory on Azurite', () => TableIdentityDirectory.fromConnectionString(azurite.connectionString, `identities${++tables}`)],
  ['MemoryIdentityDirectory', () => new MemoryIdentityDirectory()],
];

describe.each(implementations)('IdentityDirectory contract: %s', (_, create) => {
  it('imports 250 rows from a file and reads them back equal', async () => {
    const directory = create();
    const rows = Array.from({ length: 250 }, (_, n) => row(n + 1));
    const result = await importDirectory(toCsv(rows, { upperCaseGuids: true }), directory);
    expect(result).toEqual({ imported: 250, errors: [] });
    expect(await directory.getAll()).toEqual(byIdentity(rows));
  });

  it('is empty before anything is written', async () => {
    expect(await create().getAll()).toEqual(new Map());
  });

  it('re-importing the same file changes nothing; a changed file replaces its rows and keeps the others', async () => {
    const directory = create();
    const rows = Array.from({ length: 30 }, (_, n) => row(n + 1));
    await importDirectory(toCsv(rows), directory);
    const first = await directory.getAll();
    expect(await importDirectory(toCsv(rows), directory)).toEqual({ imported: 30, errors: [] });
    expect(await directory.getAll()).toEqual(first);

    const withKind = rows.find((r) => r.kind !== undefined)!;
    const changed: DirectoryRow = { identity: withKind.identity, displayName: 'Renamed', team: 'Platform', costCenter: 'CC-4001' };
    await importDirectory(toCsv([changed]), directory);
    const after = await directory.getAll();
    expect(after.size).toBe(30);
    expect(after.get(withKind.identity)).toEqual(changed);
    expect(after.get(withKind.identity)).not.toHaveProperty('kind');
  });

  it('imports nothing from a file with any error, and reports them all', async () => {
    const directory = create();
    const existing = [row(1), row(2)];
    await directory.upsertRows(existing);
    const rows = Array.from({ length: 120 }, (_, n) => row(n + 100));
    const lines = toCsv(rows).trimEnd().split('\r\n');
    lines.splice(50, 0, `${guid(5000)},Ana,Search`); // line 51: a missing field
    lines.push(`${guid(100)},Again,Search,CC-1001,`); // line 123: a duplicate of line 2
    const result = await importDirectory(lines.join('\n'), directory);
    expect(result).toEqual({
      imported: 0,
      errors: [
        { line: 51, reason: 'expected 5 fields (identity,displayName,team,costCenter,kind), got 3' },
        { line: 123, reason: `duplicate identity "${guid(100)}": lines 2 and 123` },
      ],
    });
    expect(await directory.getAll()).toEqual(byIdentity(existing));
  });

  it('lets the later row of an identity win within one write', async () => {
    const directory = create();
    await directory.upsertRows([row(1), { ...row(1), displayName: 'Later' }, row(2)]);
    const all = await directory.getAll();
    expect(all.size).toBe(2);
    expect(all.get(row(1).identity)?.displayName).toBe('Later');
  });

  it('refuses an invalid row before writing anything', async () => {
    const directory = create();
    const bad = { ...row(2), team: 'x'.repeat(129) };
    await expect(directory.upsertRows([row(1), bad])).rejects.toThrow(RangeError);
    await expect(directory.upsertRows([row(1), bad])).rejects.toThrow(/team: longer than 128 characters/);
    expect(await directory.getAll()).toEqual(new Map());
  });

  it('normalises what it stores, and hands out copies', async () => {
    const directory = create();
    await directory.upsertRows([{ ...row(1), identity: `  ${row(1).identity.toUpperCase()} ` }]);
    const all = await directory.getAll();
    expect([...all.keys()]).toEqual([row(1).identity]);
    all.get(row(1).identity)!.displayName = 'mutated';
    expect((await directory.getAll()).get(row(1).identity)?.displayName).toBe(row(1).displayName);
  });

  it('honours an aborted signal', async () => {
    const directory = create();
    await expect(directory.upsertRows([row(1)], { abortSignal: AbortSignal.abort() })).rejects.toThrow();
    await expect(directory.getAll({ abortSignal: AbortSignal.abort() })).rejects.toThrow();
  });
});

describe('TableIdentityDirectory', () => {
  const tricky = [
    'team/app',
    'a#b',
    'what?',
    'back\\slash',
    'per%cent',
    '%2F-looks-encoded',
    "o'brien",
    'plus+sign and space',
    'ünïcödé-名前-😀',
    'tilde~s-not-a-slash',
    '~~s~',
    '/#?\\%~',
    '/'.repeat(256),
    '~'.repeat(256),
  ];

  it('escapes only what row keys forbid, and decodes back', () => {
    expect(encodeRowKey('a/b#c?d\\e%f~g')).toBe('a~sb~hc~qd~be%f~~g');
    expect(encodeRowKey(guid(7))).toBe(guid(7));
    expect(encodeRowKey('sub-search-1')).toBe('sub-search-1');
    for (const identity of tricky) {
      expect(decodeRowKey(encodeRowKey(identity))).toBe(identity);
      // Row keys hold at most 1 KiB (512 UTF-16 code units), even when every character of the longest identity is escaped.
      expect(encodeRowKey(identity).length).toBeLessThanOrEqual(512);
    }
  });

  it('round-trips identities with characters row keys forbid', async () => {
    const table = tableClient();
    const directory = new TableIdentityDirectory(table);
    const rows = tricky.map((identity, n) => ({ ...row(n), identity }));
    await directory.upsertRows(rows);
    expect(await directory.getAll()).toEqual(byIdentity(rows));
    const keys: string[] = [];
    for await (const entity of table.listEntities()) keys.push(entity.rowKey!);
    expect(keys).toContain('team~sapp');
    expect(keys).toContain('a~hb');
    // And through the CSV import.
    const imported = new TableIdentityDirectory(tableClient());
    expect(await importDirectory(toCsv(rows), imported)).toEqual({ imported: rows.length, errors: [] });
    expect(await imported.getAll()).toEqual(byIdentity(rows));
  });

  it('writes in transactions of at most 100 rows in one partition, creating the table once', async () => {
    const table = tableClient();
    const submit = vi.spyOn(table, 'submitTransaction');
    const create = vi.spyOn(table, 'createTable');
    const directory = new TableIdentityDirectory(table);
    await importDirectory(toCsv(Array.from({ length: 250 }, (_, n) => row(n))), directory);
    expect(create).toHaveBeenCalledTimes(1);
    // The first transaction is retried after creating the table.
    const sizes = submit.mock.calls.map(([actions]) => actions.length);
    expect(sizes).toEqual([100, 100, 100, 50]);
    for (const [actions] of submit.mock.calls) for (const action of actions) expect(action[1].partitionKey).toBe('identity');
  });

  it('turns throttling and unavailability into TransientStoreError, and passes other failures on', async () => {
    const failing = (statusCode: number) =>
      new TableIdentityDirectory({
        submitTransaction: async () => Promise.reject(Object.assign(new Error(`HTTP ${statusCode}`), { statusCode })),
        createTable: async () => undefined,
        listEntities: () => ({
          [Symbol.asyncIterator]: () => ({ next: async () => Promise.reject(Object.assign(new Error(`HTTP ${statusCode}`), { statusCode })) }),
        }),
      } as unknown as TableClient);
    for (const status of [429, 503]) {
      await expect(failing(status).upsertRows([row(1)])).rejects.toBeInstanceOf(TransientStoreError);
      await expect(failing(status).getAll()).rejects.toBeInstanceOf(TransientStoreError);
    }
    await expect(failing(400).upsertRows([row(1)])).rejects.toThrow('HTTP 400');
    await expect(failing(403).getAll()).rejects.toThrow('HTTP 403');
  });

  it('refuses to read a row that no longer passes the schema', async () => {
    const table = tableClient();
    await table.createTable();
    await table.createEntity({ partitionKey: 'identity', rowKey: 'x', displayName: 'X', team: 'T', costCenter: 'C', kind: 'robot' });
    await expect(new TableIdentityDirectory(table).getAll()).rejects.toThrow(/identity directory row "x" is invalid: kind: expected one of.*`tokenledger directory remove -- 'x'`/);
    // The whole identity however long, quoted for the shell.
    const long = `sub-${"o'".repeat(60)}`;
    await table.createEntity({ partitionKey: 'identity', rowKey: encodeRowKey(long), displayName: 'X', team: 'T', costCenter: 'C', kind: 'robot' });
    await table.deleteEntity('identity', 'x');
    const error = await new TableIdentityDirectory(table).getAll().catch((e: Error) => e.message);
    expect(error).toContain(`\`tokenledger directory remove -- '${long.replace(/'/g, `'\\''`)}'\``);
  });

  it('removes an unreadable row with the very command its error names, an upper-case GUID or a leading "-" included', async () => {
    for (const identity of ['0B2C4D6E-0000-4000-8000-00000000A001', '-legacy-app']) {
      const directory = await directoryHolding({ identity, displayName: 'X', team: 'T', costCenter: 'C', kind: 'robot' });
      const message = await directory.getAll().then(() => '', (e: Error) => e.message);
      const named = /`tokenledger directory remove -- '([^']*)'`/.exec(message)?.[1];
      expect(named, message).toBe(identity);
      const { io, command } = harness(directory);
      await command.parseAsync(['remove', '--', named!], { from: 'user' });
      expect(io.out).toMatch(/^removed /);
      expect((await directory.getAll()).size).toBe(0);
    }
  });

  it('removes by the spelling it lists a valid row an earlier release stored under an upper-case GUID', async () => {
    const legacy = '0B2C4D6E-0000-4000-8000-00000000A002';
    const directory = await directoryHolding({ identity: legacy, displayName: 'Search backend', team: 'Search', costCenter: 'CC-1001' });
    const listed = [...(await directory.listVersioned()).keys()];
    expect(listed).toEqual([legacy.toLowerCase()]);
    expect(await removeDirectoryEntry(directory, listed[0]!)).toEqual({ outcome: 'deleted' });
    expect((await directory.getAll()).size).toBe(0);
  });

  it('finds and removes by the spelling it lists a row an earlier release stored under a mixed-case GUID', async () => {
    const legacy = '0b2c4d6e-0000-4000-8000-00000000A003';
    const directory = await directoryHolding({ identity: legacy, displayName: 'Search backend', team: 'Search', costCenter: 'CC-1001' });
    const listed = await directory.listVersioned();
    expect([...listed.keys()]).toEqual([legacy.toLowerCase()]);
    expect(await findDirectoryEntry(directory, legacy.toLowerCase())).toEqual({ ...listed.get(legacy.toLowerCase()), storedKey: legacy });
    expect(await removeDirectoryEntry(directory, legacy.toLowerCase())).toEqual({ outcome: 'deleted' });
    expect((await directory.getAll()).size).toBe(0);
  });

  it('edits in place, with the ETag it was read with, a row an earlier release stored under a mixed-case GUID', async () => {
    const legacy = '0b2c4d6e-0000-4000-8000-00000000A005';
    const directory = await directoryHolding({ identity: legacy, displayName: 'Search backend', team: 'Search', costCenter: 'CC-1001' });
    const read = (await findDirectoryEntry(directory, legacy.toLowerCase()))!;
    const edited = { identity: legacy.toLowerCase(), displayName: 'Search backend', team: 'Ads', costCenter: 'CC-1001' };
    const written = await replaceDirectoryEntry(directory, legacy.toLowerCase(), edited, { ifMatch: read.etag });
    expect(written).toMatchObject({ outcome: 'written', created: false });
    // One row, still under its stored key, at the new version; the old ETag no longer writes.
    expect(await directory.storedCaseVariants(legacy.toLowerCase())).toEqual([legacy]);
    expect(await findDirectoryEntry(directory, legacy.toLowerCase())).toEqual({ row: edited, etag: written.outcome === 'written' ? written.etag : '', storedKey: legacy });
    expect(await replaceDirectoryEntry(directory, legacy.toLowerCase(), { ...edited, team: 'Search' }, { ifMatch: read.etag })).toEqual({ outcome: 'stale' });
  });

  it('lists and finds, at any spelling, the same one of the rows stored under several spellings of a GUID, and removes them all, never a neighbouring key', async () => {
    const key = 'ab2c4d6e-0000-4000-8000-00000000a004';
    const [first, second] = ['Ab2C4D6E-0000-4000-8000-00000000a004', 'aB2c4d6e-0000-4000-8000-00000000A004'];
    // Keys inside the ranges queried for the GUID's spellings: another GUID, and an id whose case is its own.
    const neighbours = ['AB2C4D6E-0000-4000-8000-00000000A00F', 'Ab2D-app'];
    const directory = await directoryHolding(
      ...[second, first, ...neighbours].map((identity) => ({ identity, displayName: identity, team: 'Search', costCenter: 'CC-1001' })),
    );
    expect((await directory.storedCaseVariants(key)).sort()).toEqual([first, second]);
    const listed = (await directory.listVersioned()).get(key);
    expect(listed?.row.displayName).toBe(first);
    for (const spelling of [key, first, second]) expect(await findDirectoryEntry(directory, spelling)).toEqual({ ...listed, storedKey: first });
    expect(await removeDirectoryEntry(directory, second, { ifMatch: listed!.etag })).toEqual({ outcome: 'deleted' });
    expect(await directory.storedCaseVariants(key)).toEqual([]);
    expect([...(await directory.listVersioned()).values()].map(({ row }) => row.displayName).sort()).toEqual(neighbours);
  });

  it('reads a row stored as now or upper-cased by point alone, and queries for other spellings only of a GUID no point read finds or one removed', async () => {
    const table = tableClient();
    await table.createTable();
    const [current, upper, missing] = [guid(0xa1), guid(0xa2).toUpperCase(), guid(0xa3)];
    for (const rowKey of [current, upper]) await table.createEntity({ partitionKey: 'identity', rowKey, displayName: rowKey, team: 'Search', costCenter: 'CC-1001' });
    const directory = new TableIdentityDirectory(table);
    const queries = vi.spyOn(table, 'listEntities');
    expect((await findDirectoryEntry(directory, current))?.row.displayName).toBe(current);
    expect((await findDirectoryEntry(directory, upper.toLowerCase()))?.row.displayName).toBe(upper);
    expect(await findDirectoryEntry(directory, 'sub-missing')).toBeNull();
    expect(queries).not.toHaveBeenCalled();
    expect(await findDirectoryEntry(directory, missing)).toBeNull();
    expect(queries).toHaveBeenCalledTimes(1);
    // A remove looks for every spelling it must take with it.
    expect(await removeDirectoryEntry(directory, upper.toLowerCase())).toEqual({ outcome: 'deleted' });
    expect(await removeDirectoryEntry(directory, missing)).toEqual({ outcome: 'absent' });
    expect(queries).toHaveBeenCalledTimes(3);
  });

  it('queries for the spellings of a GUID with ranges that hold every one of them, within the 15 comparisons a filter may make', () => {
    const key = 'a0b1c2d3-0000-4000-8000-0000000000ef';
    const ranges = caseVariantRanges(key);
    expect(1 + 2 * ranges.length).toBeLessThanOrEqual(15);
    const letters = [...key].flatMap((character, at) => (/[a-f]/.test(character) ? [at] : []));
    for (let mask = 0; mask < 2 ** letters.length; mask++) {
      const spelling = [...key];
      letters.forEach((at, bit) => {
        if (mask & (1 << bit)) spelling[at] = spelling[at]!.toUpperCase();
      });
      const stored = spelling.join('');
      expect(ranges.some(([low, high]) => low <= stored && stored <= high), stored).toBe(true);
    }
  });

  it('names a row whose identity holds a bidirectional override in a command bash turns back into that identity', async () => {
    const identity = "sub-\u202eppa-hcraes's";
    const directory = await directoryHolding({ identity, displayName: 'Search', team: 'Search', costCenter: 'CC-1' });
    const message = await directory.getAll().then(() => '', (e: Error) => e.message);
    const quoted = /`tokenledger directory remove -- (.*)` and import it again/.exec(message)?.[1];
    expect(quoted, message).toBe("$'sub-\\u202eppa-hcraes\\'s'");
    // What bash passes on for the quoted word is the identity itself.
    const { stdout } = await promisify(execFile)('bash', ['-c', `printf %s ${quoted}`]);
    expect(stdout).toBe(identity);
    expect(await removeDirectoryEntry(directory, stdout)).toEqual({ outcome: 'deleted' });
  });

  it('lists and reads the row spelt as now past a legacy upper-case row of its GUID that no longer passes the schema, and removes both with the identity', async () => {
    const legacy = '0B2C4D6E-0000-4000-8000-00000000A001';
    const directory = await directoryHolding(
      { identity: legacy, displayName: 'X', team: 'T', costCenter: 'C', kind: 'robot' },
      { identity: legacy.toLowerCase(), displayName: 'Search backend', team: 'Search', costCenter: 'CC-1001' },
    );
    expect([...(await directory.getAll()).values()].map((row) => [row.identity, row.team])).toEqual([[legacy.toLowerCase(), 'Search']]);
    expect((await findDirectoryEntry(directory, legacy))?.storedKey).toBe(legacy.toLowerCase());
    const { io, command } = harness(directory);
    await command.parseAsync(['remove', '--', legacy], { from: 'user' });
    expect(io.out).toBe(`removed ${legacy.toLowerCase()}\n`);
    expect(await directory.storedCaseVariants(legacy.toLowerCase())).toEqual([]);
  });

  it('sets, at any spelling of a GUID, the entry the listing shows when an earlier release also stored it upper-cased', async () => {
    const legacy = '0B2C4D6E-0000-4000-8000-00000000A006';
    const current = { identity: legacy.toLowerCase(), displayName: 'Current', team: 'Search', costCenter: 'CC-1001' };
    const directory = await directoryHolding({ identity: legacy, displayName: 'Old', team: 'T', costCenter: 'C' }, current);
    const { io, command } = harness(directory);
    await command.parseAsync(['set', legacy, '--team', 'Ads'], { from: 'user' });
    expect(io.out).toMatch(new RegExp(`^changed ${current.identity} \\(etag `));
    expect((await directory.getAll()).get(current.identity)).toEqual({ ...current, team: 'Ads' });
    expect((await directory.getVersioned(legacy))?.row.team).toBe('T');
  });

  it('reads a row holding control characters (written before they were refused, or by another tool) with them shown as U+FFFD', async () => {
    const oid = guid(7);
    const directory = await directoryHolding(
      { identity: oid, displayName: 'Ana\u0007', team: 'Search \u202eAME', costCenter: 'CC-\ud800' },
      { identity: 'sub-1', displayName: 'Support bot', team: 'Support', costCenter: 'CC-1002' },
    );
    const rows = await directory.getAll();
    expect(rows.get(oid)).toEqual({ identity: oid, displayName: 'Ana\ufffd', team: 'Search \ufffdAME', costCenter: 'CC-\ufffd' });
    expect(rows.get('sub-1')?.team).toBe('Support');

    // `directory set` reads the entry first: it can now correct it in place.
    const versioned = await directory.getVersioned(oid);
    expect(await directory.replace({ ...versioned!.row, team: 'Search' }, { ifMatch: versioned!.etag })).toMatchObject({ outcome: 'written' });
    expect((await directory.getVersioned(oid))?.row.team).toBe('Search');
  });

  it('allows plain http only for a loopback emulator', () => {
    const remote = 'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;TableEndpoint=http://example.invalid/devstoreaccount1;';
    const directory = TableIdentityDirectory.fromConnectionString(remote);
    return expect(directory.getAll()).rejects.toThrow(/insecure|https/i);
  });
});

describe('directory command', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tokenledger-directory-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function file(name: string, text: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  }

  it('imports a file and closes the connection', async () => {
    const { io, command, directory } = harness();
    const path = await file('ok.csv', toCsv([row(1), row(2), row(3)]));
    await command.parseAsync(['import', path], { from: 'user' });
    expect(io.out).toBe('imported 3 identities\n');
    expect(io.err).toBe('');
    expect([io.connects, io.closes]).toEqual([1, 1]);
    expect((await directory.getAll()).size).toBe(3);
  });

  it('prints every error with its line on stderr, imports nothing and exits with code 1', async () => {
    const { io, command, directory } = harness();
    const path = await file('bad.csv', ['identity,displayName,team,costCenter', 'a,A,T,C', 'b,B,T', 'c,C,T,C\u0007', 'a,A2,T,C'].join('\n'));
    const run = command.parseAsync(['import', path], { from: 'user' });
    await expect(run).rejects.toBeInstanceOf(CommanderError);
    await expect(run).rejects.toMatchObject({ exitCode: 1, code: 'tokenledger.directory.invalidFile' });
    expect(io.err).toBe(
      [
        'line 3: expected 4 fields (identity,displayName,team,costCenter), got 3',
        'line 4: costCenter: contains a control character',
        'line 5: duplicate identity "a": lines 2 and 5',
        `imported nothing: 3 errors in ${path}`,
        '',
      ].join('\n'),
    );
    expect(io.out).toBe('');
    expect(io.connects).toBe(0);
    expect((await directory.getAll()).size).toBe(0);
  });

  it('runs as `tokenledger directory import FILE` under a root program', async () => {
    const { io, command, directory } = harness();
    const program = new Command('tokenledger').exitOverride().configureOutput(command.configureOutput());
    program.addCommand(command);
    const good = await file('root.csv', toCsv([row(4)]));
    await program.parseAsync(['directory', 'import', good], { from: 'user' });
    expect(io.out).toBe('imported 1 identity\n');
    const bad = await file('root-bad.csv', 'identity,name\n');
    await expect(program.parseAsync(['directory', 'import', bad], { from: 'user' })).rejects.toMatchObject({ exitCode: 1 });
    expect(io.err).toMatch(/^line 1: header must be exactly identity,displayName,team,costCenter/);
    expect((await directory.getAll()).size).toBe(1);
  });

  it('exits with code 1 for a missing file, a file that is not UTF-8, and a missing argument', async () => {
    const { io, command } = harness();
    await expect(command.parseAsync(['import', join(dir, 'nope.csv')], { from: 'user' })).rejects.toMatchObject({ exitCode: 1, code: 'tokenledger.directory.unreadableFile' });
    expect(io.err).toContain(`cannot read the directory CSV: ${JSON.stringify(join(dir, 'nope.csv'))} does not exist`);
    await expect(command.parseAsync(['import', dir], { from: 'user' })).rejects.toMatchObject({ exitCode: 1, code: 'tokenledger.directory.unreadableFile' });
    expect(io.err).toContain(`cannot read the directory CSV: ${JSON.stringify(dir)} is a folder, not a file`);
    const latin1 = join(dir, 'latin1.csv');
    await writeFile(latin1, Buffer.from('identity,displayName,team,costCenter\nx,Jos\xe9,T,C\n', 'latin1'));
    await expect(command.parseAsync(['import', latin1], { from: 'user' })).rejects.toMatchObject({ exitCode: 1 });
    expect(io.err).toMatch(/is not UTF-8 text/);
    // Windows PowerShell 5.1's `>` writes UTF-16 LE with its byte-order mark (about_Character_Encoding).
    const utf16 = join(dir, 'utf16.csv');
    await writeFile(utf16, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('identity,displayName,team,costCenter\r\nx,José,T,C\r\n', 'utf16le')]));
    await expect(command.parseAsync(['import', utf16], { from: 'user' })).rejects.toMatchObject({ exitCode: 1 });
    expect(io.err).toContain(`${utf16} is UTF-16 text (it begins with the byte-order mark FF FE): save it as UTF-8`);
    await expect(command.parseAsync(['import'], { from: 'user' })).rejects.toMatchObject({ exitCode: 1, code: 'commander.missingArgument' });
    expect(io.connects).toBe(0);
  });

  it('lists the directory sorted by identity', async () => {
    const { io, command } = harness(new MemoryIdentityDirectory([row(2), row(1)]));
    await command.parseAsync(['list'], { from: 'user' });
    const lines = io.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^identity\s+displayName\s+team\s+costCenter\s+kind$/);
    expect(lines.slice(2).map((l) => l.split(/\s{2,}/)[0])).toEqual([row(1).identity, row(2).identity]);
    expect(lines[2]).toContain('servicePrincipal');
    expect(io.closes).toBe(1);
    const empty = harness();
    await empty.command.parseAsync(['list'], { from: 'user' });
    expect(empty.io.out).toBe('the directory is empty\n');
  });

  it.each([
    [[], /^Usage: directory \[options\] \[command\]/],
    [['import'], /^Usage: directory import \[options\] <file>[\s\S]*identity,displayName,team,costCenter[\s\S]*nothing is imported/],
    [['list'], /^Usage: directory list \[options\]/],
  ])('prints help for %j', async (args, usage) => {
    const { io, command } = harness();
    await expect(command.parseAsync([...args, '--help'], { from: 'user' })).rejects.toMatchObject({ exitCode: 0, code: 'commander.helpDisplayed' });
    expect(io.out).toMatch(usage);
    expect(io.connects).toBe(0);
  });
});
