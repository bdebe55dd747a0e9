import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directoryCommand } from '../../src/cli/commands/directory.js';
import { tokenFor } from '../../src/cli/directory-client.js';
import { MemoryIdentityDirectory } from '../../src/adapters/memory/memory-identity-directory.js';
import { encodeRowKey, TableIdentityDirectory } from '../../src/adapters/tables/table-identity-directory.js';
import { APP_ROLES } from '../../src/contracts/access.js';
import type { DirectoryRow } from '../../src/contracts/directory.js';
import type { HttpHost } from '../../src/local/http-host.js';
import { startLocalApi } from '../../src/local/local-api.js';
import { startLocalStack, type LocalStack } from '../../src/local/local-stack.js';
import type { EditableIdentityDirectory } from '../../src/ports/identity-directory.js';

const SEARCH: DirectoryRow = { identity: '0b2c4d6e-0000-4000-8000-00000000a001', displayName: 'Search backend', team: 'Search', costCenter: 'CC-1001', kind: 'managedIdentity' };
const BOT: DirectoryRow = { identity: 'sub-support-bot', displayName: 'Support bot', team: 'Support', costCenter: 'CC-1002' };

let stack: LocalStack;
let tables = 0;

beforeAll(async () => {
  stack = await startLocalStack();
});

afterAll(async () => {
  await stack?.stop();
});

const implementations: [string, () => EditableIdentityDirectory][] = [
  ['TableIdentityDirectory on Azurite', () => TableIdentityDirectory.fromConnectionString(stack.azurite.connectionString, `edits${++tables}`)],
  ['MemoryIdentityDirectory', () => new MemoryIdentityDirectory()],
];

describe.each(implementations)('conditional directory writes: %s', (_, create) => {
  it('creates a row once; a second create finds it and changes nothing', async () => {
    const directory = create();
    const first = await directory.create(SEARCH);
    expect(first).toMatchObject({ outcome: 'written', created: true });
    expect(await directory.create({ ...SEARCH, team: 'Other' })).toEqual({ outcome: 'exists' });
    expect(await directory.getVersioned(SEARCH.identity)).toEqual({ row: SEARCH, etag: (first as { etag: string }).etag });
  });

  it('replaces over the current ETag, refuses a stale one, and every write changes the ETag', async () => {
    const directory = create();
    const created = await directory.replace(SEARCH);
    expect(created).toMatchObject({ outcome: 'written', created: true });
    const before = (created as { etag: string }).etag;
    const replaced = await directory.replace({ ...SEARCH, team: 'Search Platform' }, { ifMatch: before });
    expect(replaced).toMatchObject({ outcome: 'written', created: false });
    const after = (replaced as { etag: string }).etag;
    expect(after).not.toBe(before);
    expect(await directory.replace({ ...SEARCH, team: 'Stale' }, { ifMatch: before })).toEqual({ outcome: 'stale' });
    expect((await directory.getAll()).get(SEARCH.identity)?.team).toBe('Search Platform');
    expect(await directory.replace(BOT, { ifMatch: after })).toEqual({ outcome: 'stale' });
    expect((await directory.listVersioned()).get(SEARCH.identity)).toEqual({ row: { ...SEARCH, team: 'Search Platform' }, etag: after });
  });

  it('deletes only the version given, and reports a row that is not there', async () => {
    const directory = create();
    const first = (await directory.create(BOT)) as { etag: string };
    const second = (await directory.replace({ ...BOT, team: 'Support EMEA' })) as { etag: string };
    expect(await directory.remove(BOT.identity, { ifMatch: first.etag })).toEqual({ outcome: 'stale' });
    expect(await directory.remove(BOT.identity, { ifMatch: second.etag })).toEqual({ outcome: 'deleted' });
    expect(await directory.remove(BOT.identity)).toEqual({ outcome: 'absent' });
    expect(await directory.getVersioned(BOT.identity)).toBeNull();
  });

  it('lets exactly one of several writes over the same ETag win', async () => {
    const directory = create();
    const { etag } = (await directory.create(SEARCH)) as { etag: string };
    const teams = ['A', 'B', 'C', 'D', 'E', 'F'];
    const outcomes = await Promise.all(teams.map((team) => directory.replace({ ...SEARCH, team }, { ifMatch: etag })));
    const winners = teams.filter((_, i) => outcomes[i]!.outcome === 'written');
    expect(winners).toHaveLength(1);
    expect(outcomes.filter((o) => o.outcome === 'stale')).toHaveLength(teams.length - 1);
    expect((await directory.getAll()).get(SEARCH.identity)?.team).toBe(winners[0]);
  });

  it('refuses a row the import would refuse before writing anything', async () => {
    const directory = create();
    await expect(directory.create({ ...SEARCH, team: 'tab\there' })).rejects.toThrow(RangeError);
    await expect(directory.replace({ ...BOT, costCenter: '' })).rejects.toThrow(/costCenter: must not be empty/);
    expect(await directory.getAll()).toEqual(new Map());
  });
});

