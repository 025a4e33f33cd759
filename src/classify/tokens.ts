import { B_PHRASE, type Lexicon, type Phrase } from './lexicons/index.js';
import type { ScanContext } from './scan-context.js';

/** A word of the text with its lexicon bits; computed once per text for all lexicon detectors. */
export interface Token {
  start: number;
  end: number;
  lower: string;
  /** First letter upper case. */
  cap: boolean;
  /** Every letter upper case (and more than one letter). */
  allCaps: boolean;
  bits: number;
}

const WORD = /[\p{L}\p{N}]+(?:['’-][\p{L}\p{N}]+)*/gu;
// eslint-disable-next-line no-control-regex
const NON_ASCII = /[^\x00-\x7f]/;
const UPPER = /^\p{Lu}/u;

export function tokens(ctx: ScanContext, lex: Lexicon): Token[] {
  return ctx.memo('tokens', () => {
    const out: Token[] = [];
    const text = ctx.text;
    if (!NON_ASCII.test(text)) {
      asciiTokens(text, ctx.lower, lex, out);
      return out;
    }
    const re = WORD;
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      const w = m[0];
      const c = w.charCodeAt(0);
      // ASCII fast path for the capital test; the regex only for other scripts.
      const cap = c < 128 ? c >= 65 && c <= 90 : UPPER.test(w);
      let lower = w.toLowerCase();
      if (lower.includes('’')) lower = lower.replace(/’/g, "'");
      const bits = lex.bits.get(lower) ?? 0;
      // Lower-case words outside every lexicon matter to no detector: skip the allocation.
      // (Gaps between kept tokens are checked on the text, so runs still break on them.)
      if (bits === 0 && !cap) continue;
      out.push({
        start: m.index,
        end: m.index + w.length,
        lower,
        cap,
        allCaps: cap && w.length > 1 && w !== lower && w === w.toUpperCase(),
        bits,
      });
    }
    return out;
  });
}

function alnum(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57);
}

/**
 * The same tokenisation for ASCII text without a regex: no match arrays and one
 * lower-casing of the whole text instead of one per word (the regex version spent a
 * quarter of all classifier time here, half of it in GC).
 */
function asciiTokens(text: string, lowerText: string, lex: Lexicon, out: Token[]): void {
  const n = text.length;
  let i = 0;
  while (i < n) {
    if (!alnum(text.charCodeAt(i))) {
      i++;
      continue;
    }
    const start = i;
    for (;;) {
      while (i < n && alnum(text.charCodeAt(i))) i++;
      const c = text.charCodeAt(i);
      if ((c === 39 || c === 45) && i + 1 < n && alnum(text.charCodeAt(i + 1))) i++;
      else break;
    }
    const lower = lowerText.slice(start, i);
    const bits = lex.bits.get(lower) ?? 0;
    const c0 = text.charCodeAt(start);
    const cap = c0 >= 65 && c0 <= 90;
    if (bits === 0 && !cap) continue;
    let allCaps = false;
    if (cap && i - start > 1) {
      allCaps = true;
      for (let k = start + 1; k < i; k++) {
        const c = text.charCodeAt(k);
        if (c >= 97 && c <= 122) {
          allCaps = false;
          break;
        }
      }
    }
    out.push({ start, end: i, lower, cap, allCaps, bits });
  }
}

/** The longest phrase starting at token i whose words follow with only spaces or hyphens between. */
export function phraseAt(ctx: ScanContext, lex: Lexicon, toks: Token[], i: number): Phrase | null {
  const t = toks[i]!;
  if (!(t.bits & B_PHRASE)) return null;
  const list = lex.phrases.get(t.lower);
  if (list === undefined) return null;
  for (const p of list) {
    let ok = p.words.length + i <= toks.length;
    for (let k = 1; ok && k < p.words.length; k++) {
      const a = toks[i + k - 1]!;
      const b = toks[i + k]!;
      if (b.lower !== p.words[k] || !/^[\s&-]{1,3}$/.test(ctx.text.slice(a.end, b.start))) ok = false;
    }
    if (ok) return p;
  }
  return null;
}

/**
 * True when one of `words` occurs within about n words (n × 6 characters) before token i
 * or after token j. Measured in characters because the token list skips words no
 * lexicon knows.
 */
export function tokensNear(toks: Token[], i: number, j: number, words: ReadonlySet<string>, n = 6): boolean {
  const reach = n * 6;
  const from = toks[i]!.start - reach;
  const to = toks[j]!.end + reach;
  for (let k = i - 1; k >= 0 && toks[k]!.end >= from; k--) if (words.has(toks[k]!.lower)) return true;
  for (let k = j + 1; k < toks.length && toks[k]!.start <= to; k++) if (words.has(toks[k]!.lower)) return true;
  return false;
}
