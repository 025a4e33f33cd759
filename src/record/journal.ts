import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface JournalOptions {
  /** Folder that holds the segments; created if missing. */
  readonly dir: string;
  /** Names this journal's segments; unique per process and recorder (`<pid>-<n>`). */
  readonly name: string;
  /** A segment is sealed after this many lines, so finished ones can be deleted. */
  readonly segmentLines: number;
  /** A deferred write failed; the records stay queued but are not crash-safe. */
  readonly onError?: (err: unknown) => void;
}

/**
 * A write-ahead journal of decision records, so a record whose response was sent
 * survives the process being killed before the record queue committed it.
 *
 * Appends made in one turn of the event loop go out in one synchronous write(2) at the
 * end of that turn (setImmediate; no fsync), rather than one write per record: under load
 * a turn finishes many responses, and the syscall per record was most of the journal's
 * cost. Once written a line is in the kernel, which survives kill -9 (not power loss); a
 * crash inside the turn loses that turn's lines, a window of well under a millisecond
 * after the responses' last bytes. Segments
 * rotate every `segmentLines`; a sealed segment is deleted once no queue still holds
 * a record from it in memory. What is left after a crash is replayed at the next
 * start by `recoverJournals` (store writes are idempotent per request id; audit
 * entries are only added for requests the trail does not have).
 */
export class Journal {
  readonly #o: JournalOptions;
  #fd: number | undefined;
  #segment = 0;
  #lines = 0;
  #seq = 0;
  #path = '';
  #pending: string[] = [];
  /** Sequence number of the last line written (the rest are pending). */
  #written = 0;
  #scheduled = false;
  readonly #sealed: { path: string; lastSeq: number }[] = [];

  constructor(options: JournalOptions) {
    this.#o = options;
    mkdirSync(options.dir, { recursive: true });
  }

  /** Queues one line for this turn's write; returns its sequence number (1, 2, …). */
  append(line: string): number {
    this.#pending.push(line);
    this.#seq++;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#flushNow());
    }
    return this.#seq;
  }

  /** Writes the lines queued so far, rotating segments every `segmentLines`. Throws if a write fails. */
  flush(): void {
    while (this.#pending.length > 0) {
      if (this.#fd === undefined) this.#open();
      const lines = this.#pending.splice(0, this.#o.segmentLines - this.#lines);
      writeSync(this.#fd as number, `${lines.join('\n')}\n`);
      this.#lines += lines.length;
      this.#written += lines.length;
      if (this.#lines >= this.#o.segmentLines) this.#seal();
    }
  }

  #flushNow(): void {
    this.#scheduled = false;
    try {
      this.flush();
    } catch (err) {
      this.#o.onError?.(err);
    }
  }

  /**
   * Deletes sealed segments whose every line is settled: `oldestHeld` is the lowest
   * sequence number any queue still holds in memory (undefined when none holds any).
   */
  release(oldestHeld: number | undefined): void {
    while (this.#sealed.length > 0) {
      const first = this.#sealed[0] as { path: string; lastSeq: number };
      if (oldestHeld !== undefined && oldestHeld <= first.lastSeq) return;
      rmSync(first.path, { force: true });
      this.#sealed.shift();
    }
  }

  get hasSealed(): boolean {
    return this.#sealed.length > 0;
  }

  /** After every queue was flushed: nothing in the journal is needed any more. */
  close(): void {
    this.flush();
    this.#seal();
    this.release(undefined);
  }

  #open(): void {
    this.#segment++;
    this.#path = join(this.#o.dir, `${this.#o.name}-${String(this.#segment).padStart(6, '0')}.jsonl`);
    this.#fd = openSync(this.#path, 'a');
    this.#lines = 0;
  }

  #seal(): void {
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
    this.#sealed.push({ path: this.#path, lastSeq: this.#written });
  }
}

/** A journal segment left behind by a process that is gone. */
export interface OrphanSegment {
  readonly path: string;
  /** The process that wrote it (or last started recovering it). */
  readonly pid: number;
}

/**
 * Segments in `dir` whose owner is no longer running: written by a process that
 * died, or claimed by a recovery that died. Segments of a live process (a sibling
 * worker, or another recorder in this process) are left alone.
 */
export function orphanSegments(dir: string, isAlive: (pid: number) => boolean = processAlive): OrphanSegment[] {
  if (!existsSync(dir)) return [];
  const out: OrphanSegment[] = [];
  for (const file of readdirSync(dir).sort()) {
    const m = /^(\d+)-\d+-\d+\.jsonl(?:\.recovering-(\d+))?$/.exec(file);
    if (m === null) continue;
    const pid = Number(m[2] ?? m[1]);
    if (pid === process.pid || isAlive(pid)) continue;
    out.push({ path: join(dir, file), pid });
  }
  return out;
}

/**
 * Takes a segment for this process's recovery. Rename is atomic, so when two
 * workers start at once only one of them replays it. Returns the new path, or
 * undefined when another process got it first.
 */
export function claimSegment(segment: OrphanSegment): string | undefined {
  const base = segment.path.replace(/\.recovering-\d+$/, '');
  const claimed = `${base}.recovering-${process.pid}`;
  try {
    renameSync(segment.path, claimed);
    return claimed;
  } catch {
    return undefined;
  }
}

/** Lines of a segment; a torn last line (a write cut short) is returned separately. */
export function readSegment(path: string): { lines: string[]; torn: string | undefined } {
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  const last = lines.pop() ?? '';
  return { lines: lines.filter((l) => l.trim() !== ''), torn: last.trim() === '' ? undefined : last };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
