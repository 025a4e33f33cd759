import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface JournalOptions {
  /** Folder that holds the segments; created if missing. */
  readonly dir: string;
  /** Names this journal's segments; unique per process and recorder (`<pid>-<n>`). */
  readonly name: string;
  /** A segment is sealed after this many lines, so finished ones can be deleted. */
  readonly segmentLines: number;
}

/**
 * A write-ahead journal of decision records, so a record whose response was sent
 * survives the process being killed before the record queue committed it.
 *
 * Each append is one synchronous write(2) on an open file (no fsync): it is in the
 * kernel once append() returns, which survives kill -9 (not power loss). Segments
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
  readonly #sealed: { path: string; lastSeq: number }[] = [];

  constructor(options: JournalOptions) {
    this.#o = options;
    mkdirSync(options.dir, { recursive: true });
  }

  /** Appends one line; returns its sequence number (1, 2, …). Throws if the write fails. */
  append(line: string): number {
    if (this.#fd === undefined) this.#open();
    writeSync(this.#fd as number, `${line}\n`);
    this.#seq++;
    this.#lines++;
    if (this.#lines >= this.#o.segmentLines) this.#seal();
    return this.#seq;
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
    this.#sealed.push({ path: this.#path, lastSeq: this.#seq });
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
