import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** The page's client, loaded by its path: the page's sources are type-checked with the DOM library, not with the tests. */
interface PageApi {
  get(route: string, params: Record<string, string>, parse: (body: unknown) => unknown): Promise<{ ok: boolean }>;
}
const { Api } = (await import(new URL('../../dashboards/web/src/api.ts', import.meta.url).href)) as { Api: new (base: URL, token: () => string | null) => PageApi };

describe("the dashboard's API client", () => {
  const authorizations: (string | null)[] = [];
  const server = createServer((request, response) => {
    authorizations.push(request.headers.authorization ?? null);
    response.setHeader('content-type', 'application/json');
    response.end('{"entries":[]}');
  });
  let base: URL;
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api/`);
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('sends the token of the moment with each request, so a panel kept open uses the renewed sign-in token', async () => {
    let token: string | null = 'first-token';
    // A panel (the directory editor, a request list) keeps the client it was opened with.
    const api = new Api(base, () => token);
    expect((await api.get('directory', {}, (body) => body)).ok).toBe(true);
    token = 'renewed-token';
    await api.get('directory', {}, (body) => body);
    token = null;
    await api.get('directory', {}, (body) => body);
    expect(authorizations).toEqual(['Bearer first-token', 'Bearer renewed-token', null]);
  });
});
