import { appendFileSync, existsSync, readFileSync, renameSync, rmSync } from 'node:fs';

export type WhenFull = 'drop_oldest' | 'drop_newest' | 'spill';
export type DropReason = 'queue_full' | 'write_failed' | 'closed' | 'spill_failed';
export type EnqueueResult = 'queued' | 'dropped_oldest' | 'dropped_newest' | 'spilled' | 'dropped_closed';

/** What a queue reports, so metrics count every loss and logs mention it. */
export interface QueueObserver {
  written(destination: string, n: number): void;
  dropped(destination: string, reason: DropReason, n: number): void;
  spilled(destination: string, n: number): void;
  writeFailed(destination: string, error: unknown): void;
}

export interface BatchQueueOptions<T> {
  /** Names the destination in metrics and logs: `store`, `audit`, a sink name. */
  readonly name: string;
  readonly size: number;
  readonly batchSize: number;
  readonly flushIntervalMs: number;
  readonly whenFull: WhenFull;
  /** Required for `spill`: JSONL file that overflow is appended to. */
  readonly spillPath?: string;
  readonly writeRetries: number;
  readonly write: (batch: readonly T[]) => Promise<void>;
  /** One line of JSON per item, for spilling. */
  readonly serialize?: (item: T) => string;
  readonly observer?: QueueObserver;
  /** First retry waits this long, doubling each time. */
  readonly retryBaseMs?: number;
}

/**
 * A bounded in-memory queue drained by one async writer in batches, written when
 * `batchSize` items are waiting or `flushIntervalMs` after the first one arrived.
 * enqueue() is O(1), does no I/O (except `spill` when full) and never throws, so
 * the request path pays a few hundred nanoseconds. When full, `whenFull` decides
 * and every lost item is reported to the observer: nothing goes silently.
 */
export class BatchQueue<T> {
  readonly name: string;
  readonly #o: BatchQueueOptions<T>;
  readonly #ring: (T | undefined)[];
  #head = 0;
  #length = 0;
  #timer: NodeJS.Timeout | undefined;
  #scheduled = false;
  #writing: Promise<void> | undefined;
  /** The batch being written (retries included); its items are still only in memory. */
  #batch: readonly T[] | undefined;
  #closed = false;
  #dueByTime = false;
  readonly #stats = { written: 0, dropped: 0, spilled: 0, writeErrors: 0 };

  constructor(options: BatchQueueOptions<T>) {
    if (options.whenFull === 'spill' && (options.spillPath === undefined || options.serialize === undefined)) {
      throw new Error(`queue ${options.name}: spill needs spillPath and serialize`);
    }
    this.name = options.name;
    this.#o = options;
    this.#ring = new Array<T | undefined>(options.size);
  }

  get depth(): number {
    return this.#length;
  }

  /** The oldest item still held only in memory (being written, or waiting), if any. */
  oldest(): T | undefined {
    const writing = this.#batch?.[0];
    if (writing !== undefined) return writing;
    return this.#length === 0 ? undefined : this.#ring[this.#head];
  }

