/**
 * Normalisation for the injection guard. Unlike the classifier's normaliser it needs no
 * offset map (the guard never reports spans), so it can be lossy: the goal is that
 * `ＩＧＮＯＲＥ`, `i\u200bgnore`, `IgNoRe` and `1gn0re` all read as `ignore`.
 */

// eslint-disable-next-line no-control-regex
/** Invisible format characters (Unicode Cf: zero-width space/joiners, bidi marks, tags), variation selectors, soft hyphen. */
const INVISIBLE = /[\p{Cf}\u034f\u115f\u1160\u3164\uffa0\u180b-\u180f\ufe00-\ufe0f]/gu;
/** Typographic quotes and dashes, so rules can say `"` and `-` once. */
const QUOTES = /[\u2018\u2019\u201a\u201b\u2032\u00b4\u0060]/g;
const DQUOTES = /[\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb]/g;
const DASHES = /[\u2010-\u2015\u2212]/g;
/**
 * Light de-leet: a digit or symbol inside a word, or leading two letters, reads as the
 * letter it imitates. Standalone numbers ("in 2023", "3 eggs") and trailing digits
 * ("base64", "gpt4") are left alone so they keep their meaning.
 */
const LEET = /(?<=[a-z])[013457@$]+(?=[a-z])|(?<![a-z0-9])[013457@$]+(?=[a-z]{2})/g;
const LEET_MAP: Readonly<Record<string, string>> = { '0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '@': 'a', $: 's' };
/** Runs of whitespace, or whitespace other than a plain space; a run with a newline becomes one newline so line-start rules still work. */
const SPACES = /[^\S ]+|\s{2,}/g;
/** NFKC changes nothing in ASCII and Latin-1/Latin Extended-A letters; skipping it there keeps German prose on the fast path. */
const NEEDS_NFKC = /[^\x00-\x7f\u00c0-\u017f]/;
/**
 * Letter-spaced words ("i g n o r e", "i.g.n.o.r.e"): six or more single letters
 * separated by one space, dot, dash or underscore are joined back into a word.
 */
const SPACED = /(?<![a-z])(?:[a-z][ ._-]){5,}[a-z](?![a-z])/g;

/** Invisible characters other than U+200D ZERO WIDTH JOINER, which emoji sequences use legitimately. */
function countNonJoiners(t: string): number {
  let n = 0;
  for (const m of t.matchAll(INVISIBLE)) if (m[0] !== '\u200d') n++;
  return n;
}

export interface NormalizedText {
  /** Lower-cased, NFKC, invisible characters removed, whitespace collapsed, de-leeted. */
  readonly text: string;
  /** Which obfuscations were undone; each becomes a signal because benign text rarely needs them. */
  readonly invisible: boolean;
  readonly spacedLetters: boolean;
  /** A 48+ character run of base64 alphabet with a digit in it: how payloads slip past keyword filters. */
  readonly blob: boolean;
}

const NEEDS_SPACES = 1;
const MAYBE_LEET = 2;
const MAYBE_SPACED = 4;
const BLOB = 8;
const BLOB_MIN = 48;

const isLower = (c: number): boolean => c >= 97 && c <= 122;
/** Exactly the characters of the regex class \s (ECMAScript WhiteSpace and LineTerminator). */
const isSpace = (c: number): boolean =>
  c === 32 || (c >= 9 && c <= 13) || (c >= 0xa0 && (c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff));
const isLeet = (c: number): boolean => c === 48 || c === 49 || c === 51 || c === 52 || c === 53 || c === 55 || c === 64 || c === 36;

/**
 * One pass over lower-cased text deciding which of the rewriting regexes can match at
 * all. Each of them costs 5–10 µs per 2 KB even when nothing matches; this loop ~2 µs,
 * and on ordinary prose all of them are skipped. Over-approximates: a set flag only
 * means "run the regex".
 */
function prescan(t: string): number {
  let f = 0;
  /** Whether SPACES would change anything: only a lone space or a lone newline between non-spaces is left as it is. */
  let spacesChange = false;
  let prev = 0;
  let run = 0;
  let digits = 0;
  let singles = 0;
  let lastSingle = -10;
  const n = t.length;
  for (let i = 0; i < n; i++) {
    const c = t.charCodeAt(i);
    if (c === 32) {
      if (prev === 32) f |= NEEDS_SPACES;
    } else if (c < 32) {
      f |= NEEDS_SPACES;
    }
    if (!spacesChange && isSpace(c) && ((c !== 32 && c !== 10) || isSpace(prev))) spacesChange = true;
    if (isLeet(c) && (isLower(prev) || isLower(i + 1 < n ? t.charCodeAt(i + 1) : 0))) f |= MAYBE_LEET;
    const digit = c >= 48 && c <= 57;
    if (isLower(c) || digit || c === 43 || c === 47) {
      run++;
      if (digit) digits++;
      if (run >= BLOB_MIN && digits > 0) f |= BLOB;
    } else {
      run = 0;
      digits = 0;
    }
    // Single-letter tokens two characters apart ("i g n o r e"): six in a row.
    if (isLower(c) && !isLower(prev) && !isLower(i + 1 < n ? t.charCodeAt(i + 1) : 0)) {
      singles = i - lastSingle === 2 ? singles + 1 : 1;
      lastSingle = i;
      if (singles >= 6) f |= MAYBE_SPACED;
    }
    prev = c;
  }
  // SPACES replaces a lone "\n" by "\n" and leaves a lone " " alone: skip it when that is all there is.
  return spacesChange ? f : f & ~NEEDS_SPACES;
}

export function normalizeForInjection(input: string): NormalizedText {
  let t = input;
  let invisible = false;
  if (NEEDS_NFKC.test(t)) {
    const stripped = t.replace(INVISIBLE, '');
    // A single BOM, or the joiners inside emoji sequences, are common; several inside words are not.
    invisible = t.length - stripped.length >= 2 && countNonJoiners(t) >= 2;
    t = stripped.normalize('NFKC').replace(QUOTES, "'").replace(DQUOTES, '"').replace(DASHES, '-');
  }
  t = t.toLowerCase();
  const f = prescan(t);
  if (f & NEEDS_SPACES) t = t.replace(SPACES, (m) => (m.includes('\n') ? '\n' : ' '));
  if (f & MAYBE_LEET) t = t.replace(LEET, (m) => {
    let out = '';
    for (const ch of m) out += LEET_MAP[ch] ?? ch;
    return out;
  });
  let spacedLetters = false;
  if (f & MAYBE_SPACED) {
    t = t.replace(SPACED, (m) => {
      spacedLetters = true;
      return m.replace(/[ ._-]/g, '');
    });
  }
  return { text: t, invisible, spacedLetters, blob: (f & BLOB) !== 0 };
}
