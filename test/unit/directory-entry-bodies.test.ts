import functions from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { createDirectoryEntryHandler, createDirectoryHandler } from '../../functions/handlers/directory.js';
import { MemoryIdentityDirectory } from '../../src/adapters/memory/memory-identity-directory.js';
import { APP_ROLES } from '../../src/contracts/access.js';
import type { Principal } from '../../src/domain/access.js';

const { HttpRequest, InvocationContext } = functions;

const admin: Principal = { oid: '11111111-1111-4111-8111-111111111111', tid: null, appid: null, kind: 'user', roles: [APP_ROLES.directoryWrite], name: null };
const MEMBERS = '"displayName":"Bot","team":"Support","costCenter":"CC-1"';

function entryRequest(method: 'POST' | 'PUT', path: string, body: string, params: Record<string, string> = {}) {
  return new HttpRequest({ method, url: `https://tokenledger.example/api/${path}`, headers: { 'content-type': 'application/json' }, body: { string: body }, params });
}

async function answer(response: Promise<functions.HttpResponseInit>) {
  const { status, jsonBody } = await response;
  return { status, reason: (jsonBody as { reason?: string }).reason };
}

describe('JSON directory entries that name a member twice', () => {
  // RFC 8259 §4: with non-unique names "the behavior of software that receives such an object is unpredictable";
  // JSON.parse would write the last value. RFC 7493 (I-JSON) §2.3: members "MUST NOT" have duplicate names.
  it('are refused by POST with 400 naming the member, rather than written with its last value', async () => {
    const directory = new MemoryIdentityDirectory();
    const post = (body: string) => answer(createDirectoryHandler(() => ({ directory }))(entryRequest('POST', 'directory', body), new InvocationContext({}), admin));
    expect(await post(`{"identity":"team-bot","identity":"finance-bot",${MEMBERS}}`)).toEqual({ status: 400, reason: 'the body names the member "identity" twice: give each member once' });
    expect(await post(`{"identity":"team-bot",${MEMBERS},"\\u0074eam":"Finance"}`)).toEqual({ status: 400, reason: 'the body names the member "team" twice: give each member once' });
    expect((await directory.getAll()).size).toBe(0);
    expect((await post(`{"identity":"team-bot",${MEMBERS}}`)).status).toBe(201);
  });

  it('are refused by PUT with 400, leaving the entry as it was', async () => {
    const directory = new MemoryIdentityDirectory();
    const put = (body: string) => answer(createDirectoryEntryHandler(() => ({ directory }))(entryRequest('PUT', 'directory/team-bot', body, { identity: 'team-bot' })));
    expect((await put(`{${MEMBERS}}`)).status).toBe(201);
    expect(await put(`{${MEMBERS},"costCenter":"CC-2"}`)).toEqual({ status: 400, reason: 'the body names the member "costCenter" twice: give each member once' });
    expect(await put(`{"identity":"team-bot","identity":"other-bot",${MEMBERS}}`)).toMatchObject({ status: 400, reason: expect.stringContaining('"identity" twice') });
    expect((await directory.getAll()).get('team-bot')).toMatchObject({ costCenter: 'CC-1' });
  });
});
