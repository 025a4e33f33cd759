import type { ServerResponse } from 'node:http';
import type { Chunk } from '../domain/chat.js';
import { isGatewayError, toGatewayError, type GatewayError } from '../domain/errors.js';

/** Turns internal chunks into one protocol's SSE frames. One instance per response. */
export interface StreamEncoder {
  /** Frames for this chunk; may be '' when the protocol has nothing to say for it. */
  chunk(chunk: Chunk): string;
  /** Frames that close a stream that completed normally. */
  end(): string;
  /** The final frame when the stream fails after it has started. */
  error(error: GatewayError): string;
}

export interface StreamOutcome {
  /** True when every chunk was delivered and the closing frames were written. */
  completed: boolean;
  /** Set when the upstream failed mid-stream. */
  error?: GatewayError;
}

/**
 * Writes an already-started chunk stream to the client as SSE. The first chunk has
 * been pulled by the caller (so upstream refusals could still become a status code),
 * and is written first. A failure after headers becomes a final error frame, never
 * a silent truncation; a client that goes away stops the loop, and the caller's
 * abort signal closes the upstream.
 *
 * Backpressure: once the socket refuses more (write() returns false) nothing more
 * is pulled from `rest` until it drains, so a client that reads slowly slows the
 * upstream read (undici stops reading, TCP pushes back) instead of the gateway
 * buffering the stream. At most one extra upstream read is held while blocked.
 *
 * `signal` is the request's: when it aborts with a GatewayError (the drain deadline),
 * the stream ends with that error as its final event.
 */
export async function writeSse(
  res: ServerResponse,
  first: Chunk,
  rest: AsyncIterator<Chunk>,
  encoder: StreamEncoder,
  signal?: AbortSignal,
): Promise<StreamOutcome> {
  let pending = '';
  let scheduled = false;
  let blocked: Promise<void> | undefined;
  // The first frame goes out at once, with the headers: it is what time to first token
  // measures. Only the frames after it wait for the end of the tick to be batched.
  const head = encoder.chunk(first);
  if (head !== '' && !res.destroyed && !res.write(head)) blocked = drained(res, signal);
  // Chunks parsed from one upstream read arrive in the same tick; sending them as one
  // string at the end of the tick costs one write instead of one per token.
  const flush = (): void => {
    scheduled = false;
    if (pending === '' || res.destroyed) return;
    const ok = res.write(pending);
    pending = '';
    if (!ok) blocked = drained(res, signal);
  };
  try {
    for (;;) {
      if (res.destroyed) return { completed: false };
      if (blocked !== undefined) {
        await blocked;
        blocked = undefined;
      }
      if (signal?.aborted === true && isGatewayError(signal.reason)) throw signal.reason;
      const next = await rest.next();
      if (next.done === true) break;
      const frames = encoder.chunk(next.value);
      if (frames === '') continue;
      pending += frames;
      if (!scheduled) {
        scheduled = true;
        process.nextTick(flush);
      }
    }
  } catch (err) {
    // An upstream read aborted by the drain deadline fails as a client abort; the signal's reason is the truth.
    const reason: unknown = signal?.aborted === true ? signal.reason : undefined;
    const error = isGatewayError(reason) ? reason : toGatewayError(err);
    if (!res.destroyed) res.end(pending + encoder.error(error));
    return { completed: false, error };
  }
  if (res.destroyed) return { completed: false };
  const tail = pending + encoder.end();
  pending = '';
  res.end(tail);
  return { completed: true };
}

function drained(res: ServerResponse, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
    signal?.addEventListener('abort', done);
  });
}

export function sseData(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

export function sseEvent(event: string, payload: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(payload)}\n\n`;
}
