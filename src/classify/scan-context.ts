import type { Candidate } from './types.js';

/**
 * Prefilter flags, computed in one pass over the text. A detector declares the flags
 * it needs and is skipped when they are absent, so plain prose never reaches the
 * numeric, secret or address detectors at all.
 */
export const F_DIGIT = 1 << 0;
export const F_AT = 1 << 1;
export const F_COLON = 1 << 2;
export const F_UPPER = 1 << 3;
export const F_EQ = 1 << 4;
export const F_DOT = 1 << 5;
export const F_SLASH = 1 << 6;
export const F_UNDERSCORE = 1 << 7;
export const F_DASH = 1 << 8;
/**
 * A digit chain of seven or more digits (digit groups joined by at most four spaces,
 * dots, dashes, colons, slashes or parentheses): the least any numeric identifier
 * needs. Counting chains rather than all digits keeps prose with a year and a count
 * ("In 2023 … hired 120 engineers") away from the dozen digit-window detectors, which
 * cost ~20 µs per 2 KB chat request when they ran on every such segment.
 */
export const F_DIGITS7 = 1 << 9;
/** A letter directly next to a digit ("A12803456", "E11"): alphanumeric ids need it. */
export const F_ALNUM = 1 << 10;
/** A run of 20+ token characters ([A-Za-z0-9_+/=.-]): every API key, token and hash has one, prose rarely. */
export const F_LONGRUN = 1 << 11;
/** A letter (ASCII, or any character from U+00C0 up, conservatively). Absent: the text is numbers and punctuation only. */
export const F_LETTER = 1 << 12;
export const F_ALWAYS = 0;

/** Per-ASCII-code flag bits (F_AT, F_UPPER, …) that depend on the character alone. */
// Indexed by the whole UTF-16 code unit (128 KB), so the hot loop has no branch on ASCII.
const CHAR_FLAGS = new Uint16Array(65536);
for (let c = 65; c <= 90; c++) CHAR_FLAGS[c] = F_UPPER | F_LETTER;
for (let c = 97; c <= 122; c++) CHAR_FLAGS[c] = F_LETTER;
CHAR_FLAGS.fill(F_LETTER, 0xc0);
CHAR_FLAGS[64] = F_AT;
CHAR_FLAGS[58] = F_COLON;
CHAR_FLAGS[61] = F_EQ;
CHAR_FLAGS[46] = F_DOT;
CHAR_FLAGS[47] = F_SLASH;
CHAR_FLAGS[95] = F_UNDERSCORE;
CHAR_FLAGS[45] = F_DASH;

/**
 * The rest of the prefilter (token runs, digit chains, letter/digit boundaries) is a
 * table-driven automaton: one class lookup, one transition lookup and one OR per
 * character. The branchy loop it replaced cost ~4 ns per character, 11% of a 2 KB chat
 * request (measured with --cpu-prof); the tables are ~230 KB, built once.
 *
 * Character classes: 0 other (ends runs and chains), 1 letter, 2 digit, 3 chain
 * separator that is also a token character (. - / +), 4 chain separator only
 * (whitespace : ( )), 5 token character only (_ =).
 */
