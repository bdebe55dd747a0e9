/**
 * A directory file imported in parts: through the API, a file over the size the API takes in one request; into Table
 * storage, a transaction of 100 rows at a time. Either way each part is atomic, the whole is not: a failure says what
 * was written before it.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TableClient, TransactionAction } from '@azure/data-tables';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createDirectoryHandler } from '../../functions/handlers/directory.js';
import { MemoryIdentityDirectory } from '../../src/adapters/memory/memory-identity-directory.js';
import { TableIdentityDirectory } from '../../src/adapters/tables/table-identity-directory.js';
import { directoryCommand } from '../../src/cli/commands/directory.js';
import { APP_ROLES } from '../../src/contracts/access.js';
import { MAX_DIRECTORY_FILE_BYTES } from '../../src/contracts/directory.js';
import type { Principal } from '../../src/domain/access.js';
import type { DirectoryConnection } from '../../src/cli/commands/directory.js';

const writer: Principal = { oid: '5e1d0c2b-0000-4000-8000-0000000d1e11', tid: null, appid: null, kind: 'user', roles: [APP_ROLES.directoryWrite], name: null };

let dir: string | null = null;
afterEach(async () => {
  vi.unstubAllGlobals();
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = null;
});

async function fileOf(text: string): Promise<string> {
  dir = await mkdtemp(join(tmpdir(), 'directory-parts-'));
  const file = join(dir, 'directory.csv');
  await writeFile(file, text);
  return file;
}

/** Runs `tokenledger directory ARGS`; what it printed, and the error it ended with (null when none). */
async function run(args: string[], connect: () => Promise<DirectoryConnection>): Promise<{ out: string; error: string | null }> {
  let out = '';
  const command = directoryCommand(connect)
    .exitOverride()
    .configureOutput({ writeOut: (s) => void (out += s), writeErr: (s) => void (out += s) });
  try {
    await command.parseAsync(args, { from: 'user' });
    return { out, error: null };
  } catch (error) {
    return { out, error: error instanceof Error ? error.message : String(error) };
  }
}

describe('directory import --api of a file larger than the API takes in one request', () => {
  it('sends it in parts, each under the limit, and imports every identity (the API handler in process, fetch stubbed)', async () => {
    const directory = new MemoryIdentityDirectory();
    const handler = createDirectoryHandler(() => ({ directory }));
    const sizes: number[] = [];
    vi.stubGlobal('fetch', async (input: URL | string, init: RequestInit = {}) => {
      if (typeof init.body === 'string') sizes.push(Buffer.byteLength(init.body));
      const request = new HttpRequest({ method: init.method ?? 'GET', url: String(input), headers: init.headers as Record<string, string>, ...(typeof init.body === 'string' ? { body: { string: init.body } } : {}) });
      const answer = await handler(request, new InvocationContext({}), writer);
      return new Response(answer.jsonBody === undefined ? null : JSON.stringify(answer.jsonBody), { status: answer.status ?? 200, headers: { 'content-type': 'application/json' } });
    });
    const rows = Array.from({ length: 45_000 }, (_, i) => `0b2c4d6e-0000-4000-8000-${i.toString(16).padStart(12, '0')},Search backend worker ${i},Search Platform EMEA,CC-100${i % 10},managedIdentity`);
    const text = `identity,displayName,team,costCenter,kind\r\n${rows.join('\r\n')}\r\n`;
    expect(Buffer.byteLength(text)).toBeGreaterThan(MAX_DIRECTORY_FILE_BYTES);

    const result = await run(['import', await fileOf(text), '--api', 'https://tokenledger.example', '--token', 'token'], async () => {
      throw new Error('the store was used instead of the API');
    });
    expect(result).toEqual({ out: 'imported 45000 identities\n', error: null });
    expect(sizes.length).toBe(2);
    for (const size of sizes) expect(size).toBeLessThanOrEqual(MAX_DIRECTORY_FILE_BYTES);
    expect(directory.rows.size).toBe(45_000);
  });
});

describe('directory import when Table storage fails part-way (a table client that answers 503 on its second transaction: Azurite cannot be made to)', () => {
  it('says which identities the transactions before the failure wrote, and that importing again is safe', async () => {
    const written = new Map<string, unknown>();
    let calls = 0;
    const table = {
      async submitTransaction(actions: TransactionAction[]) {
        if (++calls === 2) throw Object.assign(new Error('Server Busy'), { statusCode: 503 });
        for (const action of actions) written.set((action[1] as { rowKey: string }).rowKey, action[1]);
        return { status: 202 };
      },
      async createTable() {},
    };
    const directory = new TableIdentityDirectory(table as unknown as TableClient);
    const rows = Array.from({ length: 250 }, (_, i) => `sub-app-${i},App ${i},Team ${i % 7},CC-${i % 3}`);
    const result = await run(['import', await fileOf(`identity,displayName,team,costCenter\r\n${rows.join('\r\n')}\r\n`)], async () => ({ directory, close: async () => {} }));
    expect(written.size).toBe(100);
    expect(result.error).toContain('writing identities 101–200 of 250 failed with HTTP 503 (identities 1–100 were written; writing the same rows again is safe)');
  });
});
