/**
 * An open-addressing hash index over lexicon words that is probed with character codes
 * read straight from the text, so a word is looked up without slicing it out first.
 * Slicing every word of a text and hashing it for a Map lookup (two allocations and a
 * native hash per word) was the largest single cost of the classifier on prose; a
 * word that no lexicon knows (most of them) now costs one multiply per character and
 * one probe. Hand-written because no library probes a hash table with a text range.
 */

/** ASCII code → lower-case code; other codes map to themselves (the ASCII tokenizer only probes ASCII). */
export const ASCII_LOWER = new Uint8Array(128);
for (let c = 0; c < 128; c++) ASCII_LOWER[c] = c >= 65 && c <= 90 ? c + 32 : c;

/**
 * Hash of a word from its length and five sampled characters (the first three and the
 * last two, lower-case): constant work per word, where folding in every character cost
 * ~3 ns per character of text (measured). Words that share the samples only share a
 * probe chain; findAscii compares the whole word.
 */
export function sampleHash(len: number, c0: number, c1: number, c2: number, y: number, z: number): number {
  let h = Math.imul(len ^ 0x811c9dc5, 0x01000193);
  h = Math.imul(h ^ c0, 0x01000193);
  h = Math.imul(h ^ c1, 0x01000193);
  h = Math.imul(h ^ c2, 0x01000193);
  h = Math.imul(h ^ y, 0x01000193);
  h = Math.imul(h ^ z, 0x01000193);
  return h ^ (h >>> 15);
}

export function hashWord(w: string): number {
  const n = w.length;
  const at = (i: number): number => w.charCodeAt(i < n ? i : n - 1);
  return sampleHash(n, at(0), at(1), at(2), w.charCodeAt(n - 2 < 0 ? 0 : n - 2), w.charCodeAt(n - 1));
}

/** hashWord of the ASCII word text[start, end) read lower-case, without slicing it. */
export function hashAscii(text: string, start: number, end: number): number {
  const n = end - start;
  const last = end - 1;
  return sampleHash(
    n,
    ASCII_LOWER[text.charCodeAt(start)]!,
    ASCII_LOWER[text.charCodeAt(n > 1 ? start + 1 : last)]!,
    ASCII_LOWER[text.charCodeAt(n > 2 ? start + 2 : last)]!,
    ASCII_LOWER[text.charCodeAt(n > 1 ? end - 2 : start)]!,
    ASCII_LOWER[text.charCodeAt(last)]!,
  );
}

export class WordIndex {
  /** Lower-case words; the token list reuses these strings, so a known word is never copied. */
  readonly words: string[] = [];
  readonly bits: Int32Array;
  private readonly hashes: Int32Array;
  /** Entry index + 1 per slot; 0 is empty. */
  private readonly slots: Int32Array;
  private readonly mask: number;

  constructor(entries: Iterable<[string, number]>) {
    const list = [...entries];
    this.bits = new Int32Array(list.length);
    this.hashes = new Int32Array(list.length);
    // Load factor ≤ 0.25: a miss (the common case) then almost always ends at an empty slot.
    let size = 16;
    while (size < list.length * 4) size *= 2;
    this.slots = new Int32Array(size);
    this.mask = size - 1;
    for (let e = 0; e < list.length; e++) {
      const [w, b] = list[e]!;
      const h = hashWord(w);
      this.words.push(w);
      this.bits[e] = b;
      this.hashes[e] = h;
      let s = h & this.mask;
      while (this.slots[s] !== 0) s = (s + 1) & this.mask;
      this.slots[s] = e + 1;
    }
  }

  /**
   * Entry of the ASCII word text[start, end) read lower-case, whose hash is `h`; -1 when
   * absent. The caller computes `h` with hashAscii.
   */
  findAscii(text: string, start: number, end: number, h: number): number {
    const len = end - start;
    const mask = this.mask;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const slot = this.slots[s]!;
      if (slot === 0) return -1;
      const e = slot - 1;
      if (this.hashes[e] !== h) continue;
      const w = this.words[e]!;
      if (w.length !== len) continue;
      let k = 0;
      while (k < len && ASCII_LOWER[text.charCodeAt(start + k)] === w.charCodeAt(k)) k++;
      if (k === len) return e;
    }
  }
}
