import { B_CAPS_ONLY, B_PHRASE, type Lexicon, type Phrase } from './lexicons/index.js';
import { hashAscii } from './lexicons/word-index.js';
import { ALNUM, type ScanContext } from './scan-context.js';

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
      asciiTokens(text, lex, out, ctx);
      return out;
    }
    const re = WORD;
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      let w = m[0];
      // Possessive "'s" / "’s" is not part of the word, as in the ASCII path.
      if (w.length > 3 && /['’][sS]$/.test(w)) w = w.slice(0, -2);
      const c = w.charCodeAt(0);
      // ASCII fast path for the capital test; the regex only for other scripts.
      const cap = c < 128 ? c >= 65 && c <= 90 : UPPER.test(w);
      let lower = w.toLowerCase();
      if (lower.includes('’')) lower = lower.replace(/’/g, "'");
      const bits = lex.bits.get(lower) ?? 0;
      // Lower-case words outside every lexicon, or only in lexicons that matter on a
      // capital (everyday words, names, places), matter to no detector: skip the
      // allocation. (Gaps between kept tokens are checked on the text, so runs still break
      // on them; context and phrase words carry B_CONTEXT/B_PHRASE.)
      if ((bits & ~B_CAPS_ONLY) === 0 && !cap) continue;
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


/**
 * The same tokenisation for ASCII text without a regex and without slicing: each word
 * is hashed from its char codes and probed in the lexicon's WordIndex; only kept words
 * become tokens, and a known word's `lower` is the lexicon's own string. Lower-case words
 * probe the small index of words that matter lower-case (most prose words are in none).
 * The slice + Map lookup this replaced was ~40% of all classifier time on prose (perf).
 */
function asciiTokens(text: string, lex: Lexicon, out: Token[], ctx: ScanContext): void {
  const n = text.length;
  const full = lex.index;
  const small = lex.lowerIndex;
  let i = 0;
  while (i < n) {
    let c = text.charCodeAt(i);
    if (ALNUM[c] !== 1) {
      i++;
      continue;
    }
    const start = i;
    for (;;) {
      if (++i >= n) break;
      c = text.charCodeAt(i);
      if (ALNUM[c] === 1) continue;
      // An inner apostrophe or hyphen ("O'Brien", "Jean-Luc") is part of the word.
      if ((c === 39 || c === 45) && i + 1 < n && ALNUM[text.charCodeAt(i + 1)] === 1) continue;
      break;
    }
    // A possessive "'s" is not part of the word ("Newton's" → Newton), for lookup and span.
    const end = i - start > 3 && text.charCodeAt(i - 2) === 39 && (text.charCodeAt(i - 1) | 32) === 115 ? i - 2 : i;
    const h = hashAscii(text, start, end);
    const c0 = text.charCodeAt(start);
    const cap = c0 >= 65 && c0 <= 90;
    // Everyday lower-case words ("the", "report") were half of all tokens in prose; with
    // the real-names dictionary "will", "can", "long" are name words too, and only matter capitalised.
    const index = cap ? full : small;
    const e = index.findAscii(text, start, end, h);
    if (e < 0 && !cap) continue;
    const bits = e < 0 ? 0 : index.bits[e]!;
    if ((bits & ~B_CAPS_ONLY) === 0 && !cap) continue;
    let allCaps = false;
    if (cap && end - start > 1) {
      allCaps = true;
      for (let k = start + 1; k < end; k++) {
        const ch = text.charCodeAt(k);
        if (ch >= 97 && ch <= 122) {
          allCaps = false;
          break;
        }
      }
    }
    const lower = e < 0 ? ctx.lower.slice(start, end) : index.words[e]!;
    out.push({ start, end, lower, cap, allCaps, bits });
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
