import type { Finding } from './types.js';

/**
 * Findings per (path, text) of segments already scanned, least recently used first out.
 * Chat clients send the whole conversation every turn, so without it turn n scans all n
 * earlier messages again. The classifier is a pure function of (config, path, text):
 * detectors read the text and the field path and nothing else. One cache belongs to one
 * classifier, so a reload, which builds a new classifier, starts with an empty one. Only
 * scans that finished inside their budget are kept, so a fail-closed result is never
 * replayed, and a hit cannot differ from a fresh scan.
 */
export class SegmentCache {
  readonly #entries = new Map<string, readonly Finding[]>();
  readonly #maxChars: number;
  readonly #minChars: number;
  #chars = 0;
  #hits = 0;
  #misses = 0;

  constructor(maxChars: number, minChars: number) {
    this.#maxChars = maxChars;
    this.#minChars = minChars;
  }

  /** Whether a text of this length is worth keeping (short ones scan faster than they hash). */
  applies(text: string): boolean {
    return this.#maxChars > 0 && text.length >= this.#minChars && text.length <= this.#maxChars;
  }

  /** The key of a segment: made once per lookup, since hashing it reads the whole text. */
  static key(path: string, text: string): string {
    return `${path}\u0000${text}`;
  }

  /** Copies of the findings kept under `key`, or undefined. */
  get(key: string): Finding[] | undefined {
    const found = this.#entries.get(key);
    if (found === undefined) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    // Most recently used goes last.
    this.#entries.delete(key);
    this.#entries.set(key, found);
    return found.map((f) => ({ ...f }));
  }

  set(key: string, findings: readonly Finding[]): void {
    if (this.#entries.has(key)) return;
    this.#entries.set(key, findings.map((f) => Object.freeze({ ...f })));
    this.#chars += key.length;
    for (const [k] of this.#entries) {
      if (this.#chars <= this.#maxChars) break;
      this.#entries.delete(k);
      this.#chars -= k.length;
    }
  }

  stats(): { entries: number; chars: number; hits: number; misses: number } {
    return { entries: this.#entries.size, chars: this.#chars, hits: this.#hits, misses: this.#misses };
  }
}
