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
/** Seven or more digits in the whole text: the least any numeric identifier needs. */
export const F_DIGITS7 = 1 << 9;
/** A letter directly next to a digit ("A12803456", "E11"): alphanumeric ids need it. */
export const F_ALNUM = 1 << 10;
/** A run of 20+ token characters ([A-Za-z0-9_+/=.-]): every API key, token and hash has one, prose rarely. */
export const F_LONGRUN = 1 << 11;
export const F_ALWAYS = 0;

/** Per-ASCII-code flag bits and class (1 letter, 2 digit), so the prefilter loop is a table lookup. */
const CHAR_FLAGS = new Uint16Array(128);
const CHAR_CLASS = new Uint8Array(128);
const RUN_CHAR = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  if (c >= 48 && c <= 57) CHAR_CLASS[c] = 2;
  if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) CHAR_CLASS[c] = 1;
  if (c >= 65 && c <= 90) CHAR_FLAGS[c] = F_UPPER;
  if (CHAR_CLASS[c] !== 0 || c === 95 || c === 43 || c === 47 || c === 61 || c === 46 || c === 45) RUN_CHAR[c] = 1;
}
CHAR_FLAGS[64] = F_AT;
CHAR_FLAGS[58] = F_COLON;
CHAR_FLAGS[61] = F_EQ;
CHAR_FLAGS[46] = F_DOT;
CHAR_FLAGS[47] = F_SLASH;
CHAR_FLAGS[95] = F_UNDERSCORE;
CHAR_FLAGS[45] = F_DASH;

export function prefilter(text: string): { flags: number; digits: number } {
  let flags = 0;
  let digits = 0;
  // Class of the previous character: a letter/digit boundary sets F_ALNUM.
  let prev = 0;
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128) {
      prev = 0;
      run = 0;
      continue;
    }
    const cls = CHAR_CLASS[c]!;
    if (cls === 2) digits++;
    if (cls !== 0 && prev !== 0 && cls !== prev) flags |= F_ALNUM;
    prev = cls;
    flags |= CHAR_FLAGS[c]!;
    if (RUN_CHAR[c] === 1) {
      if (++run === 20) flags |= F_LONGRUN;
    } else run = 0;
  }
  if (digits > 0) flags |= F_DIGIT;
  if (digits >= 7) flags |= F_DIGITS7;
  return { flags, digits };
}

const WORD = /[a-z\u00e0-\u024f]+/g;
const CAMEL = /([a-z])([A-Z])/g;

/** Per-text state shared by all detectors: the text, its prefilter flags and lazy derived views. */
export class ScanContext {
  readonly text: string;
  readonly path: string;
  readonly flags: number;
  readonly digits: number;
  readonly contextBoost: number;
  private lowerText: string | undefined;
  private pathWordList: string[] | undefined;
  private readonly memos = new Map<string, unknown>();

  constructor(text: string, path: string, contextBoost: number) {
    this.text = text;
    this.path = path;
    const pf = prefilter(text);
    this.flags = pf.flags;
    this.digits = pf.digits;
    this.contextBoost = contextBoost;
  }

  /** Computes a derived view once per text, shared by every detector that asks for it. */
  memo<T>(key: string, build: () => T): T {
    if (this.memos.has(key)) return this.memos.get(key) as T;
    const v = build();
    this.memos.set(key, v);
    return v;
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
    if (this.pathWordList === undefined) {
      const tail = this.path.split(/[.[\]]+/).filter((p) => p !== '' && !/^\d+$/.test(p)).slice(-2).join(' ');
      this.pathWordList = tail.replace(CAMEL, '$1 $2').toLowerCase().match(WORD) ?? [];
    }
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
   */
  standalone(start: number, end: number): boolean {
    return /^[\s"'`([{<]*$/.test(this.text.slice(0, start)) && /^[\s"'`)\]}>.,;:!?]*$/.test(this.text.slice(end));
  }

  /** Base score plus the context boost when context words are near, clamped to 1. */
  score(base: number, start: number, end: number, words: ReadonlySet<string>): number {
    let s = base;
    if (this.near(start, end, words)) s += this.contextBoost;
    return s > 1 ? 1 : s;
  }
}

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