describe('directory API on the local stack', () => {
  let api: HttpHost;
  let writer: string;
  let finance: string;
  let operator: string;

  beforeAll(async () => {
    api = await startLocalApi(stack);
    [writer, finance, operator] = await Promise.all([
      stack.issuer.issue({ oid: '5e1d0c2b-0000-4000-8000-0000000d1e01', name: 'Directory admin', roles: [APP_ROLES.directoryWrite] }),
      stack.issuer.issue({ oid: '5e1d0c2b-0000-4000-8000-0000000d1e02', name: 'Finance', roles: [APP_ROLES.chargebackReadAll] }),
      stack.issuer.issue({ oid: '5e1d0c2b-0000-4000-8000-0000000d1e03', name: 'Operator', roles: [APP_ROLES.operationsRead] }),
    ]);
  });
  afterAll(async () => {
    await api?.stop();
  });

  const call = (method: string, path: string, options: { token?: string; body?: unknown; raw?: string; type?: string; ifMatch?: string; ifNoneMatch?: string } = {}) => {
    const headers: Record<string, string> = { authorization: `Bearer ${options.token ?? writer}` };
    if (options.ifMatch !== undefined) headers['if-match'] = options.ifMatch;
    if (options.ifNoneMatch !== undefined) headers['if-none-match'] = options.ifNoneMatch;
    const body = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    if (body !== undefined) headers['content-type'] = options.type ?? 'application/json';
    return fetch(`${api.url}/api/directory${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  };
  const entries = async (token = writer) => ((await (await call('GET', '', { token })).json()) as { entries: (DirectoryRow & { etag: string })[]; canWrite: boolean });
  /** The stack's directory table, to store rows as an earlier release did. */
  const identities = () => TableClient.fromConnectionString(stack.azurite.connectionString, 'identities', { allowInsecureConnection: true });
  /** Every key a row of the GUID is stored under, in any case. */
  const storedSpellings = async (guid: string) => {
    const keys: string[] = [];
    for await (const { rowKey } of identities().listEntities({ queryOptions: { filter: `PartitionKey eq 'identity'` } })) {
      if (String(rowKey).toLowerCase() === guid.toLowerCase()) keys.push(String(rowKey));
    }
    return keys.sort();
  };

  it('creates an entry with POST, lists it with its ETag, and answers 409 for a second create', async () => {
    const identity = 'sub-api-create';
    const created = await call('POST', '', { body: { ...BOT, identity } });
    expect(created.status).toBe(201);
    const etag = created.headers.get('etag');
    expect(etag).toBeTruthy();
    expect(created.headers.get('location')).toBe(`/api/directory/${identity}`);
    expect(await created.json()).toEqual({ ...BOT, identity, etag });
    const listed = await entries();
    expect(listed.canWrite).toBe(true);
    expect(listed.entries.find((e) => e.identity === identity)).toEqual({ ...BOT, identity, etag });
    const again = await call('POST', '', { body: { ...BOT, identity, team: 'Other' } });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ error: 'conflict', reason: expect.stringContaining(identity) });
  });

  it('answers POST for a GUID an earlier release stored upper-cased with 409, writing no second row', async () => {
    const legacy = '0B2C4D6E-0000-4000-8000-00000000D001';
    await identities().createEntity({ partitionKey: 'identity', rowKey: encodeRowKey(legacy), displayName: 'Legacy', team: 'Search', costCenter: 'CC-1' });
    expect((await call('GET', `/${legacy.toLowerCase()}`)).status).toBe(200);
    const created = await call('POST', '', { body: { identity: legacy.toLowerCase(), displayName: 'New', team: 'Ads', costCenter: 'CC-2' } });
    expect(created.status).toBe(409);
    expect(await storedSpellings(legacy)).toEqual([legacy]);
  });

  it('replaces with the current ETag, answers 412 for a stale one and keeps the newer entry', async () => {
    const upper = SEARCH.identity.toUpperCase();
    const created = await call('PUT', `/${upper}`, { body: { displayName: SEARCH.displayName, team: 'Search', costCenter: 'CC-1001' } });
    expect(created.status).toBe(201);
    const first = created.headers.get('etag')!;
    const replaced = await call('PUT', `/${SEARCH.identity}`, { body: { ...SEARCH, team: 'Search Platform' }, ifMatch: first });
    expect(replaced.status).toBe(200);
    const second = replaced.headers.get('etag')!;
    expect(second).not.toBe(first);
    const stale = await call('PUT', `/${SEARCH.identity}`, { body: { ...SEARCH, team: 'Lost update' }, ifMatch: first });
    expect(stale.status).toBe(412);
    expect(await stale.json()).toMatchObject({ error: 'precondition_failed' });
    const read = await call('GET', `/${SEARCH.identity}`);
    expect(read.headers.get('etag')).toBe(second);
    expect(await read.json()).toEqual({ ...SEARCH, team: 'Search Platform', etag: second });
  });

  it('deletes with If-Match, refuses a stale ETag, and answers 404 once the entry is gone', async () => {
    const identity = 'sub-api-delete';
    const first = (await call('PUT', `/${identity}`, { body: { ...BOT, identity } })).headers.get('etag')!;
    const second = (await call('PUT', `/${identity}`, { body: { ...BOT, identity, team: 'Moved' }, ifMatch: first })).headers.get('etag')!;
    expect((await call('DELETE', `/${identity}`, { ifMatch: first })).status).toBe(412);
    expect((await call('DELETE', `/${identity}`, { ifMatch: second })).status).toBe(204);
    expect((await call('DELETE', `/${identity}`)).status).toBe(404);
    expect((await call('GET', `/${identity}`)).status).toBe(404);
  });

  it('deletes, at any spelling of a GUID, with the If-Match of the entry a GET there shows, that entry and every spelling an earlier release stored', async () => {
    const legacy = '0B2C4D6E-0000-4000-8000-00000000D003';
    const mixed = '0b2C4D6E-0000-4000-8000-00000000d003';
    const table = identities();
    for (const [rowKey, displayName] of [[legacy, 'Old'], [mixed, 'Older'], [legacy.toLowerCase(), 'Current']] as const) {
      await table.createEntity({ partitionKey: 'identity', rowKey: encodeRowKey(rowKey), displayName, team: 'Search', costCenter: 'CC-1001' });
    }
    const read = await call('GET', `/${legacy}`);
    expect(await read.json()).toMatchObject({ identity: legacy.toLowerCase(), displayName: 'Current' });
    const edited = await call('PUT', `/${mixed}`, { body: { displayName: 'Current', team: 'Ads', costCenter: 'CC-1001' }, ifMatch: read.headers.get('etag')! });
    expect(edited.status).toBe(200);
    expect((await call('DELETE', `/${legacy}`, { ifMatch: read.headers.get('etag')! })).status).toBe(412);
    expect(await (await call('GET', `/${legacy}`)).json()).toMatchObject({ displayName: 'Current', team: 'Ads', etag: edited.headers.get('etag') });
    expect((await call('DELETE', `/${legacy}`, { ifMatch: edited.headers.get('etag')! })).status).toBe(204);
    expect(await storedSpellings(legacy)).toEqual([]);
    expect((await call('GET', `/${mixed}`)).status).toBe(404);
    expect((await call('DELETE', `/${legacy}`)).status).toBe(404);
  });

  it('reads, edits and deletes by the key it lists an entry an earlier release stored under a mixed-case GUID', async () => {
    const legacy = '0b2c4d6e-0000-4000-8000-00000000C0c0';
    const table = identities();
    await table.createEntity({ partitionKey: 'identity', rowKey: encodeRowKey(legacy), displayName: 'Imported as printed', team: 'Search', costCenter: 'CC-1001' });
    const listed = (await entries()).entries.find((e) => e.identity === legacy.toLowerCase());
    expect(listed).toMatchObject({ displayName: 'Imported as printed' });
    const read = await call('GET', `/${listed!.identity}`);
    expect(read.status).toBe(200);
    expect(read.headers.get('etag')).toBe(listed!.etag);
    expect(await read.json()).toEqual(listed);
    // RFC 9110 §13.1.1: the ETag the read answered is the one a conditional write must match.
    const edited = await call('PUT', `/${listed!.identity}`, { body: { displayName: 'Imported as printed', team: 'Ads', costCenter: 'CC-1001' }, ifMatch: listed!.etag });
    expect(edited.status).toBe(200);
    const changed = (await entries()).entries.filter((e) => e.identity === legacy.toLowerCase());
    expect(changed).toEqual([{ ...listed, team: 'Ads', etag: edited.headers.get('etag') }]);
    expect((await call('DELETE', `/${listed!.identity}`, { ifMatch: changed[0]!.etag })).status).toBe(204);
    expect((await call('GET', `/${listed!.identity}`)).status).toBe(404);
    expect((await entries()).entries.map((e) => e.identity)).not.toContain(listed!.identity);
  });

  it('writes, at any spelling of a GUID in its URL, the row a GET of that URL answers, when an earlier release stored two spellings', async () => {
    const [listedSpelling, otherSpelling] = ['Ab2C4D6E-0000-4000-8000-00000000C0c9', 'aB2c4d6e-0000-4000-8000-00000000C0C9'];
    const table = identities();
    for (const spelling of [listedSpelling, otherSpelling]) await table.createEntity({ partitionKey: 'identity', rowKey: encodeRowKey(spelling), displayName: spelling, team: 'Search', costCenter: 'CC-1001' });
    const read = await call('GET', `/${otherSpelling}`);
    expect(await read.json()).toMatchObject({ displayName: listedSpelling });
    const edited = await call('PUT', `/${otherSpelling}`, { body: { displayName: listedSpelling, team: 'Finance', costCenter: 'CC-1001' }, ifMatch: read.headers.get('etag')! });
    expect(edited.status).toBe(200);
    expect(await (await call('GET', `/${otherSpelling}`)).json()).toMatchObject({ displayName: listedSpelling, team: 'Finance', etag: edited.headers.get('etag') });
  });

  it('lets exactly one of concurrent PUTs with the same ETag win; the others answer 412', async () => {
    const identity = 'sub-api-race';
    const etag = (await call('POST', '', { body: { ...BOT, identity } })).headers.get('etag')!;
    const teams = ['T1', 'T2', 'T3', 'T4', 'T5', 'T6', 'T7', 'T8'];
    const statuses = await Promise.all(teams.map(async (team) => (await call('PUT', `/${identity}`, { body: { ...BOT, identity, team }, ifMatch: etag })).status));
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 412)).toHaveLength(teams.length - 1);
    const winner = teams[statuses.indexOf(200)];
    expect((await stack.directory.getAll()).get(identity)?.team).toBe(winner);
  });

  it('answers 403 to writes from callers without Directory.Write, and lets finance read', async () => {
    const identity = 'sub-api-forbidden';
    for (const token of [finance, operator]) {
      for (const [method, path] of [['POST', ''], ['PUT', `/${identity}`], ['DELETE', `/${identity}`]] as const) {
        const response = await call(method, path, { token, body: { ...BOT, identity } });
        expect(response.status, `${method} ${path}`).toBe(403);
        expect(await response.json()).toEqual({ error: 'forbidden', reason: 'requires the app role Directory.Write' });
      }
    }
    expect((await stack.directory.getAll()).has(identity)).toBe(false);
    const read = await entries(finance);
    expect(read.canWrite).toBe(false);
    expect(read.entries.length).toBeGreaterThan(0);
    const refused = await call('GET', '', { token: operator });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ reason: 'requires one of the app roles Directory.Write, Chargeback.ReadAll' });
    expect((await fetch(`${api.url}/api/directory`)).status).toBe(401);
  });

  it.each([
    ['an empty team', { ...BOT, team: '  ' }, 'team: must not be empty'],
    ['a control character', { ...BOT, displayName: 'Bot\u0007' }, 'displayName: contains a control character'],
    ['an unknown kind', { ...BOT, kind: 'robot' }, 'kind: expected one of user, servicePrincipal'],
    ['a cost center too long', { ...BOT, costCenter: 'C'.repeat(65) }, 'costCenter: longer than 64 characters'],
    ['a field the directory does not have', { ...BOT, email: 'bot@example.com' }, 'email'],
    ['a missing display name', { identity: BOT.identity, team: 'x', costCenter: 'y' }, 'displayName: expected text'],
  ])('answers 400 with the import’s reason for %s, writing nothing', async (_, body, reason) => {
    const response = await call('POST', '', { body: { ...body, identity: 'sub-api-invalid' } });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: 'bad_request', reason: expect.stringContaining(reason) });
    expect((await stack.directory.getAll()).has('sub-api-invalid')).toBe(false);
  });

  it('answers 400 for a body that is no entry, a path and body that disagree, and a malformed If-Match', async () => {
    const bad = async (response: Response, reason: string) => {
      expect(response.status).toBe(400);
      expect(await response.json()).toEqual({ error: 'bad_request', reason: expect.stringContaining(reason) });
    };
    await bad(await call('POST', '', { raw: '{"identity":' }), 'not JSON');
    await bad(await call('POST', '', { body: [BOT] }), 'must be a JSON object');
    await bad(await call('PUT', '/sub-one', { body: { ...BOT, identity: 'sub-two' } }), 'the body names "sub-two", the path "sub-one"');
    await bad(await call('PUT', `/${BOT.identity}`, { body: BOT, ifMatch: 'not-an-etag' }), 'If-Match');
    await bad(await call('PUT', `/${encodeURIComponent('a\u0001b')}`, { body: { ...BOT, identity: undefined } }), 'invalid identity in the path');
    expect((await call('POST', '', { raw: 'identity=x', type: 'application/x-www-form-urlencoded' })).status).toBe(415);
    // A body declared in another charset is refused, never read as UTF-8 under another name (RFC 9110 §8.3.2).
    const latin1 = await call('POST', '', { raw: 'identity,displayName,team,costCenter\r\nsub-declared-latin1,Jos\u00c3\u00a9,Search,CC-1\r\n', type: 'text/csv; charset=ISO-8859-1' });
    expect([latin1.status, ((await latin1.json()) as { reason: string }).reason]).toEqual([415, 'the body is declared charset="iso-8859-1": send it as UTF-8 (charset=utf-8, or no charset)']);
    expect((await call('PUT', `/${BOT.identity}`, { raw: JSON.stringify(BOT), type: 'application/json; charset="windows-1252"' })).status).toBe(415);
    expect((await stack.directory.getAll()).has('sub-declared-latin1')).toBe(false);
    const huge = await call('POST', '', { body: { ...BOT, displayName: 'x'.repeat(20_000) } });
    expect(huge.status).toBe(413);
    expect((await stack.directory.getAll()).has(BOT.identity)).toBe(false);
  });

  it('addresses an identity holding a slash at its Location, and at the path the Functions host routes once it has decoded %2F', async () => {
    // The deployed Functions host decodes %2F before it routes (Azure/azure-functions-host#9290, #3998), so a
    // one-segment route never sees `a%2Fb`; the entry route's catch-all parameter takes the rest of the path instead.
    const identity = 'ai-hub/team-app';
    const created = await call('POST', '', { body: { ...BOT, identity } });
    expect([created.status, created.headers.get('location')]).toEqual([201, '/api/directory/ai-hub%2Fteam-app']);
    expect((await call('GET', '/ai-hub%2Fteam-app')).status).toBe(200);
    const decoded = await call('GET', '/ai-hub/team-app');
    expect([decoded.status, ((await decoded.json()) as DirectoryRow).identity]).toEqual([200, identity]);
    expect((await call('DELETE', '/ai-hub/team-app')).status).toBe(204);
    expect((await call('GET', '/ai-hub%2Fteam-app')).status).toBe(404);
  });

  it('creates with If-None-Match: * only when there is no entry, and answers GET with 304 for the current ETag', async () => {
    const identity = 'sub-api-create-only';
    const created = await call('PUT', `/${identity}`, { body: { ...BOT, identity }, ifNoneMatch: '*' });
    expect(created.status).toBe(201);
    const etag = created.headers.get('etag')!;
    const again = await call('PUT', `/${identity}`, { body: { ...BOT, identity, team: 'Lost update' }, ifNoneMatch: '*' });
    expect(again.status).toBe(412);
    expect(await again.json()).toMatchObject({ error: 'precondition_failed', reason: expect.stringContaining('If-None-Match') });
    expect((await stack.directory.getAll()).get(identity)?.team).toBe(BOT.team);
    const unchanged = await call('GET', `/${identity}`, { ifNoneMatch: etag });
    expect([unchanged.status, unchanged.headers.get('etag')]).toEqual([304, etag]);
    expect((await call('GET', `/${identity}`, { ifNoneMatch: '"other"' })).status).toBe(200);
    // RFC 9110 §13.1.2: a list of tags, compared weakly (Azure Table ETags are weak: W/"datetime'…'").
    expect(etag.startsWith('W/')).toBe(true);
    expect((await call('GET', `/${identity}`, { ifNoneMatch: `"other", ${etag}` })).status).toBe(304);
    expect((await call('GET', `/${identity}`, { ifNoneMatch: etag.slice(2) })).status).toBe(304);
    // Empty list elements are ignored (RFC 9110 §5.6.1).
    expect((await call('GET', `/${identity}`, { ifNoneMatch: `, "other", , ${etag},` })).status).toBe(304);
    expect((await call('GET', `/${identity}`, { ifNoneMatch: '"other", not-a-tag' })).status).toBe(400);
    expect((await call('PUT', `/${identity}`, { body: { ...BOT, identity }, ifNoneMatch: etag })).status).toBe(400);
    expect((await call('DELETE', `/${identity}`, { ifNoneMatch: '*' })).status).toBe(400);
  });

  it('answers PUT with If-None-Match: * for a GUID an earlier release stored upper-cased with 412, and one DELETE leaves it out of the directory', async () => {
    const legacy = '0B2C4D6E-0000-4000-8000-00000000D002';
    await identities().createEntity({ partitionKey: 'identity', rowKey: encodeRowKey(legacy), displayName: 'Legacy', team: 'Search', costCenter: 'CC-1' });
    const created = await call('PUT', `/${legacy.toLowerCase()}`, { body: { displayName: 'New', team: 'Ads', costCenter: 'CC-2' }, ifNoneMatch: '*' });
    expect(created.status).toBe(412);
    expect(await storedSpellings(legacy)).toEqual([legacy]);
    expect((await call('DELETE', `/${legacy.toLowerCase()}`)).status).toBe(204);
    expect((await call('GET', `/${legacy.toLowerCase()}`)).status).toBe(404);
    expect((await entries()).entries.map((e) => e.identity)).not.toContain(legacy.toLowerCase());
  });

  it('refuses a body that is not UTF-8 (a Latin-1 file) with 400, importing nothing', async () => {
    const latin1 = Buffer.from('identity,displayName,team,costCenter\r\nsub-latin1,Jos\xe9,Se\xf1al,CC-1\r\n', 'latin1');
    const response = await fetch(`${api.url}/api/directory`, { method: 'POST', headers: { authorization: `Bearer ${writer}`, 'content-type': 'text/csv' }, body: latin1 });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: 'bad_request', reason: 'the body is not UTF-8 text' });
    expect((await stack.directory.getAll()).has('sub-latin1')).toBe(false);
  });

  it('answers a method a route does not serve with 404, as the Functions host routes by method before any function runs', async () => {
    // Azure/azure-functions-host#10098 (a DELETE to a GET/POST route: "the response is a 404 Not Found") and #11625
    // (HEAD on a GET route: "The 404 comes from the routing layer before the function is invoked").
    for (const [method, path, served] of [
      ['PUT', '', 'GET, POST'],
      ['POST', '/sub-api-methods', 'GET, PUT, DELETE'],
      ['HEAD', '', 'GET, POST'],
    ] as const) {
      const response = await call(method, path, method === 'HEAD' ? {} : { body: BOT });
      expect(response.status, `${method} ${path}`).toBe(404);
      if (method !== 'HEAD') expect(await response.json()).toEqual({ error: 'not_found', reason: `no function serves ${method} /api/directory${path}; it is served for ${served}` });
    }
  });

  it('imports a CSV file all or nothing, with the CLI import’s line errors', async () => {
    const header = 'identity,displayName,team,costCenter';
    const faulty = `${header}\nsub-csv-1,One,Team A,CC-1\nsub-csv-2,Two,,CC-2\nsub-csv-1,Again,Team B,CC-3\n`;
    const refused = await call('POST', '', { raw: faulty, type: 'text/csv' });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({
      error: 'bad_request',
      reason: 'imported nothing: 2 errors in the file',
      errors: [
        { line: 3, reason: 'team: must not be empty' },
        { line: 4, reason: 'duplicate identity "sub-csv-1": lines 2 and 4' },
      ],
    });
    expect((await stack.directory.getAll()).has('sub-csv-1')).toBe(false);
    const imported = await call('POST', '', { raw: `${header}\nsub-csv-1,One,Team A,CC-1\nsub-csv-2,Two,Team B,CC-2\n`, type: 'text/csv; charset=utf-8' });
    expect(await imported.json()).toEqual({ imported: 2 });
    const all = await stack.directory.getAll();
    expect([all.get('sub-csv-1')?.team, all.get('sub-csv-2')?.team]).toEqual(['Team A', 'Team B']);
  });
});

describe('tokenledger directory against a deployment (--api)', () => {
  let api: HttpHost;
  let writer: string;
  let finance: string;
  let dir: string;

  beforeAll(async () => {
    api = await startLocalApi(stack);
    dir = await mkdtemp(join(tmpdir(), 'tokenledger-directory-cli-'));
    [writer, finance] = await Promise.all([
      stack.issuer.issue({ oid: '5e1d0c2b-0000-4000-8000-0000000d1e11', roles: [APP_ROLES.directoryWrite] }),
      stack.issuer.issue({ oid: '5e1d0c2b-0000-4000-8000-0000000d1e12', roles: [APP_ROLES.chargebackReadAll] }),
    ]);
  });
  afterAll(async () => {
    await api?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Runs the command as the CLI does, with no store to fall back on: every call must go through the API. */
  async function run(args: string[], token = writer) {
    const io = { out: '', err: '' };
    const noStore = async (): Promise<never> => {
      throw new Error('the store was used instead of the API');
    };
    const command = directoryCommand(noStore)
      .exitOverride()
      .configureOutput({ writeOut: (s) => void (io.out += s), writeErr: (s) => void (io.err += s) });
    let error: unknown = null;
    try {
      await command.parseAsync([...args, '--api', api.url, '--token', token], { from: 'user' });
    } catch (caught) {
      error = caught;
    }
    return { ...io, error };
  }

  it('adds an identity with set, changes one field of it, and lists it with its etag', async () => {
    const identity = 'sub-cli-set';
    const added = await run(['set', identity, '--display-name', 'CLI bot', '--team', 'Platform', '--cost-center', 'CC-7', '--kind', 'apimSubscription']);
    expect(added.error).toBeNull();
    expect(added.out).toMatch(/^added sub-cli-set \(etag .+\)\n$/);
    const changed = await run(['set', identity, '--team', 'Platform, EMEA']);
    expect(changed.out).toMatch(/^changed sub-cli-set/);
    const listed = JSON.parse((await run(['list', '--format', 'json'])).out) as (DirectoryRow & { etag: string })[];
    const entry = listed.find((e) => e.identity === identity)!;
    expect(entry).toEqual({ identity, displayName: 'CLI bot', team: 'Platform, EMEA', costCenter: 'CC-7', kind: 'apimSubscription', etag: expect.any(String) });
    expect((await run(['list'])).out).toMatch(/sub-cli-set\s+CLI bot\s+Platform, EMEA\s+CC-7\s+apimSubscription/);
  });

  it('refuses a stale --if-match and an invalid entry, changing nothing', async () => {
    const identity = 'sub-cli-stale';
    await run(['set', identity, '--display-name', 'Stale', '--team', 'A', '--cost-center', 'CC-1']);
    const { etag } = (JSON.parse((await run(['list', '--format', 'json'])).out) as { identity: string; etag: string }[]).find((e) => e.identity === identity)!;
    await run(['set', identity, '--team', 'B']);
    const stale = await run(['set', identity, '--team', 'C', '--if-match', etag]);
    expect(stale.error).toMatchObject({ exitCode: 1, code: 'tokenledger.directory.conflict' });
    const invalid = await run(['set', identity, '--cost-center', 'x'.repeat(65)]);
    expect(invalid.error).toMatchObject({ exitCode: 1, code: 'tokenledger.directory.invalidEntry' });
    expect(invalid.err).toContain('costCenter: longer than 64 characters');
    const incomplete = await run(['set', 'sub-cli-new', '--team', 'A']);
    expect(incomplete.err).toContain('give --display-name, --team and --cost-center');
    expect((await stack.directory.getAll()).get(identity)?.team).toBe('B');
    expect((await stack.directory.getAll()).has('sub-cli-new')).toBe(false);
  });

  it('removes an identity, and exits with 1 when it is not there', async () => {
    await run(['set', 'sub-cli-remove', '--display-name', 'R', '--team', 'T', '--cost-center', 'C']);
    expect((await run(['remove', 'sub-cli-remove'])).out).toBe('removed sub-cli-remove\n');
    expect((await run(['remove', 'sub-cli-remove'])).error).toMatchObject({ exitCode: 1, code: 'tokenledger.directory.notFound' });
  });

  it('refuses the identities . and .., which no entry address can name, instead of asking another path', async () => {
    for (const identity of ['.', '..']) {
      for (const args of [['remove', identity], ['set', identity, '--display-name', 'D', '--team', 'T', '--cost-center', 'C']]) {
        const outcome = await run(args);
        expect((outcome.error as Error | null)?.message).toBe(`identity "${identity}" cannot be asked for through the API: a URL path cannot name "." or ".."`);
      }
    }
  });

  it('imports a CSV file through the API, and a caller without Directory.Write gets the API’s reason', async () => {
    const file = join(dir, 'directory.csv');
    await writeFile(file, 'identity,displayName,team,costCenter,kind\nsub-cli-import-1,"Bot, one",Data,CC-9,\nsub-cli-import-2,Two,Data,CC-9,user\n');
    expect((await run(['import', file])).out).toBe('imported 2 identities\n');
    const all = await stack.directory.getAll();
    expect(all.get('sub-cli-import-1')).toEqual({ identity: 'sub-cli-import-1', displayName: 'Bot, one', team: 'Data', costCenter: 'CC-9' });
    expect(all.get('sub-cli-import-2')?.kind).toBe('user');
    const refused = await run(['import', file], finance);
    expect(String(refused.error)).toContain('/api/directory answered 403: requires the app role Directory.Write');
    expect((await run(['list'], finance)).out).toContain('sub-cli-import-1');
  });

  it('asks for a token or a scope when --api is given with neither', async () => {
    await expect(tokenFor({ api: api.url })).rejects.toThrow(/pass --token \(or set TOKENLEDGER_TOKEN\), or --scope <application ID URI>\/.default/);
    expect(await tokenFor({ api: api.url, token: 'abc', scope: 'api://x/.default' })).toBe('abc');
  });
});