  stats(): { readonly depth: number; readonly written: number; readonly dropped: number; readonly spilled: number; readonly writeErrors: number } {
    return { depth: this.#length, ...this.#stats };
  }

  enqueue(item: T): EnqueueResult {
    if (this.#closed) {
      this.#drop('closed', 1);
      return 'dropped_closed';
    }
    let result: EnqueueResult = 'queued';
    const cap = this.#ring.length;
    if (this.#length === cap) {
      switch (this.#o.whenFull) {
        case 'drop_newest':
          this.#drop('queue_full', 1);
          return 'dropped_newest';
        case 'spill':
          this.#spill([item]);
          return 'spilled';
        case 'drop_oldest':
          this.#ring[this.#head] = undefined;
          this.#head = (this.#head + 1) % cap;
          this.#length--;
          this.#drop('queue_full', 1);
          result = 'dropped_oldest';
          break;
      }
    }
    this.#ring[(this.#head + this.#length) % cap] = item;
    this.#length++;
    if (this.#length >= this.#o.batchSize) this.#schedule();
    else if (this.#timer === undefined) this.#startTimer();
    return result;
  }

  /** Writes everything queued now, and waits for it (and any write in progress). */
  async flush(): Promise<void> {
    // Bounded: each round writes at least one batch or gives it up to overflow.
    for (let guard = 0; guard < 1_000_000; guard++) {
      if (this.#writing !== undefined) {
        await this.#writing;
        continue;
      }
      if (this.#length === 0) return;
      this.#writing = this.#writeOne();
      await this.#writing;
    }
  }

  /** Flushes, then refuses (and counts) anything enqueued afterwards. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
    this.#clearTimer();
  }

  #startTimer(): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#dueByTime = true;
      this.#schedule();
    }, this.#o.flushIntervalMs);
    // A pending flush must not keep the process alive; shutdown calls flush() itself.
    this.#timer.unref();
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (this.#scheduled || this.#writing !== undefined) return;
    this.#scheduled = true;
    // Off the caller's stack: enqueue returns before any write starts.
    setImmediate(() => {
      this.#scheduled = false;
      void this.#pump();
    });
  }

  async #pump(): Promise<void> {
    while (this.#writing === undefined && this.#length > 0 && (this.#length >= this.#o.batchSize || this.#dueByTime)) {
      this.#dueByTime = false;
      this.#writing = this.#writeOne();
      await this.#writing;
    }
    if (this.#length > 0 && this.#timer === undefined && !this.#closed) this.#startTimer();
  }

  /** Takes one batch off the queue and writes it, with retries. Never rejects. */
  async #writeOne(): Promise<void> {
    try {
      const n = Math.min(this.#o.batchSize, this.#length);
      const batch: T[] = new Array<T>(n);
      const cap = this.#ring.length;
      for (let i = 0; i < n; i++) {
        batch[i] = this.#ring[this.#head] as T;
        this.#ring[this.#head] = undefined;
        this.#head = (this.#head + 1) % cap;
      }
      this.#length -= n;
      this.#batch = batch;
      if (this.#length === 0) this.#clearTimer();
      for (let attempt = 0; ; attempt++) {
        try {
          await this.#o.write(batch);
          this.#stats.written += n;
          this.#o.observer?.written(this.name, n);
          return;
        } catch (err) {
          this.#stats.writeErrors++;
          this.#o.observer?.writeFailed(this.name, err);
          if (attempt >= this.#o.writeRetries) {
            if (this.#o.whenFull === 'spill') this.#spill(batch);
            else this.#drop('write_failed', n);
            return;
          }
          // Kept referenced: during a shutdown flush this timer is what keeps the process alive.
          await new Promise<void>((resolve) => setTimeout(resolve, (this.#o.retryBaseMs ?? 100) * 2 ** attempt));
        }
      }
    } finally {
      this.#batch = undefined;
      this.#writing = undefined;
    }
  }

  #drop(reason: DropReason, n: number): void {
    this.#stats.dropped += n;
    this.#o.observer?.dropped(this.name, reason, n);
  }

  #spill(items: readonly T[]): void {
    const path = this.#o.spillPath as string;
    const serialize = this.#o.serialize as (item: T) => string;
    try {
      // Synchronous on purpose: an async stream would buffer without bound, which is
      // the problem spilling exists to solve. It only runs while the queue is full.
      appendFileSync(path, items.map((i) => `${serialize(i)}\n`).join(''));
      this.#stats.spilled += items.length;
      this.#o.observer?.spilled(this.name, items.length);
    } catch {
      this.#drop('spill_failed', items.length);
    }
  }
}

/** A spill line that did not parse: a write cut short by a crash leaves one at the end. */
export interface TornLine {
  /** 1-based line number in the spill file. */
  readonly line: number;
  readonly bytes: number;
  /** The request id, when the fragment still holds it. */
  readonly requestId: string | undefined;
}

/**
 * Re-enqueues what an earlier run spilled. The file is renamed first, so items
 * that spill again while replaying land in a fresh file, not in the one being read.
 * Lines that do not parse (a torn tail from a crash mid-append) are reported to
 * `onTorn` and kept in `<path>.torn` rather than silently skipped.
 * Returns how many lines were replayed.
 */
export function replaySpill<T>(
  path: string,
  parse: (line: string) => T | undefined,
  enqueue: (item: T) => void,
  onTorn?: (torn: TornLine) => void,
): number {
  if (!existsSync(path)) return 0;
  const replaying = `${path}.replaying`;
  renameSync(path, replaying);
  let n = 0;
  const torn: string[] = [];
  const lines = readFileSync(replaying, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const item = parse(line);
    if (item === undefined) {
      torn.push(line);
      const id = /"requestId":"([^"\\]{1,128})"/.exec(line)?.[1];
      onTorn?.({ line: i + 1, bytes: Buffer.byteLength(line), requestId: id });
      return;
    }
    enqueue(item);
    n++;
  });
  if (torn.length > 0) appendFileSync(`${path}.torn`, `${torn.join('\n')}\n`);
  rmSync(replaying);
  return n;
}
