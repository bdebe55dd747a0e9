import { createHash } from 'node:crypto';
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { isLoopbackHttp } from '../domain/loopback.js';

/**
 * Faults a fault proxy can inject, in the shapes Cosmos DB (and most Azure data planes) produce them:
 * - `throttle`: 429 with `x-ms-retry-after-ms` (and `Retry-After`), the request is not forwarded;
 * - `unavailable`: 503, not forwarded;
 * - `reset`: the client's connection is destroyed before the request is forwarded (nothing written);
 * - `reset-after-forward`: the request is forwarded and applied upstream, then the connection is destroyed
 *   instead of answering (the write happened, its answer is lost);
 * - `slow`: forwarded after a delay.
 */
export const FAULT_KINDS = ['throttle', 'unavailable', 'reset', 'reset-after-forward', 'slow'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultProxyRequest {
  readonly method: string;
  /** Path and query string as the client sent them. */
  readonly path: string;
}

export interface FaultProxyOptions {
  /** Origin of the upstream server, e.g. `http://127.0.0.1:8081`; must be http on a loopback address. */
  readonly target: string;
  /** Same seed, same request content and same repetition of it: same fault. */
  readonly seed: number;
  /** Chance per request of each fault kind; the kinds' chances must add up to at most 1. The rest pass through. */
  readonly rates: Readonly<Partial<Record<FaultKind, number>>>;
  /** Range of the `x-ms-retry-after-ms` a throttle answer carries, in ms (default 1–20). */
  readonly retryAfterMs?: readonly [number, number];
  /** Range of the delay of a slow answer, in ms (default 20–200). */
  readonly slowMs?: readonly [number, number];
  /** Return true to pass a request through instead of giving it the fault drawn for it (not counted as a fault). */
  readonly exempt?: (request: FaultProxyRequest, kind: FaultKind) => boolean;
}

export interface FaultProxy {
  /** `http://127.0.0.1:{port}`: point a client here instead of at the target. */
  readonly url: string;
  /** Requests seen so far. */
  readonly requests: number;
  /** Faults injected so far, by kind. */
  readonly faults: Readonly<Record<FaultKind, number>>;
  /** Total faults injected so far. */
  readonly faultCount: number;
  /** While false, every request passes through untouched (default true). */
  enabled: boolean;
  stop(): Promise<void>;
}

/** Headers that describe one hop's connection, not the message: never copied across the proxy. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'content-length', 'host']);

function copyHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  return out;
}

/** A uniform number in [0, 1) from the first 48 bits of a SHA-256 digest. */
function uniform(...parts: readonly (string | number)[]): number {
  const digest = createHash('sha256').update(parts.join('\u0000')).digest();
  return digest.readUIntBE(0, 6) / 2 ** 48;
}

function inRange(range: readonly [number, number], u: number): number {
  return range[0] + Math.floor(u * (range[1] - range[0] + 1));
}

/**
 * An HTTP proxy on a free loopback port that injects faults in front of a local server, for reliability tests.
 * Which fault a request gets is a pure function of the seed, the request's method, path and body, and how many
 * times that same request was seen before: a retried request draws again, and concurrent clients cannot change
 * what a given request gets. Only for local stand-ins on loopback: it refuses any other target.
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  if (!isLoopbackHttp(target)) throw new TypeError('the fault proxy only fronts http servers on a loopback address');
  const rates = FAULT_KINDS.map((kind) => [kind, options.rates[kind] ?? 0] as const);
  const totalRate = rates.reduce((sum, [, rate]) => sum + rate, 0);
  if (rates.some(([, rate]) => !(rate >= 0)) || totalRate > 1) throw new RangeError('fault rates must be non-negative and add up to at most 1');
  const retryAfterMs = options.retryAfterMs ?? [1, 20];
  const slowMs = options.slowMs ?? [20, 200];

  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const seen = new Map<string, number>();
  const faults = Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<FaultKind, number>;
  const sockets = new Set<Socket>();
  let requests = 0;
  let enabled = true;

  function choose(method: string, path: string, body: Buffer): { kind: FaultKind | null; parameter: number } {
    const key = `${method} ${path} ${createHash('sha256').update(body).digest('hex')}`;
    const occurrence = seen.get(key) ?? 0;
    seen.set(key, occurrence + 1);
    const draw = uniform(options.seed, key, occurrence, 'kind');
    const parameter = uniform(options.seed, key, occurrence, 'parameter');
    let threshold = 0;
    for (const [kind, rate] of rates) {
      threshold += rate;
      if (draw < threshold) return { kind, parameter };
    }
    return { kind: null, parameter };
  }

  function forward(req: IncomingMessage, body: Buffer): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const upstream = httpRequest(
        { protocol: target.protocol, hostname: target.hostname, port: target.port, method: req.method, path: req.url, agent, headers: { ...copyHeaders(req.headers), host: target.host, 'content-length': String(body.length) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      upstream.on('error', reject);
      upstream.end(body);
    });
  }

  function answer(res: ServerResponse, status: number, headers: Record<string, string | string[]>, body: Buffer): void {
    res.writeHead(status, { ...headers, 'content-length': String(body.length) });
    res.end(body);
  }

  function errorBody(code: string, message: string): Buffer {
    return Buffer.from(JSON.stringify({ code, message }));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    requests++;
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const drawn = enabled ? choose(method, path, body) : { kind: null, parameter: 0 };
    const kind = drawn.kind !== null && options.exempt?.({ method, path }, drawn.kind) ? null : drawn.kind;
    const parameter = drawn.parameter;
    if (kind !== null) faults[kind]++;
    switch (kind) {
      case 'throttle': {
        const wait = inRange(retryAfterMs, parameter);
        answer(res, 429, { 'content-type': 'application/json', 'x-ms-retry-after-ms': String(wait), 'retry-after': String(Math.ceil(wait / 1000)), 'x-ms-substatus': '3200' }, errorBody('429', 'Request rate is large (injected by the fault proxy)'));
        return;
      }
      case 'unavailable':
        answer(res, 503, { 'content-type': 'application/json' }, errorBody('ServiceUnavailable', 'The service is unavailable (injected by the fault proxy)'));
        return;
      case 'reset':
        req.socket.destroy();
        return;
      case 'slow':
        await new Promise((resolve) => setTimeout(resolve, inRange(slowMs, parameter)));
        break;
      default:
        break;
    }
    const upstream = await forward(req, body);
    if (kind === 'reset-after-forward') {
      req.socket.destroy();
      return;
    }
    answer(res, upstream.status, copyHeaders(upstream.headers), upstream.body);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      // The upstream failed or the client went away: end this connection the way a broken gateway would.
      req.socket.destroy();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    faults,
    get faultCount() {
      return Object.values(faults).reduce((sum, n) => sum + n, 0);
    },
    get enabled() {
      return enabled;
    },
    set enabled(value: boolean) {
      enabled = value;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}
