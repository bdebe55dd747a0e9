import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_REQUEST_BYTES, startHttpHost, type HttpHost } from '../../src/local/http-host.js';

/** One route that answers with the length of the body it was handed. */
let host: HttpHost | undefined;
async function echoHost(): Promise<HttpHost> {
  host = await startHttpHost([{ route: 'echo', methods: ['POST'], handler: async (request) => ({ status: 200, jsonBody: { bytes: (await request.arrayBuffer()).byteLength } }) }]);
  return host;
}

afterEach(async () => {
  await host?.stop();
  host = undefined;
});

function connect(url: string): net.Socket {
  return net.connect(Number(new URL(url).port), '127.0.0.1');
}

/** The status line of the first answer on the socket. */
function statusLine(socket: net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    socket.on('data', (data) => {
      text += String(data);
      if (text.includes('\r\n')) resolve(text.slice(0, text.indexOf('\r\n')));
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`the connection closed without an answer${text ? `: ${text.slice(0, 80)}` : ''}`)));
  });
}

describe('the local Functions host', () => {
  it('keeps serving after a client goes away half-way through a request body', async () => {
    // An aborted request's stream fails ("aborted"); unanswered, that rejection would end the process.
    const { url } = await echoHost();
    const socket = connect(url);
    socket.write('POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"identity"');
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const after = await fetch(`${url}/api/echo`, { method: 'POST', body: 'four' });
    expect(await after.json()).toEqual({ bytes: 4 });
  });

  it('answers 413 to a request declared longer than the Functions host takes, without reading it', async () => {
    const { url } = await echoHost();
    const socket = connect(url);
    socket.write(`POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: ${MAX_REQUEST_BYTES + 1}\r\n\r\n`);
    expect(await statusLine(socket)).toBe('HTTP/1.1 413 Payload Too Large');
    socket.destroy();
  });

  it('answers 413 to a chunked body once it is longer than the Functions host takes, before it ends', async () => {
    const { url } = await echoHost();
    const socket = connect(url);
    const answered = statusLine(socket);
    socket.write('POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
    const chunk = Buffer.alloc(1024 * 1024, 0x78);
    const settled = answered.then(
      () => true,
      () => true,
    );
    // The body never ends: only a bounded reader answers. Once the host stops reading, writes wait for the answer.
    for (let sent = 0; sent <= MAX_REQUEST_BYTES + chunk.length; sent += chunk.length) {
      socket.write(`${chunk.length.toString(16)}\r\n`);
      socket.write(chunk);
      if (!socket.write('\r\n') && (await Promise.race([new Promise((resolve) => socket.once('drain', () => resolve(false))), settled]))) break;
    }
    expect(await answered).toBe('HTTP/1.1 413 Payload Too Large');
    socket.destroy();
  });
});
