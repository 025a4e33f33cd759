import { performance } from 'node:perf_hooks';
import { DetectorBudgetError, type ScanContext } from './scan-context.js';
import type { Candidate } from './types.js';

/**
 * Digit chains: runs of digit groups joined by short separators (space, dot, dash,
 * colon). Numeric identifiers are found as windows of whole groups inside a chain, so
 * `4111 1111 1111 1111`, `4111-1111-1111-1111`, `4 1 1 1 …` and `4111111111111111` are
 * all the same candidate, while a window never starts or ends inside a group.
 */

export interface Group {
  start: number;
  end: number;
  digits: string;
}
export interface Chain {
  groups: Group[];
  /** seps[i] is the text between groups[i] and groups[i + 1]. */
  seps: string[];
  /** windows[i][k - i]: the window of groups i..k, filled in as detectors ask for it. */
  windows?: (Window | undefined)[][];
  /** Shared by every chain of one text: how many more windows may be kept. */
  budget: { left: number };
}

/**
 * Kept windows per text. A prompt's chains need a few dozen; a megabyte of `1 1 1 …`
 * would keep millions (gigabytes, found by the HTTP fuzz test), so past this many each
 * window is built for its caller and left to the collector, as before the memo.
 */
const WINDOW_BUDGET = 4096;
/** Chains longer than this (no identifier needs more than a few groups) are not memoised at all. */
const MEMO_MAX_GROUPS = 64;

const SEP = /^(?:[ .\-]{1,3}|:)$/;
const LETTER = /[\p{L}_]/u;

export function digitChains(ctx: ScanContext): Chain[] {
  return ctx.memo('digitChains', () => buildChains(ctx.text, ctx.digitRunStarts));
}

/**
 * Groups are the maximal ASCII digit runs (what /\d+/g finds), read from the shared
 * digit-run starts (indexOf) rather than by a regex scan of the whole text.
 */
function buildChains(text: string, runStarts: Int32Array): Chain[] {
  const chains: Chain[] = [];
  const budget = { left: WINDOW_BUDGET };
  let cur: Chain | null = null;
  let prevEnd = -1;
  for (let k = 0; k < runStarts.length; k++) {
    const start = runStarts[k]!;
    let end = start + 1;
    for (let c = text.charCodeAt(end); c >= 48 && c <= 57; c = text.charCodeAt(++end));
    // A group glued to a letter (hex, codes like ID12345) is never part of a numeric id.
    const glued = (start > 0 && LETTER.test(text[start - 1]!)) || (end < text.length && LETTER.test(text[end]!));
    if (glued) {
      cur = null;
      prevEnd = -1;
      continue;
    }
    const digits = text.slice(start, end);
    const sep = prevEnd >= 0 ? text.slice(prevEnd, start) : '';
    if (cur !== null && SEP.test(sep)) {
      cur.groups.push({ start, end, digits });
      cur.seps.push(sep);
    } else {
      cur = { groups: [{ start, end, digits }], seps: [], budget };
      chains.push(cur);
    }
    prevEnd = end;
  }
  return chains;
}

export interface Window {
  digits: string;
  start: number;
  end: number;
  /** Group sizes, e.g. [3, 2, 4]. */
  shape: number[];
  /** The separator used inside the window ('' when contiguous); null when mixed. */
  sep: string | null;
}

export interface WindowOptions {
  min: number;
  max: number;
  /** Accept windows whose separators differ (cards: `4111 1111-1111 1111`). */
  mixed?: boolean;
  /**
   * Also accept windows that could be extended with the same separator (cards, where
   * leftmost-longest already decides). Otherwise a window must not be carved out of a
   * longer uniformly separated number: 12 of a card's 16 digits are not an Aadhaar.
   */
  partial?: boolean;
}

/**
 * Leftmost-longest windows of each chain whose digit count is within [min, max];
 * `accept` validates one and returns a candidate or null. After an accepted window
 * the scan continues past it, so two adjacent numbers are both found.
 */
