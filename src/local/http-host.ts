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

/** The Functions host refuses a request longer than 100 MB (Azure Functions HTTP trigger reference, "Limits"). */
export const MAX_REQUEST_BYTES = 100 * 1024 * 1024;

/** The body, or null once it is longer than the host takes: reading stops there, and the rest is never buffered. */
function readBody(req: IncomingMessage): Promise<Buffer | null> {
  if (Number(req.headers['content-length'] ?? 0) > MAX_REQUEST_BYTES) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const onData = (chunk: Buffer) => {
      length += chunk.length;
      if (length <= MAX_REQUEST_BYTES) return void chunks.push(chunk);
      req.off('data', onData);
      req.pause();
      resolve(null);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

const TOO_LARGE: HttpResponseInit = {
  status: 413,
  headers: { connection: 'close' },
  jsonBody: { error: 'payload_too_large', reason: `the request is longer than ${MAX_REQUEST_BYTES} bytes, the most the Functions host takes` },
};

const CATCH_ALL = /^(.*)\/\{\*([A-Za-z_][A-Za-z0-9_]*)\}$/;
const NAMED_SEGMENT = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

/** For a route with `{name}` segments (`requests/{id}`), each bound to one non-empty, URL-decoded path segment. */
function namedSegments(route: string, pathname: string): Record<string, string> | undefined {
  const pattern = route.split('/');
  if (!pattern.some((segment) => NAMED_SEGMENT.test(segment))) return undefined;
  const segments = pathname.split('/').slice(2);
  if (!pathname.startsWith('/api/') || segments.length !== pattern.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, segment] of pattern.entries()) {
    const name = NAMED_SEGMENT.exec(segment)?.[1];
    if (name === undefined) {
      if (segment !== segments[i]) return undefined;
      continue;
    }
    if (segments[i] === '') return undefined;
    try {
      params[name] = decodeURIComponent(segments[i]!);
    } catch {
      return undefined;
    }
  }
  return params;
}

/**
 * The route serving `pathname`: `/api/<route>` exactly, a route with `{name}` segments (see `namedSegments`), or
 * for a route ending in a catch-all segment
 * (`dashboard/{*path}`) `/api/dashboard` and everything under `/api/dashboard/`, with the rest (URL-decoded) as
 * that parameter, as the Functions host binds it.
 */
function matchRoute(routes: readonly HttpRoute[], pathname: string): { route: HttpRoute; params: Record<string, string> } | undefined {
  for (const route of routes) {
    if (pathname === `/api/${route.route}` || (route.route === '' && pathname === '/')) return { route, params: {} };
    const named = namedSegments(route.route, pathname);
    if (named) return { route, params: named };
    const catchAll = CATCH_ALL.exec(route.route);
    if (!catchAll) continue;
    const base = `/api/${catchAll[1]}`;
    if (pathname !== base && !pathname.startsWith(`${base}/`)) continue;
    let rest: string;
    try {
      rest = decodeURIComponent(pathname.slice(base.length + 1));
    } catch {
      continue;
    }
    return { route, params: { [catchAll[2]!]: rest } };
  }
  return undefined;
}

/**
 * The HTTP side of the Functions host for the local stack: `/api/<route>` is handed to the same handler the
 * function registers, as an `HttpRequest`, and its `HttpResponseInit` is written back.
 */
export async function startHttpHost(routes: readonly HttpRoute[], port = 0): Promise<HttpHost> {
  const server = createServer((req, res) => {
    serve(req, res).catch(() => {
      // Only reading the body or writing the answer can fail here: the client went away mid-request, no one to answer.
      res.destroy();
    });
  });
  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // The handler sees the URL as the caller used it, port included, as under the Functions host (links it builds work).
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const match = matchRoute(routes, url.pathname);
    if (!match) return send(res, { status: 404, jsonBody: { error: 'not_found', reason: `no function serves ${url.pathname}` } });
    const { route, params } = match;
    const method = req.method ?? 'GET';
    if (!route.methods.includes(method)) {
      // The Functions host routes by method too: a method no function registers for the path is answered 404 before
      // any function runs, HEAD on a GET route included (Azure/azure-functions-host#10098, #11625).
      return send(res, { status: 404, jsonBody: { error: 'not_found', reason: `no function serves ${method} ${url.pathname}; it is served for ${route.methods.join(', ')}` } });
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers[name] = value;
    // Bytes, as the Functions host hands them over: the handler decides whether they are UTF-8.
    const bytes = method === 'GET' || method === 'HEAD' ? undefined : await readBody(req);
    if (bytes === null) return send(res, TOO_LARGE);
    const request = new HttpRequest({ method, url: url.toString(), headers, params, ...(bytes ? { body: { bytes } } : {}) });
    const context = new InvocationContext({ functionName: route.route, logHandler: () => {} });
    try {
      await send(res, await route.handler(request, context));
    } catch (error) {
      await send(res, { status: 500, jsonBody: { error: 'internal_error', reason: (error as Error).message } });
    }
  }
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
