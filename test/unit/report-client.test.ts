import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { answerJson, apiBase, fetchReport } from '../../src/cli/report-client.js';

/** A loopback port that nothing listens on: one just released by a server of this test. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('the API client of the CLI', () => {
  it('says what an API base URL looks like when --api is not one', () => {
    expect(() => apiBase('notaurl')).toThrow('--api "notaurl" is not a URL: expected the API\'s base URL, such as http://127.0.0.1:7071 (the local demo)');
    expect(() => apiBase('ftp://example.test')).toThrow(/is not an http or https URL/);
    expect(apiBase('http://127.0.0.1:7071').href).toBe('http://127.0.0.1:7071/');
  });

  it('sends a token over plain http to this machine only (RFC 6750 §5.3: bearer tokens travel over TLS)', () => {
    expect(() => apiBase('http://tokenledger-func.azurewebsites.net')).toThrow(/plain http to another machine, which would send your token in clear text: use https/);
    expect(() => apiBase('http://10.0.0.4:7071')).toThrow(/use https/);
    for (const local of ['http://localhost:7071', 'http://[::1]:7071', 'http://127.0.0.2:7071', 'https://tokenledger-func.azurewebsites.net']) expect(apiBase(local).protocol).toMatch(/^https?:$/);
  });

  it('says which API it could not reach, why, and that the API must be running', async () => {
    const port = await closedPort();
    await expect(fetchReport(`http://127.0.0.1:${port}`, 'api/latency', {}, 't')).rejects.toThrow(
      `cannot reach the TokenLedger API at http://127.0.0.1:${port} (ECONNREFUSED): the API must be running there. Locally, start it with \`npm run demo\``,
    );
  });

  it("passes the API's reason on, and says when no token was given", async () => {
    const server = createServer((_request, response) => {
      response.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'unauthorized', reason: 'missing bearer token' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      await expect(fetchReport(url, 'api/latency', {}, undefined)).rejects.toThrow('/api/latency answered 401: missing bearer token (no token was given: pass --token or set TOKENLEDGER_TOKEN)');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('names a URL that answers a web page or other text instead of JSON as not the TokenLedger API, with the status and content type', async () => {
    const server = createServer((request, response) => {
      if (request.url?.startsWith('/api/chargeback')) response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<html><body>Sign in</body></html>');
      else response.writeHead(200, { 'content-type': 'text/plain' }).end('OK');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const notTheApi = `did not answer as the TokenLedger API: status 200 with`;
      await expect(fetchReport(url, 'api/chargeback', { format: 'csv' }, 't')).rejects.toThrow(`${url}/api/chargeback ${notTheApi} text/html; charset=utf-8, not the API's JSON. --api must be the base URL of the TokenLedger API`);
      await expect(answerJson(await fetchReport(url, 'api/latency', {}, 't'))).rejects.toThrow(`${url}/api/latency ${notTheApi} text/plain, not the API's JSON.`);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
