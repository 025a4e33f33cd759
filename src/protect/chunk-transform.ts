import type { Chunk } from '../domain/chat.js';

/** A stateful transform of a chunk stream: each chunk becomes zero or more, and the end may release what was held. */
export interface ChunkTransform {
  push(chunk: Chunk): readonly Chunk[];
  flush(): readonly Chunk[];
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
export function transformStream(source: AsyncIterable<Chunk>, transform: ChunkTransform): AsyncIterable<Chunk> {
  return { [Symbol.asyncIterator]: () => new TransformIterator(source[Symbol.asyncIterator](), transform) };
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

class TransformIterator implements AsyncIterator<Chunk, undefined> {
  readonly #source: AsyncIterator<Chunk>;
  readonly #transform: ChunkTransform;
  #queue: readonly Chunk[] = [];
  #at = 0;
  /** The source has ended (or failed) and needs no return(). */
  #sourceDone = false;
  /** Nothing more will be produced. */
  #finished = false;

  constructor(source: AsyncIterator<Chunk>, transform: ChunkTransform) {
    this.#source = source;
    this.#transform = transform;
  }

  next(): Promise<IteratorResult<Chunk, undefined>> {
    if (this.#at < this.#queue.length) return Promise.resolve({ done: false, value: this.#queue[this.#at++]! });
    if (this.#finished) return Promise.resolve(DONE);
    return this.#pull();
  }

  async return(): Promise<IteratorResult<Chunk, undefined>> {
    this.#finish();
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
        throw err;
      }
      try {
        if (result.done === true) {
          this.#sourceDone = true;
          this.#queue = this.#transform.flush();
          this.#at = 0;
          this.#finished = true;
        } else {
          this.#queue = this.#transform.push(result.value);
          this.#at = 0;
        }
      } catch (err) {
        // The transform refused (a blocked answer): end here and let the source go. As
        // with for-await, the transform's error is the one reported, not the source's.
        this.#finish();
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

  #finish(): void {
    this.#finished = true;
    this.#queue = [];
    this.#at = 0;
  }
}
