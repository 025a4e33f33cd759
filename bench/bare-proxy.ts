/**
 * The baseline the CPU target is stated against: a bare Node + undici reverse
 * proxy with no auth, no classification, no policy and no records. It forwards the
 * request body as-is and streams the answer back. Bench-only; run as its own process:
 *
 *   node dist/bench/bare-proxy.js <listen-port> <upstream-origin>
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Pool } from 'undici';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host', 'content-length']);

function main(): void {
  const port = Number(process.argv[2]);
  const upstream = process.argv[3];
  if (!Number.isInteger(port) || upstream === undefined) throw new Error('usage: bare-proxy <port> <upstream-origin>');
  const pool = new Pool(upstream, { connections: 256, pipelining: 1 });
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && !HOP_BY_HOP.has(k)) headers[k] = v;
      pool.request({ method: req.method === 'GET' ? 'GET' : 'POST', path: req.url ?? '/', headers, body: Buffer.concat(chunks) }).then(
        (up) => {
          const out: Record<string, string> = {};
          for (const [k, v] of Object.entries(up.headers)) if (typeof v === 'string' && !HOP_BY_HOP.has(k)) out[k] = v;
          res.writeHead(up.statusCode, out);
          up.body.on('data', (c: Buffer) => res.write(c));
          up.body.on('end', () => res.end());
          up.body.on('error', () => res.destroy());
        },
        () => {
          res.writeHead(502).end();
        },
      );
    });
  });
  server.keepAliveTimeout = 65_000;
  server.listen(port, '127.0.0.1', () => process.stdout.write(`bare proxy on http://127.0.0.1:${port}\n`));
  process.once('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
    void pool.close().finally(() => process.exit(0));
  });
}

main();
