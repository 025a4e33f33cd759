import { StringDecoder } from 'node:string_decoder';
import { createParser, type EventSourceMessage, type EventSourceParser } from 'eventsource-parser';
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

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * Reads the upstream body as SSE and hands out Chunks. Chunks parsed from one body
 * read are queued and handed out with one resolved promise each; the body is awaited
 * only when the queue is empty. (It was an async generator yielding per chunk, a
 * few promise turns per token; see bench/profile-stages.ts.) return() releases the
 * upstream even if iteration never started. Single use, one next() at a time.
 */
class ChunkStream implements AsyncIterable<Chunk>, AsyncIterator<Chunk, undefined> {
  readonly #exchange: Exchange;
  readonly #mapper: StreamMapper;
  readonly #events: EventSourceMessage[] = [];
  readonly #parser: EventSourceParser;
  // undici's body ignores setEncoding, so UTF-8 split across chunks is stitched here.
  readonly #decoder = new StringDecoder('utf8');
  #body: AsyncIterator<Buffer> | undefined;
  #queue: Chunk[] = [];
  #at = 0;
  #overflow = false;
  /** The upstream said the answer is complete; the rest of the body is only drained. */
  #complete = false;
  #done = false;

  constructor(exchange: Exchange, mapper: StreamMapper) {
    this.#exchange = exchange;
    this.#mapper = mapper;
    this.#parser = createParser({
      onEvent: (event) => {
        this.#events.push(event);
      },
      onError: (err) => {
        // Unknown fields and bad retry values are harmless; only a runaway buffer is fatal.
        if (err.type === 'max-buffer-size-exceeded') this.#overflow = true;
      },
      maxBufferSize: MAX_SSE_BUFFER,
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<Chunk, undefined> {
    return this;
  }

  next(): Promise<IteratorResult<Chunk, undefined>> {
    if (this.#at < this.#queue.length) return Promise.resolve({ done: false, value: this.#queue[this.#at++]! });
    if (this.#done) return Promise.resolve(DONE);
    return this.#pull();
  }

  async return(): Promise<IteratorResult<Chunk, undefined>> {
    this.#finish();
    return DONE;
  }

  async #pull(): Promise<IteratorResult<Chunk, undefined>> {
    try {
      for (;;) {
        let read: IteratorResult<Buffer>;
        try {
          this.#body ??= (this.#exchange.body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
          read = await this.#body.next();
          if (read.done !== true && !this.#complete) this.#feed(read.value);
        } catch (err) {
          // Everything the client needs was already delivered; a late hiccup changes nothing.
          if (this.#complete) return this.#end();
          throw this.#exchange.bodyError(err);
        }
        if (read.done === true) {
          if (!this.#complete) {
            this.#queue = [];
            this.#at = 0;
            this.#mapper.onEnd(this.#queue);
          }
          return this.#end();
        }
        if (this.#at < this.#queue.length) return { done: false, value: this.#queue[this.#at++]! };
      }
    } catch (err) {
      this.#finish();
      throw err;
    }
  }

  /** One body read: parse its events into a fresh queue. */
  #feed(piece: Buffer): void {
    this.#parser.feed(this.#decoder.write(piece));
    if (this.#overflow) throw malformed('event stream buffer overflow');
    const out: Chunk[] = [];
    for (const event of this.#events) {
      if (this.#mapper.onEvent(event.event, event.data, out)) {
        this.#complete = true;
        break;
      }
    }
    this.#events.length = 0;
    this.#queue = out;
    this.#at = 0;
    // After completion the body is only drained, so the socket is reused.
    if (this.#complete) this.#exchange.expectEnd();
  }

  /** The body ended: what is still queued goes out, then done. */
  #end(): IteratorResult<Chunk, undefined> {
    this.#done = true;
    this.#exchange.release();
    if (this.#at < this.#queue.length) return { done: false, value: this.#queue[this.#at++]! };
    return DONE;
  }

  #finish(): void {
    this.#done = true;
    this.#queue = [];
    this.#at = 0;
    this.#exchange.release();
  }
}
