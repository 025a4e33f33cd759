/**
 * Normalisation before detection, with a map back to the original offsets.
 *
 * - Unicode NFKC per code point (full-width digits and letters, ligatures, odd spaces).
 * - Zero-width and other invisible format characters (Unicode Cf, variation selectors,
 *   Hangul fillers, soft hyphen) are removed, so `4111\u200b1111…` reads as one run.
 * - Typographic dashes and minus signs become `-`, so digit runs split by them still
 *   match the `[ .-]` separators the detectors accept.
 * Case is left alone: detectors that care lower-case themselves, and PERSON needs the
 * capitals. Digit runs split by separators are handled by the detectors' run scanner.
 */

export interface Normalized {
  readonly text: string;
  /** starts[i] = original index of the code unit that produced normalised unit i; null when identical. */
  readonly starts: Int32Array | null;
  /** ends[i] = original index just past that source code unit (or pair). */
  readonly ends: Int32Array | null;
}

// eslint-disable-next-line no-control-regex
const NON_ASCII = /[^\x00-\x7f]/;
const INVISIBLE = /^[\p{Cf}\u034f\u115f\u1160\u3164\uffa0\u180b-\u180f\ufe00-\ufe0f\u{e0100}-\u{e01ef}]$/u;
const DASHES = /^[\u2010-\u2015\u2212\ufe58\ufe63\uff0d]$/;

export function normalize(original: string): Normalized {
  // Almost all traffic is ASCII: no copy, no map.
  if (!NON_ASCII.test(original)) return { text: original, starts: null, ends: null };
  let out = '';
  const starts: number[] = [];
  const ends: number[] = [];
  let i = 0;
  const n = original.length;
  while (i < n) {
    const code = original.charCodeAt(i);
    if (code < 0x80) {
      out += original[i];
      starts.push(i);
      ends.push(i + 1);
      i += 1;
      continue;
    }
    const cp = original.codePointAt(i) ?? code;
    const width = cp > 0xffff ? 2 : 1;
    const ch = original.slice(i, i + width);
    let repl: string;
    if (INVISIBLE.test(ch)) repl = '';
    else if (DASHES.test(ch)) repl = '-';
    else repl = ch.normalize('NFKC');
    for (let k = 0; k < repl.length; k++) {
      starts.push(i);
      ends.push(i + width);
    }
    out += repl;
    i += width;
  }
  return { text: out, starts: Int32Array.from(starts), ends: Int32Array.from(ends) };
}

/** Maps a half-open span of normalised text back to the original text. */
export function toOriginalSpan(norm: Normalized, start: number, end: number): [number, number] {
  if (norm.starts === null || norm.ends === null) return [start, end];
  const s = norm.starts[start];
  const e = end > start ? norm.ends[end - 1] : s;
  return [s ?? 0, e ?? s ?? 0];
}
