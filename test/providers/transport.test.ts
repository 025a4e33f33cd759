import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Provider } from '../../src/providers/provider.js';
import { createProvider } from '../../src/providers/registry.js';
import type { BackendConfig } from '../../src/config/schema.js';
import { type TestPki, backend, chatRequest, collect, ctx, eventually, makePki, rejectsWith, secretSource, textOfChunks } from './support.js';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

interface TestServer {
  url: string;
  /** TCP connections accepted so far. */
  connections(): number;
  /** Sockets that closed so far: 0 after a run of calls means every connection went back to the pool. */
  closed(): number;
  paths: string[];
  close(): Promise<void>;
}

async function serve(handler: Handler, tls?: ServerOptions): Promise<TestServer> {
  const paths: string[] = [];
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    paths.push(req.url ?? '');
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (piece: string) => (body += piece));
    req.on('end', () => handler(req, res, body));
  };
  const server: Server = tls === undefined ? createHttpServer(onRequest) : createHttpsServer(tls, onRequest);
  let connections = 0;
  let closed = 0;
  server.on(tls === undefined ? 'connection' : 'secureConnection', (socket: Socket) => {
    connections++;
    socket.on('close', () => closed++);
  });
  // A refused handshake is the point of some tests; it must not crash the server.
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    connections: () => connections,
    closed: () => closed,
    paths,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Long enough for a socket close to reach the server's event loop. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 50));
}

const OK_COMPLETION = JSON.stringify({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1700000000,
  model: 'up',
  choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
});

function okJson(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(OK_COMPLETION);
}