export function scanWindows(ctx: ScanContext, opts: WindowOptions, accept: (w: Window) => Candidate | null, out: Candidate[]): void {
  // No chain is long enough (the prefilter's chain is a superset of the chains below).
  if (ctx.digitChain < opts.min) return;
  let steps = 0;
  for (const chain of digitChains(ctx)) {
    const gs = chain.groups;
    let i = 0;
    while (i < gs.length) {
      // A megabyte of short digit groups is hundreds of thousands of windows per detector.
      if ((++steps & 1023) === 0 && performance.now() > ctx.deadline) throw new DetectorBudgetError();
      let took = -1;
      let count = 0;
      let j = i;
      while (j < gs.length && count + gs[j]!.digits.length <= opts.max) count += gs[j++]!.digits.length;
      for (let k = j - 1; k >= i; k--) {
        const w = windowOf(chain, i, k);
        if (w.digits.length < opts.min) break;
        const sep = w.sep;
        if (sep === null && !opts.mixed) continue;
        // Dotted numbers with a single dot are decimals, not identifiers.
        if (sep === '.' && k - i < 2) continue;
        if (!opts.partial && sep !== null && extendable(chain, i, k, sep)) continue;
        const c = accept(w);
        if (c !== null) {
          out.push(c);
          took = k;
          break;
        }
      }
      i = took >= 0 ? took + 1 : i + 1;
    }
  }
}

/**
 * The window of groups i..k, made once per text: every numeric detector walks the same
 * chains, and building each window's digits and shape again per detector was the
 * classifier's largest source of garbage (about 29 KB per 2 KB prompt). Windows are
 * only read by the detectors.
 */
function windowOf(chain: Chain, i: number, k: number): Window {
  if (chain.groups.length > MEMO_MAX_GROUPS) return buildWindow(chain, i, k);
  const row = ((chain.windows ??= [])[i] ??= []);
  let w = row[k - i];
  if (w === undefined) {
    w = buildWindow(chain, i, k);
    if (chain.budget.left > 0) {
      chain.budget.left--;
      row[k - i] = w;
    }
  }
  return w;
}

function buildWindow(chain: Chain, i: number, k: number): Window {
  const gs = chain.groups;
  let digits = '';
  const shape: number[] = [];
  for (let g = i; g <= k; g++) {
    digits += gs[g]!.digits;
    shape.push(gs[g]!.digits.length);
  }
  let sep: string | null = k > i ? chain.seps[i]!.trim() || ' ' : '';
  for (let g = i + 1; g < k && sep !== null; g++) if ((chain.seps[g]!.trim() || ' ') !== sep) sep = null;
  return { digits, start: gs[i]!.start, end: gs[k]!.end, shape, sep };
}

/** Whether the window i..k could be extended with its own separator into a longer uniformly separated number. */
function extendable(chain: Chain, i: number, k: number, sep: string): boolean {
  const gs = chain.groups;
  return (i > 0 && sameSep(chain.seps[i - 1], sep) && !apart(gs[i - 1]!, gs[i]!)) || (k + 1 < gs.length && sameSep(chain.seps[k], sep) && !apart(gs[k]!, gs[k + 1]!));
}

function sameSep(s: string | undefined, sep: string): boolean {
  return s !== undefined && (sep === '' ? s.trim() === '' && s.length <= 1 : (s.trim() || ' ') === sep);
}

/**
 * Formatted ids group digits in ones to sixes (Amex's 4-6-5 is the longest), so a group
 * of seven or more, or two sixes side by side, is a number of its own.
 */
function apart(a: Group, b: Group): boolean {
  return a.digits.length >= 7 || b.digits.length >= 7 || (a.digits.length >= 6 && b.digits.length >= 6);
}

export function shapeIs(w: Window, ...shapes: string[]): boolean {
  const s = w.shape.join('-');
  return shapes.includes(s);
}
