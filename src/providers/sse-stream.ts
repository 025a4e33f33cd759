import { StringDecoder } from 'node:string_decoder';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { Chunk } from '../domain/chat.js';
import { GatewayError } from '../domain/errors.js';
import { type Exchange, malformed, upstreamMessageOf } from './http-client.js';

/** Protocol-specific half of a stream: turns SSE events into Chunks. */
export interface StreamMapper {
  /**
   * Handles one SSE event, pushing any chunks onto `out`. Returns true once the
   * upstream has said the answer is complete (OpenAI `[DONE]`, Anthropic `message_stop`).
   * Throws GatewayError for an upstream error event or an unreadable event.
   */
  onEvent(event: string | undefined, data: string, out: Chunk[]): boolean;
  /**
   * The body ended before onEvent returned true. Pushes what is still owed (usage)
   * if the answer had finished, and throws upstream_error if it had not: a dropped
   * stream must never look like a short answer.
   */
  onEnd(out: Chunk[]): void;
}

/** A single unterminated SSE line or event larger than this is not a chat stream. */
const MAX_SSE_BUFFER = 8 * 1024 * 1024;

/**
 * Checks that a 2xx answer really is an event stream, then returns it as Chunks.
 * Some OpenAI-compatible servers answer a streaming request with a JSON error and
 * status 200; that is still a refusal, so it is thrown here, before the caller has
 * committed to streaming.
 */
export async function openEventStream(exchange: Exchange, mapper: StreamMapper): Promise<AsyncIterable<Chunk>> {
  const type = exchange.headerValue('content-type');
  if (type !== undefined && type.includes('json')) {
    const message = upstreamMessageOf(await exchange.json());
    throw new GatewayError('upstream_error', message ?? 'upstream answered a stream request without a stream', { retryable: true });
  }
  return new ChunkStream(exchange, mapper);
}

/**
 * Wraps the reading generator so that returning early always releases the
 * upstream, even if iteration never started (a generator that has not started
 * skips its finally block).
 */
class ChunkStream implements AsyncIterable<Chunk> {
  readonly #exchange: Exchange;
  readonly #generator: AsyncGenerator<Chunk, void, undefined>;

  constructor(exchange: Exchange, mapper: StreamMapper) {
    this.#exchange = exchange;
    this.#generator = pump(exchange, mapper);
  }

  [Symbol.asyncIterator](): AsyncIterator<Chunk> {
    const generator = this.#generator;
    const exchange = this.#exchange;
    return {
      next: () => generator.next(),
      return: () => {
        exchange.release();
        return generator.return(undefined);
      },
    };
  }
}

async function* pump(exchange: Exchange, mapper: StreamMapper): AsyncGenerator<Chunk, void, undefined> {
  const events: EventSourceMessage[] = [];
  let overflow = false;
  const parser = createParser({
    onEvent: (event) => {
      events.push(event);
    },
    onError: (err) => {
      // Unknown fields and bad retry values are harmless; only a runaway buffer is fatal.
      if (err.type === 'max-buffer-size-exceeded') overflow = true;
    },
    maxBufferSize: MAX_SSE_BUFFER,
  });
  const out: Chunk[] = [];
  let complete = false;
  try {
    // undici's body ignores setEncoding, so UTF-8 split across chunks is stitched here.
    const decoder = new StringDecoder('utf8');
    try {
      for await (const piece of exchange.body as AsyncIterable<Buffer>) {
        // After completion the loop only waits for the response to end, so the socket is reused.
        if (complete) continue;
        parser.feed(decoder.write(piece));
        if (overflow) throw malformed('event stream buffer overflow');
        for (const event of events) {
          if (mapper.onEvent(event.event, event.data, out)) {
            complete = true;
            break;
          }
        }
        events.length = 0;
        for (const chunk of out) yield chunk;
        out.length = 0;
        if (complete) exchange.expectEnd();
      }
    } catch (err) {
      // Everything the client needs was already delivered; a late hiccup changes nothing.
      if (complete) return;
      throw exchange.bodyError(err);
    }
    if (!complete) {
      mapper.onEnd(out);
      for (const chunk of out) yield chunk;
    }
  } finally {
    exchange.release();
  }
}
