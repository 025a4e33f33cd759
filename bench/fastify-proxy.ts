/**
 * The floor of the gateway's own stack: Fastify (default JSON body parser, one route,
 * logging off) in front of an undici Pool, with the chat body parsed and serialised
 * again like any JSON-handling gateway must, and the answer streamed back as bytes. No
 * auth, classification, policy or records. Beside the bare proxy it shows how much of
 * the per-request budget the framework and JSON handling take before any gateway work.
 * Bench-only; run as its own process:
 *
 *   node dist/bench/fastify-proxy.js <listen-port> <upstream-origin>
 */
import Fastify from 'fastify';
import { Pool } from 'undici';

async function main(): Promise<void> {
  const port = Number(process.argv[2]);
  const upstream = process.argv[3];
  if (!Number.isInteger(port) || upstream === undefined) throw new Error('usage: fastify-proxy <port> <upstream-origin>');
  const pool = new Pool(upstream, { connections: 256, pipelining: 1 });
  const app = Fastify({ logger: false, bodyLimit: 4 * 1024 * 1024 });
  app.post('/v1/chat/completions', async (request, reply) => {
    const up = await pool.request({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(request.body),
    });
    const type = up.headers['content-type'];
    if (typeof type === 'string') reply.header('content-type', type);
    reply.status(up.statusCode);
    return reply.send(up.body);
  });
  await app.listen({ port, host: '127.0.0.1' });
  process.stdout.write(`fastify proxy on http://127.0.0.1:${port}\n`);
  process.once('SIGTERM', () => {
    void app.close().then(() => pool.close()).finally(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
