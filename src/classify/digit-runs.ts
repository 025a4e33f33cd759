import type { ScanContext } from './scan-context.js';
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
}

const GROUP = /\d+/g;
const SEP = /^(?:[ .\-]{1,3}|:)$/;
const LETTER = /[\p{L}_]/u;

export function digitChains(ctx: ScanContext): Chain[] {
  return ctx.memo('digitChains', () => buildChains(ctx.text));
}

function buildChains(text: string): Chain[] {
  const chains: Chain[] = [];
  let cur: Chain | null = null;
  let prevEnd = -1;
  GROUP.lastIndex = 0;
  for (let m = GROUP.exec(text); m !== null; m = GROUP.exec(text)) {
    const start = m.index;
    const end = start + m[0].length;
    // A group glued to a letter (hex, codes like ID12345) is never part of a numeric id.
    const glued = (start > 0 && LETTER.test(text[start - 1]!)) || (end < text.length && LETTER.test(text[end]!));
    if (glued) {
      cur = null;
      prevEnd = -1;
      continue;
    }
    const sep = prevEnd >= 0 ? text.slice(prevEnd, start) : '';
    if (cur !== null && SEP.test(sep)) {
      cur.groups.push({ start, end, digits: m[0] });
      cur.seps.push(sep);
    } else {
      cur = { groups: [{ start, end, digits: m[0] }], seps: [] };
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
  for (const chain of digitChains(ctx)) {
    const gs = chain.groups;
    let i = 0;
    while (i < gs.length) {
      let took = -1;
      let count = 0;
      let j = i;
      while (j < gs.length && count + gs[j]!.digits.length <= opts.max) count += gs[j++]!.digits.length;
      for (let k = j - 1; k >= i; k--) {
        let digits = '';
        const shape: number[] = [];
        for (let g = i; g <= k; g++) {
          digits += gs[g]!.digits;
          shape.push(gs[g]!.digits.length);
        }
        if (digits.length < opts.min) break;
        let sep: string | null = k > i ? chain.seps[i]!.trim() || ' ' : '';
        for (let g = i + 1; g < k && sep !== null; g++) if ((chain.seps[g]!.trim() || ' ') !== sep) sep = null;
        if (sep === null && !opts.mixed) continue;
        // Dotted numbers with a single dot are decimals, not identifiers.
        if (sep === '.' && k - i < 2) continue;
        if (!opts.partial && sep !== null) {
          const same = (s: string | undefined): boolean => s !== undefined && (sep === '' ? s.trim() === '' && s.length <= 1 : (s.trim() || ' ') === sep);
          // Formatted ids group digits in ones to sixes (Amex's 4-6-5 is the longest), so a
          // group of seven or more, or two sixes side by side, is a number of its own.
          const apart = (a: Group, b: Group): boolean =>
            a.digits.length >= 7 || b.digits.length >= 7 || (a.digits.length >= 6 && b.digits.length >= 6);
          if ((i > 0 && same(chain.seps[i - 1]) && !apart(gs[i - 1]!, gs[i]!)) || (k + 1 < gs.length && same(chain.seps[k]) && !apart(gs[k]!, gs[k + 1]!))) continue;
        }
        const c = accept({ digits, start: gs[i]!.start, end: gs[k]!.end, shape, sep });
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

export function shapeIs(w: Window, ...shapes: string[]): boolean {
  const s = w.shape.join('-');
  return shapes.includes(s);
}
