import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import functions from '@azure/functions';
import type { HttpResponseInit } from '@azure/functions';

const { HttpRequest, InvocationContext } = functions;

export type HttpHandler = (request: functions.HttpRequest, context: functions.InvocationContext) => Promise<HttpResponseInit>;

export interface HttpRoute {
  /** Route under `/api/`, as in the function's `route` option. */
  readonly route: string;
  readonly methods: readonly string[];
  readonly handler: HttpHandler;
}

export interface HttpHost {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  stop(): Promise<void>;
}

async function send(res: ServerResponse, response: HttpResponseInit): Promise<void> {
  const headers = new Headers(response.headers as ConstructorParameters<typeof Headers>[0]);
  let body: string | Uint8Array | undefined;
  if (response.jsonBody !== undefined) {
    body = JSON.stringify(response.jsonBody);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json; charset=utf-8');
  } else if (typeof response.body === 'string' || response.body instanceof Uint8Array) {
    body = response.body;
  }
  res.statusCode = response.status ?? 200;
  headers.forEach((value, name) => res.setHeader(name, value));
  res.end(body);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The HTTP side of the Functions host for the local stack: `/api/<route>` is handed to the same handler the
 * function registers, as an `HttpRequest`, and its `HttpResponseInit` is written back.
 */
export async function startHttpHost(routes: readonly HttpRoute[], port = 0): Promise<HttpHost> {
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const route = routes.find((r) => url.pathname === `/api/${r.route}` || (r.route === '' && url.pathname === '/'));
      if (!route) return send(res, { status: 404, jsonBody: { error: 'not_found', reason: `no function serves ${url.pathname}` } });
      if (!route.methods.includes(req.method ?? 'GET')) return send(res, { status: 405, jsonBody: { error: 'method_not_allowed' } });
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers[name] = value;
      const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : { string: await readBody(req) };
      const request = new HttpRequest({ method: req.method ?? 'GET', url: url.toString(), headers, query: Object.fromEntries(url.searchParams), ...(body ? { body } : {}) });
      const context = new InvocationContext({ functionName: route.route, logHandler: () => {} });
      try {
        await send(res, await route.handler(request, context));
      } catch (error) {
        await send(res, { status: 500, jsonBody: { error: 'internal_error', reason: (error as Error).message } });
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
