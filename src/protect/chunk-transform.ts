import type { Chunk } from '../domain/chat.js';

/** A stateful transform of a chunk stream: each chunk becomes zero or more, and the end may release what was held. */
export interface ChunkTransform {
  push(chunk: Chunk): readonly Chunk[];
  flush(): readonly Chunk[];
}

/** Chunks pass unchanged. */
export const IDENTITY_TRANSFORM: ChunkTransform = Object.freeze({ push: (chunk: Chunk) => [chunk], flush: () => [] });

export interface StreamHooks {
  /** Sees every chunk of the source, before the transform. */
  readonly seen?: (chunk: Chunk) => void;
  /**
   * Called exactly once when the source is finished with, however that happens: it
   * ended (before the transform's flush), it failed, the transform refused, or the
   * consumer returned early.
   */
  readonly end?: () => void;
  /** Called when the source itself failed (after `end`); not for a transform's refusal. */
  readonly failed?: () => void;
}

/**
 * `source` through `transform`, with the semantics of
 * `for await (const c of source) yield* transform.push(c); yield* transform.flush();`
 * in an async generator: a throw from the transform ends the stream with that error
 * and closes the source; return() closes the source.
 *
 * Written out by hand because that generator costs more than the transforms: `yield*`
 * over an array inside an async generator goes through an async-from-sync iterator, a
 * few promise turns per chunk. On the bench answer (~190 one-word chunks) the flag-mode
 * output scan took ~230 µs CPU as a generator, most of it that plumbing (measured with
 * bench/profile-stages.ts). Here a chunk already produced is handed out with one
 * resolved promise, and the source is only awaited when nothing is queued.
 *
 * Like for-await, the consumer calls next() once at a time.
 */
export function transformStream(source: AsyncIterable<Chunk>, transform: ChunkTransform, hooks: StreamHooks = {}): AsyncIterable<Chunk> {
  return { [Symbol.asyncIterator]: () => new TransformIterator(source[Symbol.asyncIterator](), transform, hooks) };
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

class TransformIterator implements AsyncIterator<Chunk, undefined> {
  readonly #source: AsyncIterator<Chunk>;
  readonly #transform: ChunkTransform;
  readonly #hooks: StreamHooks;
  #ended = false;
  #queue: readonly Chunk[] = [];
  #at = 0;
  /** The source has ended (or failed) and needs no return(). */
  #sourceDone = false;
  /** Nothing more will be produced. */
  #finished = false;

  constructor(source: AsyncIterator<Chunk>, transform: ChunkTransform, hooks: StreamHooks) {
    this.#source = source;
    this.#transform = transform;
    this.#hooks = hooks;
  }

  next(): Promise<IteratorResult<Chunk, undefined>> {
    if (this.#at < this.#queue.length) return Promise.resolve({ done: false, value: this.#queue[this.#at++]! });
    if (this.#finished) return Promise.resolve(DONE);
    return this.#pull();
  }

  async return(): Promise<IteratorResult<Chunk, undefined>> {
    this.#finish();
    this.#end();
    if (!this.#sourceDone) {
      this.#sourceDone = true;
      await this.#source.return?.();
    }
    return DONE;
  }

  async #pull(): Promise<IteratorResult<Chunk, undefined>> {
    for (;;) {
      let result: IteratorResult<Chunk>;
      try {
        result = await this.#source.next();
      } catch (err) {
        // A source that threw is finished; like for-await, do not call its return().
        this.#sourceDone = true;
        this.#finish();
        this.#end();
        this.#hooks.failed?.();
        throw err;
      }
      try {
        if (result.done === true) {
          this.#sourceDone = true;
          this.#end();
          this.#queue = this.#transform.flush();
          this.#at = 0;
          this.#finished = true;
        } else {
          this.#hooks.seen?.(result.value);
          this.#queue = this.#transform.push(result.value);
          this.#at = 0;
        }
      } catch (err) {
        // The transform refused (a blocked answer): end here and let the source go. As
        // with for-await, the transform's error is the one reported, not the source's.
        this.#finish();
        this.#end();
        if (!this.#sourceDone) {
          this.#sourceDone = true;
          try {
            await this.#source.return?.();
          } catch {
            // reported above
          }
        }
        throw err;
      }
      if (this.#at < this.#queue.length) return { done: false, value: this.#queue[this.#at++]! };
      if (this.#finished) return DONE;
    }
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#hooks.end?.();
  }

  #finish(): void {
    this.#finished = true;
    this.#queue = [];
    this.#at = 0;
  }
}