const N_CLASS = 6;
const CLASS = new Uint8Array(65536);
for (let c = 0; c < 128; c++) {
  if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) CLASS[c] = 1;
  else if (c >= 48 && c <= 57) CLASS[c] = 2;
}
for (const ch of '.-/+') CLASS[ch.charCodeAt(0)] = 3;
for (const ch of ' \t\r\n:()') CLASS[ch.charCodeAt(0)] = 4;
for (const ch of '_=') CLASS[ch.charCodeAt(0)] = 5;
/** A run of this many token characters ([A-Za-z0-9_+/=.-]) sets F_LONGRUN. */
const LONG_RUN = 20;
/** Chains are counted up to this many digits (the longest numeric id window is 19; more is "long"). */
const CHAIN_CAP = 16;
/** More separator characters than this in a row end a chain. */
const CHAIN_GAP = 4;
const N_RUN = LONG_RUN + 1;
const N_CHAIN = CHAIN_CAP + 1;
const N_GAP = CHAIN_GAP + 2;
const N_PREV = 3;
const N_STATE = N_RUN * N_CHAIN * N_GAP * N_PREV;
const NEXT = new Uint16Array(N_STATE * N_CLASS);
/** Low 16 bits: flags; bit 15 + k: a chain reached k digits. */
const EMIT = new Uint32Array(N_STATE * N_CLASS);
const stateOf = (run: number, chain: number, gap: number, prev: number): number => ((run * N_CHAIN + chain) * N_GAP + gap) * N_PREV + prev;
for (let run = 0; run < N_RUN; run++) {
  for (let chain = 0; chain < N_CHAIN; chain++) {
    for (let gap = 0; gap < N_GAP; gap++) {
      for (let prev = 0; prev < N_PREV; prev++) {
        const st = stateOf(run, chain, gap, prev);
        for (let cls = 0; cls < N_CLASS; cls++) {
          let emit = 0;
          const isRun = cls === 1 || cls === 2 || cls === 3 || cls === 5;
          const r = isRun ? Math.min(run + 1, LONG_RUN) : 0;
          if (r === LONG_RUN) emit |= F_LONGRUN;
          let ch = chain;
          let g = gap;
          if (cls === 2) {
            ch = Math.min(chain + 1, CHAIN_CAP);
            g = 0;
            emit |= F_DIGIT;
            emit |= 2 ** (15 + ch);
            if (ch >= 7) emit |= F_DIGITS7;
          } else if (cls === 3 || cls === 4) {
            g = Math.min(gap + 1, CHAIN_GAP + 1);
            if (g > CHAIN_GAP) ch = 0;
          } else {
            ch = 0;
            g = 0;
          }
          const p = cls === 1 ? 1 : cls === 2 ? 2 : 0;
          if (p !== 0 && prev !== 0 && p !== prev) emit |= F_ALNUM;
          NEXT[st * N_CLASS + cls] = stateOf(r, ch, g, p);
          EMIT[st * N_CLASS + cls] = emit >>> 0;
        }
      }
    }
  }
}

export function prefilter(text: string): { flags: number; digitChain: number } {
  let flags = 0;
  let chains = 0;
  let st = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    // Non-ASCII (after normalisation: letters of other scripts, symbols) is class 0 and ends every run.
    const idx = st * N_CLASS + CLASS[c]!;
    const e = EMIT[idx]!;
    flags |= e | CHAR_FLAGS[c]!;
    st = NEXT[idx]!;
    chains |= e >>> 16;
  }
  return { flags: flags & 0xffff, digitChain: chains === 0 ? 0 : 32 - Math.clz32(chains) };
}

const WORD = /[a-z\u00e0-\u024f]+/g;
const CAMEL = /([a-z])([A-Z])/g;

/**
 * Requests repeat the same few paths (`messages[3].content`), and splitting one cost
 * ~2% of a 2 KB chat request, so the words are cached per path string (bounded).
 */
const PATH_WORDS = new Map<string, string[]>();
/**
 * Keys that say where text sits, not what it is. `text` is also classify()'s default
 * path, and as a word it is phone context ("text me"): every bare number was read with
 * a phone context boost.
 */
const GENERIC_KEYS = new Set(['text', 'content', 'contents', 'value', 'values', 'input', 'inputs', 'arguments', 'args', 'query', 'prompt', 'messages', 'message', 'parts', 'part', 'data', 'body', 'system', 'tool', 'tools', 'function']);
const PATH_WORDS_MAX = 4096;
function pathWordsOf(path: string): string[] {
  let words = PATH_WORDS.get(path);
  if (words !== undefined) return words;
  const tail = path.split(/[.[\]]+/).filter((p) => p !== '' && !/^\d+$/.test(p)).slice(-2).join(' ');
  words = (tail.replace(CAMEL, '$1 $2').toLowerCase().match(WORD) ?? []).filter((w) => !GENERIC_KEYS.has(w));
  if (PATH_WORDS.size >= PATH_WORDS_MAX) PATH_WORDS.clear();
  PATH_WORDS.set(path, words);
  return words;
}