function sseChunk(delta: Record<string, unknown>, finish: string | null = null): string {
  return `data: ${JSON.stringify({ id: 'c1', created: 1, model: 'up', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
}

function openAi(url: string, extra: Partial<BackendConfig> = {}): Provider {
  return createProvider(backend({ protocol: 'openai', baseUrl: url, ...extra }), secretSource('public-api'));
}

describe('transport: pools, timeouts and error mapping', () => {
  it('respects the baseUrl path prefix and reuses one keep-alive connection', async () => {
    const server = await serve(okJson);
    const provider = openAi(`${server.url}/prefix/v1/`);
    try {
      for (let i = 0; i < 3; i++) await provider.chat(chatRequest(), 'up', ctx());
      await provider.embed({ model: 'e', input: ['x'] }, 'up', ctx()).catch(() => undefined);
      assert.deepEqual(server.paths.slice(0, 4), ['/prefix/v1/chat/completions', '/prefix/v1/chat/completions', '/prefix/v1/chat/completions', '/prefix/v1/embeddings']);
      // undici frees a client a tick after the body ends, so a back-to-back call may open a
      // second connection; what matters is that none was torn down.
      await settle();
      assert.equal(server.closed(), 0);
      assert.ok(server.connections() <= 2);
    } finally {
      await provider.close();
      await server.close();
    }
  });

  it('keeps the connection after a complete stream', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // The response ends a little after [DONE], as it does across a real network.
      res.write(`${sseChunk({ role: 'assistant', content: 'a' })}${sseChunk({}, 'stop')}data: [DONE]\n\n`);
      setTimeout(() => res.end(), 20);
    });
    const provider = openAi(server.url);
    try {
      for (let i = 0; i < 3; i++) {
        const chunks = await collect(await provider.chatStream(chatRequest({ stream: true }), 'up', ctx()));
        assert.equal(textOfChunks(chunks), 'a');
      }
      await settle();
      assert.equal(server.closed(), 0);
      assert.ok(server.connections() <= 2);
    } finally {
      await provider.close();
      await server.close();
    }
  });

  it('an upstream that keeps the response open after [DONE] still completes; its socket is dropped', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`${sseChunk({ content: 'a' })}${sseChunk({}, 'stop')}data: [DONE]\n\n`);
    });
    const provider = openAi(server.url);
    try {
      const chunks = await collect(await provider.chatStream(chatRequest({ stream: true }), 'up', ctx()));
      assert.deepEqual(chunks[chunks.length - 1], { type: 'finish', reason: 'stop' });
      await eventually(() => server.closed() === 1, 'the server saw the socket close');
    } finally {
      await provider.close();
      await server.close();
    }
  });

  it('a stream that ends after its finish chunk without [DONE] is complete', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(`${sseChunk({ content: 'x' })}${sseChunk({}, 'length')}`);
    });
    const provider = openAi(server.url);
    try {
      const chunks = await collect(await provider.chatStream(chatRequest({ stream: true }), 'up', ctx()));
      assert.deepEqual(chunks[chunks.length - 1], { type: 'finish', reason: 'length' });
    } finally {
      await provider.close();
      await server.close();
    }
  });

  it('a stream that ends cleanly but without a finish reason is upstream_error, never a short answer', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(`${sseChunk({ content: 'partial' })}data: [DONE]\n\n`);
    });
    const provider = openAi(server.url);
    try {
      await rejectsWith(collect(await provider.chatStream(chatRequest({ stream: true }), 'up', ctx())), 'upstream_error');
    } finally {
      await provider.close();
      await server.close();
    }
  });

  it('an error event mid-stream is upstream_error (OpenAI data {error} and Anthropic event: error)', async () => {
    const server = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (req.url === '/v1/messages') {
        res.end(
          'event: message_start\ndata: {"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":1,"output_tokens":1}}}\n\n' +
            'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n',
        );
      } else {
        res.end(`${sseChunk({ content: 'x' })}data: {"error":{"message":"model crashed","type":"server_error"}}\n\n`);
      }
    });
    const openai = openAi(server.url);
    const anthropic = createProvider(backend({ protocol: 'anthropic', baseUrl: server.url }), secretSource('public-api'));
    try {
      const e1 = await rejectsWith(collect(await openai.chatStream(chatRequest({ stream: true }), 'up', ctx())), 'upstream_error');
      assert.equal(e1.message, 'model crashed');
      const e2 = await rejectsWith(collect(await anthropic.chatStream(chatRequest({ stream: true }), 'up', ctx())), 'upstream_error');
      assert.equal(e2.message, 'Overloaded');
      assert.equal(e2.retryable, true);
    } finally {
      await openai.close();
      await anthropic.close();
      await server.close();
    }
  });

  it('a JSON answer to a stream request is refused before streaming starts', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"streaming unsupported"}}');
    });
    const provider = openAi(server.url);
    try {
      const err = await rejectsWith(provider.chatStream(chatRequest({ stream: true }), 'up', ctx()), 'upstream_error');
      assert.equal(err.message, 'streaming unsupported');
    } finally {
      await provider.close();
      await server.close();
    }
  });

  it('malformed JSON and a body cut mid-way are upstream_error', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/chat/completions') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
        res.write('{"id":"x","choi');
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('<html>not json</html>');
    });
    const provider = openAi(server.url);
    try {
      const cut = await rejectsWith(provider.chat(chatRequest(), 'up', ctx()), 'upstream_error');
      assert.match(cut.message, /dropped/);
      const bad = await rejectsWith(provider.embed({ model: 'e', input: ['x'] }, 'up', ctx()), 'upstream_error');
      assert.match(bad.message, /malformed/);
    } finally {
      await provider.close();
      await server.close();
    }
  });

  it('passes FastAPI 422 messages through without the echoed input, and parses HTTP-date retry-after', async () => {
    const secret = 'SECRET PROMPT TEXT';
    const server = await serve((req, res) => {
      if (req.url === '/embeddings') {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': new Date(Date.now() + 30_000).toUTCString() });
        res.end('{}');
        return;
      }
      res.writeHead(422, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ detail: [{ type: 'value_error', loc: ['body', 'messages', 0], msg: 'Value error, bad role', input: { content: secret } }] }));
    });
    const provider = openAi(server.url);
    try {
      const err = await rejectsWith(provider.chat(chatRequest(), 'up', ctx()), 'invalid_request');
      assert.equal(err.message, 'body.messages.0: Value error, bad role');
      assert.ok(!err.message.includes(secret));
      assert.equal(err.upstreamStatus, 422);
      const limited = await rejectsWith(provider.embed({ model: 'e', input: ['x'] }, 'up', ctx()), 'rate_limited');
      assert.ok(limited.retryAfter !== undefined && limited.retryAfter >= 28 && limited.retryAfter <= 31);
    } finally {
      await provider.close();
      await server.close();
    }
  });

  it('403 from the upstream is upstream_error; the error body is drained so the connection survives', async () => {
    let calls = 0;
    const server = await serve((req, res) => {
      calls++;
      if (calls === 1) {
        res.writeHead(403, { 'content-type': 'application/json' });
        res.end('{"error":{"message":"key revoked"}}');
      } else okJson(req, res);
    });
    const provider = openAi(server.url);
    try {
      const err = await rejectsWith(provider.chat(chatRequest(), 'up', ctx()), 'upstream_error');
      assert.equal(err.upstreamStatus, 403);
      assert.ok(!err.message.includes('key revoked'));
      await provider.chat(chatRequest(), 'up', ctx());
      await settle();
      assert.equal(server.closed(), 0);
    } finally {
      await provider.close();
      await server.close();
    }
  });

  it('reassembles UTF-8 characters split across TCP chunks', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const bytes = Buffer.from(`${sseChunk({ content: 'héllo €' })}${sseChunk({}, 'stop')}data: [DONE]\n\n`);
      const cut = bytes.indexOf(0xe2) + 1; // inside the euro sign
      res.write(bytes.subarray(0, cut));
      setTimeout(() => res.end(bytes.subarray(cut)), 20);
    });
    const provider = openAi(server.url);
    try {
      const chunks = await collect(await provider.chatStream(chatRequest({ stream: true }), 'up', ctx()));
      assert.equal(textOfChunks(chunks), 'héllo €');
    } finally {
      await provider.close();
      await server.close();
    }
  });

  it('connection refused on a closed port is retryable upstream_unavailable', async () => {
    const probe = createNetServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const provider = openAi(`http://127.0.0.1:${port}/v1`);
    try {
      const err = await rejectsWith(provider.chat(chatRequest(), 'up', ctx()), 'upstream_unavailable');
      assert.equal(err.retryable, true);
      assert.match(err.message, /refused/);
      await rejectsWith(provider.chatStream(chatRequest({ stream: true }), 'up', ctx()), 'upstream_unavailable');
    } finally {
      await provider.close();
    }
  });

  it('headers that never come are upstream_timeout and the socket is closed', async () => {
    const server = await serve(() => {
      // Never answers.
    });
    const provider = openAi(server.url, { timeouts: { connectMs: 1_000, firstByteMs: 150, totalMs: 5_000 } });
    try {
      const err = await rejectsWith(provider.chat(chatRequest(), 'up', ctx()), 'upstream_timeout');
      assert.equal(err.retryable, true);
      await eventually(() => server.closed() === 1, 'the server saw the socket close');
    } finally {
      await provider.close();
      await server.close();
    }
  });

  it('the total deadline applies while waiting for headers too', async () => {
    const server = await serve(() => {});
    const provider = openAi(server.url, { timeouts: { connectMs: 1_000, firstByteMs: 5_000, totalMs: 150 } });
    try {
      await rejectsWith(provider.chat(chatRequest(), 'up', ctx()), 'upstream_timeout');
    } finally {
      await provider.close();
      await server.close();
    }
  });

  it('an unread stream is torn down by the total deadline', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(sseChunk({ content: 'x' }));
    });
    const provider = openAi(server.url, { timeouts: { connectMs: 1_000, firstByteMs: 5_000, totalMs: 150 } });
    try {
      await provider.chatStream(chatRequest({ stream: true }), 'up', ctx());
      await eventually(() => server.closed() === 1, 'the server saw the socket close');
    } finally {
      await provider.close();
      await server.close();
    }
  });
});

