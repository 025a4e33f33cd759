import type { FastifyReply } from 'fastify';
import type { Chunk } from '../domain/chat.js';
import { GatewayError } from '../domain/errors.js';
import type { RequestContext } from '../pipeline/context.js';
import { perimeterHeaders } from './context.js';
import type { RecordInfo } from './records.js';
import { performance } from 'node:perf_hooks';
import { writeSse, type StreamEncoder, type StreamOutcome } from './sse.js';

/**
 * Sends a chat stream as SSE. The first chunk is awaited before any header is
 * written, so an upstream that refuses still gets a proper status code and error
 * body; from then on, failures become a final error event.
 */
export async function sendStream(
  reply: FastifyReply,
  ctx: RequestContext,
  stream: AsyncIterable<Chunk>,
  encoder: StreamEncoder,
  info?: RecordInfo,
): Promise<StreamOutcome> {
  // The pipeline notes the usage chunk on ctx as it passes; no extra async layer per token here.
  const iterator = stream[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done === true) throw new GatewayError('upstream_error', 'The upstream ended the stream before sending anything.');
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
    ...perimeterHeaders(ctx.requestId, ctx),
  });
  if (info !== undefined) info.firstTokenAt = performance.now();
  const outcome = await writeSse(res, first.value, iterator, encoder, ctx.signal);
  if (info !== undefined && outcome.error !== undefined) info.error = outcome.error;
  if (info !== undefined && !outcome.completed && outcome.error === undefined) info.error = new GatewayError('client_closed_request', 'client went away');
  if (!outcome.completed) await iterator.return?.();
  if (info !== undefined && ctx.usage !== undefined) info.usage = ctx.usage;
  return outcome;
}