/**
 * Thrown by a detector that checked `ScanContext.deadline` and found it past: the
 * classifier then fails the request closed at once instead of after the work is done.
 */
export class DetectorBudgetError extends Error {
  constructor() {
    super('detector time budget exceeded');
    this.name = 'DetectorBudgetError';
  }
}

/** Per-text state shared by all detectors: the text, its prefilter flags and lazy derived views. */
export class ScanContext {
  readonly text: string;
  /**
   * performance.now() past which the running detector is over its budget. The classifier
   * sets it before each detector; detectors whose cost grows with the number of matches
   * (libphonenumber: ~3 ms per long digit run) check it in their loop, since a budget
   * measured only afterwards let 1 MB of digit runs hold a core for minutes.
   */
  deadline = Number.POSITIVE_INFINITY;
  readonly path: string;
  readonly flags: number;
  /** Digits in the longest digit chain (see F_DIGITS7): a numeric id of n digits needs n. */
  readonly digitChain: number;
  readonly contextBoost: number;
  private lowerText: string | undefined;
  private digitCount: number | undefined;
  private digitAt: Int32Array | undefined;
  private digitRunAt: Int32Array | undefined;
  private pathWordList: string[] | undefined;
  private readonly memos = new Map<string, unknown>();

  constructor(text: string, path: string, contextBoost: number) {
    this.text = text;
    this.path = path;
    const pf = prefilter(text);
    this.flags = pf.flags;
    this.digitChain = pf.digitChain;
    this.contextBoost = contextBoost;
  }

  /** Computes a derived view once per text, shared by every detector that asks for it. */
  memo<T>(key: string, build: () => T): T {
    if (this.memos.has(key)) return this.memos.get(key) as T;
    const v = build();
    this.memos.set(key, v);
    return v;
  }

  /** Digits in the whole text (counted on demand; the prefilter only tracks chains). */
  get digits(): number {
    if (this.digitCount === undefined) {
      let n = 0;
      for (let i = 0; i < this.text.length; i++) {
        const c = this.text.charCodeAt(i);
        if (c >= 48 && c <= 57) n++;
      }
      this.digitCount = n;
    }
    return this.digitCount;
  }

  /**
   * Offsets of the ASCII digits, ascending. Found with indexOf per digit, which V8 runs
   * as a native memchr (~0.2 ns per character measured, against ~4 ns for a JS loop), so
   * detectors anchored on a digit try their regex only there instead of scanning the text.
   */
  get digitPositions(): Int32Array {
    if (this.digitAt === undefined) this.digitAt = (this.flags & F_DIGIT) === 0 ? new Int32Array(0) : positionsOf(this.text, '0123456789');
    return this.digitAt;
  }

  /** Offsets where a run of ASCII digits begins (the digit before is not one), ascending. */
  get digitRunStarts(): Int32Array {
    if (this.digitRunAt === undefined) {
      const at = this.digitPositions;
      let n = 0;
      for (let k = 0; k < at.length; k++) if (k === 0 || at[k - 1] !== at[k]! - 1) n++;
      const out = new Int32Array(n);
      n = 0;
      for (let k = 0; k < at.length; k++) if (k === 0 || at[k - 1] !== at[k]! - 1) out[n++] = at[k]!;
      this.digitRunAt = out;
    }
    return this.digitRunAt;
  }

  /**
   * Candidate match starts `d - k` for every digit-run start d and every k in `offsets`,
   * ascending: for a pattern whose first digit sits exactly k characters after its start
   * (after k letters, a letter and a dash…), that digit begins a run (the character
   * before it is not a digit), so these offsets hold every start such a match can have.
   */
  startsBeforeDigitRuns(offsets: readonly number[]): Int32Array {
    const runs = this.digitRunStarts;
    const out = new Int32Array(runs.length * offsets.length);
    let n = 0;
    for (let k = 0; k < runs.length; k++) for (const off of offsets) out[n++] = runs[k]! - off;
    if (offsets.length > 1) out.sort();
    return out;
  }