describe('transport: TLS', () => {
  let pki: TestPki;
  let tlsServer: TestServer;
  let mtlsServer: TestServer;

  before(async () => {
    pki = makePki();
    tlsServer = await serve(okJson, { key: pki.serverKey, cert: pki.serverCert });
    mtlsServer = await serve(okJson, { key: pki.serverKey, cert: pki.serverCert, ca: pki.ca, requestCert: true, rejectUnauthorized: true });
  });
  after(async () => {
    await tlsServer.close();
    await mtlsServer.close();
    pki.cleanup();
  });

  function tlsProvider(url: string, tls: BackendConfig['tls']): Provider {
    return createProvider(
      backend({ protocol: 'openai', baseUrl: url, tls, timeouts: { connectMs: 2_000, firstByteMs: 2_000, totalMs: 5_000 } }),
      secretSource('public-api', {}, pki.dir),
    );
  }

  it('a TLS handshake that never completes is upstream_timeout (connectMs)', async () => {
    const sockets: Socket[] = [];
    // Accepts TCP, never speaks TLS.
    const silent = createNetServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    const provider = createProvider(
      backend({ protocol: 'openai', baseUrl: `https://127.0.0.1:${port}`, timeouts: { connectMs: 150, firstByteMs: 5_000, totalMs: 5_000 } }),
      secretSource('public-api'),
    );
    try {
      const err = await rejectsWith(provider.chat(chatRequest(), 'up', ctx()), 'upstream_timeout');
      assert.equal(err.retryable, true);
    } finally {
      await provider.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => {
        silent.close(() => resolve());
      });
    }
  });

  it('rejects a certificate from an untrusted CA when no CA is configured', async () => {
    const provider = tlsProvider(tlsServer.url, undefined);
    try {
      const err = await rejectsWith(provider.chat(chatRequest(), 'up', ctx()), 'upstream_unavailable');
      assert.match(err.message, /TLS/);
    } finally {
      await provider.close();
    }
  });

  it('rejects it with the wrong CA too', async () => {
    const provider = tlsProvider(tlsServer.url, { ca: `file:${pki.otherCaPath}` });
    try {
      await rejectsWith(provider.chat(chatRequest(), 'up', ctx()), 'upstream_unavailable');
    } finally {
      await provider.close();
    }
  });

  it('accepts it with the custom CA', async () => {
    const provider = tlsProvider(tlsServer.url, { ca: `file:${pki.caPath}` });
    try {
      const response = await provider.chat(chatRequest(), 'up', ctx());
      assert.equal(response.content, 'hi');
    } finally {
      await provider.close();
    }
  });

  it('checks the server name: the right CA but a name not in the certificate fails', async () => {
    const provider = tlsProvider(tlsServer.url, { ca: `file:${pki.caPath}`, servername: 'elsewhere.example' });
    try {
      await rejectsWith(provider.chat(chatRequest(), 'up', ctx()), 'upstream_unavailable');
    } finally {
      await provider.close();
    }
  });

  it('an mTLS server refuses a client without a certificate', async () => {
    const provider = tlsProvider(mtlsServer.url, { ca: `file:${pki.caPath}` });
    try {
      await rejectsWith(provider.chat(chatRequest(), 'up', ctx()), 'upstream_unavailable');
    } finally {
      await provider.close();
    }
  });

  it('an mTLS server accepts the client certificate', async () => {
    const provider = tlsProvider(mtlsServer.url, {
      ca: `file:${pki.caPath}`,
      cert: `file:${pki.clientCertPath}`,
      key: `file:${pki.clientKeyPath}`,
    });
    try {
      const response = await provider.chat(chatRequest(), 'up', ctx());
      assert.equal(response.content, 'hi');
    } finally {
      await provider.close();
    }
  });
});