  get lower(): string {
    if (this.lowerText === undefined) this.lowerText = this.text.toLowerCase();
    return this.lowerText;
  }

  /**
   * Words of the field path's last keys (`…arguments.patient_ssn` → patient, ssn): in
   * structured tool arguments the key is the only context a value has.
   */
  get pathWords(): string[] {
    if (this.pathWordList === undefined) this.pathWordList = pathWordsOf(this.path);
    return this.pathWordList;
  }

  /** True when any of `words` occurs as a whole word near [start, end) or in the path's last keys. */
  near(start: number, end: number, words: ReadonlySet<string>, before = 48, after = 24): boolean {
    if (words.size === 0) return false;
    const lower = this.lower;
    const window = lower.slice(Math.max(0, start - before), start) + ' ' + lower.slice(end, end + after);
    WORD.lastIndex = 0;
    for (let m = WORD.exec(window); m !== null; m = WORD.exec(window)) if (words.has(m[0])) return true;
    for (const w of this.pathWords) if (words.has(w)) return true;
    return false;
  }

  /**
   * True when the candidate is the whole text apart from quotes, brackets and spaces:
   * a bare value in a form field or a JSON tool argument, where prose context is
   * absent by construction. Failing closed, such a value is treated as if labelled.
   * The same holds for every value of a text without any letter.
   */
  standalone(start: number, end: number): boolean {
    // A field of numbers and punctuation only (a column of ids, a list of account
    // numbers) has no prose context by construction either: every value in it is bare.
    if ((this.flags & F_LETTER) === 0) return true;
    return /^[\s"'`([{<]*$/.test(this.text.slice(0, start)) && /^[\s"'`)\]}>.,;:!?]*$/.test(this.text.slice(end));
  }

  /** Base score plus the context boost when context words are near, clamped to 1. */
  score(base: number, start: number, end: number, words: ReadonlySet<string>): number {
    let s = base;
    if (this.near(start, end, words)) s += this.contextBoost;
    return s > 1 ? 1 : s;
  }
}

/** Offsets in `text` of every occurrence of any of the (single) characters `chars`, ascending. */
export function positionsOf(text: string, chars: string): Int32Array {
  const at: number[] = [];
  for (let k = 0; k < chars.length; k++) {
    const ch = chars[k]!;
    for (let p = text.indexOf(ch); p >= 0; p = text.indexOf(ch, p + 1)) at.push(p);
  }
  const out = Int32Array.from(at);
  if (chars.length > 1) out.sort();
  return out;
}

/** JavaScript's `\s` (WhiteSpace and LineTerminator), for scans that must agree with regexes using it. */
export function isJsSpace(c: number): boolean {
  if (c <= 32) return c === 32 || (c >= 9 && c <= 13);
  if (c < 0xa0) return false;
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/**
 * The matches a global regex would find in `text`, tried only at `starts` (ascending):
 * `sticky` must be the same pattern with the 'y' flag, and `starts` must hold every
 * offset where a match can begin. Then the result equals the global scan's (the
 * leftmost match from each resume point), at the cost of a few anchored attempts.
 */
export function execAt(sticky: RegExp, text: string, starts: ArrayLike<number>, onMatch: (m: RegExpExecArray) => number | void): void {
  let last = 0;
  let prev = -1;
  for (let k = 0; k < starts.length; k++) {
    const s = starts[k]!;
    if (s < last || s === prev || s < 0) continue;
    prev = s;
    sticky.lastIndex = s;
    const m = sticky.exec(text);
    if (m === null) continue;
    const resume = onMatch(m);
    last = typeof resume === 'number' ? resume : m.index + Math.max(1, m[0].length);
  }
}

/** The same pattern with the sticky flag instead of the global one, for execAt. */
export function stickyOf(re: RegExp): RegExp {
  return new RegExp(re.source, re.flags.replace('g', '') + 'y');
}

/**
 * Candidate starts `p - k` for every occurrence p of `needle` and every k in `offsets`,
 * ascending: for a pattern whose every match has `needle` exactly k characters after its
 * start, for one of the k, these hold every start a match can have.
 */
export function startsBefore(text: string, needle: string, offsets: readonly number[]): Int32Array {
  const at: number[] = [];
  for (let p = text.indexOf(needle); p >= 0; p = text.indexOf(needle, p + 1)) for (const off of offsets) if (p >= off) at.push(p - off);
  const out = Int32Array.from(at);
  if (offsets.length > 1) out.sort();
  return out;
}

/**
 * A character class as a lookup table over every UTF-16 code unit, from a spec such as
 * '0-9A-Za-z._-' (ranges "x-y"; a '-' first or last is itself). Scanners index it with
 * charCodeAt: a table read cost ~2.5x less per character than a branchy range test
 * (measured), and the full 64 K size means no bounds check for non-ASCII text.
 */
export function charClass(spec: string): Uint8Array {
  const table = new Uint8Array(65536);
  for (let i = 0; i < spec.length; i++) {
    const from = spec.charCodeAt(i);
    if (spec[i + 1] === '-' && i + 2 < spec.length) {
      const to = spec.charCodeAt(i + 2);
      for (let c = from; c <= to; c++) table[c] = 1;
      i += 2;
    } else {
      table[from] = 1;
    }
  }
  return table;
}

/** ASCII letters and digits. */
export const ALNUM = charClass('0-9A-Za-z');

/**
 * Starts of the runs of `member` characters that end just before each occurrence of
 * `anchor`, ascending, for runs of 1 to `maxRun` characters: where a pattern can start
 * whose match opens with such a run up to the anchor and whose lookbehind forbids a member
 * character before it.
 */
export function runStartsBefore(text: string, anchor: string, member: Uint8Array, maxRun: number): number[] {
  const at: number[] = [];
  for (let p = text.indexOf(anchor); p >= 0; p = text.indexOf(anchor, p + 1)) {
    let s = p;
    while (s > 0 && p - s <= maxRun && member[text.charCodeAt(s - 1)] === 1) s--;
    if (s < p && p - s <= maxRun) at.push(s);
  }
  return at;
}

/**
 * Starts of the maximal runs of ASCII letters and digits that are exactly `len` long,
 * ascending. Every such run covers exactly one offset ≡ len - 1 (mod len), so only those
 * offsets are probed and a run is measured only where a probe lands in one: about 1/len
 * of the characters are read on prose instead of all of them.
 */
export function alnumRunsOfLength(text: string, len: number): Int32Array {
  const at: number[] = [];
  const n = text.length;
  let p = len - 1;
  while (p < n) {
    if (ALNUM[text.charCodeAt(p)] !== 1) {
      p += len;
      continue;
    }
    let s = p;
    while (s > 0 && ALNUM[text.charCodeAt(s - 1)] === 1) s--;
    let e = p + 1;
    while (e < n && ALNUM[text.charCodeAt(e)] === 1) e++;
    if (e - s === len) at.push(s);
    // The next run starts after e + 1 at the earliest; the next probe is its first possible end.
    p = Math.max(p + len, e + len);
  }
  return Int32Array.from(at);
}

/**
 * A detector must be a pure function of the context's text and path: the classifier keeps
 * the findings of a scanned segment and answers the same field and text from that cache.
 */
export interface Detector {
  /** Stable id: `<family>.<name>`, used in findings, reasons and `disabled`. */
  readonly id: string;
  readonly entities: readonly string[];
  /** Prefilter flags that must all be present for the detector to run. */
  readonly needs: number;
  detect(ctx: ScanContext, out: Candidate[]): void;
}

export function wordSet(words: string): ReadonlySet<string> {
  return new Set(words.split(/\s+/).filter((w) => w !== ''));
}
