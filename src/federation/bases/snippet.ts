import type { Classification } from '../../classify/types.js';

export interface SnippetGuard {
  classify(text: string): Classification;
  /** Rank of an entity's level (0 = lowest), as the classifier's level table has it. */
  levelOf(entity: string): number;
  /** Level names, lowest first. */
  readonly levels: readonly string[];
}

export interface Snippet {
  readonly text: string;
  readonly redacted: Record<string, number>;
  readonly withheld: boolean;
}

/** Characters classified on each side of the window, so a value cut by the window's edge is still recognised. */
const CONTEXT = 64;

/**
 * A bounded window of a chunk around the first query match, passed through the
 * sensitivity check: every finding above `maxRank` that touches the window is
 * replaced by `[TYPE]`. If the masked text still classifies above `maxRank` (a
 * combination of lower findings), every finding is masked; if even that is too
 * high, or the classifier failed, the snippet is withheld. Fails closed.
 */
export function buildSnippet(text: string, terms: readonly string[], maxChars: number, maxRank: number, guard: SnippetGuard): Snippet {
  const [ws, we] = windowAround(text, matchAt(text, terms), maxChars);
  const cs = Math.max(0, ws - CONTEXT);
  const ce = Math.min(text.length, we + CONTEXT);
  let findings: { entity: string; start: number; end: number }[];
  try {
    const c = guard.classify(text.slice(cs, ce));
    if (failedClosed(c)) return withheld();
    findings = c.findings
      .map((f) => ({ entity: f.entity, start: f.start + cs, end: f.end + cs }))
      .filter((f) => f.end > ws && f.start < we);
  } catch {
    return withheld();
  }
  const above = findings.filter((f) => guard.levelOf(f.entity) > maxRank);
  let masked = mask(text, ws, we, above, maxChars);
  if (!within(masked.text, maxRank, guard)) {
    masked = mask(text, ws, we, findings, maxChars);
    if (!within(masked.text, maxRank, guard)) return withheld();
  }
  return { text: masked.text, redacted: masked.redacted, withheld: false };
}

function withheld(): Snippet {
  return { text: '', redacted: {}, withheld: true };
}

function failedClosed(c: Classification): boolean {
  return c.reasons.some((r) => r.startsWith('fail-closed'));
}

function within(text: string, maxRank: number, guard: SnippetGuard): boolean {
  try {
    const c = guard.classify(text);
    return !failedClosed(c) && guard.levels.indexOf(c.level) <= maxRank && guard.levels.includes(c.level);
  } catch {
    return false;
  }
}

/** Start of the earliest occurrence of any term (case-insensitive), or 0. Stemmed matches find their prefix. */
export function matchAt(text: string, terms: readonly string[]): number {
  const lower = text.toLowerCase();
  let best = -1;
  for (const term of terms) {
    const t = term.toLowerCase();
    const candidates = t.length > 5 ? [t, t.slice(0, Math.max(4, t.length - 3))] : [t];
    for (const c of candidates) {
      const i = lower.indexOf(c);
      if (i >= 0 && (best < 0 || i < best)) best = i;
      if (i >= 0) break;
    }
  }
  return Math.max(0, best);
}

/** A window of at most maxChars centred on `at`, moved onto word boundaries where that only shrinks it. */
export function windowAround(text: string, at: number, maxChars: number): [number, number] {
  if (text.length <= maxChars) return [0, text.length];
  let start = Math.max(0, Math.min(at - Math.floor(maxChars / 2), text.length - maxChars));
  let end = start + maxChars;
  if (start > 0) {
    const space = text.slice(start, start + 24).search(/\s/);
    if (space >= 0) start += space + 1;
  }
  if (end < text.length) {
    const tail = text.slice(Math.max(start, end - 24), end);
    const space = tail.search(/\s\S*$/);
    if (space >= 0) end = Math.max(start, end - 24) + space;
  }
  return [start, end];
}

function mask(text: string, ws: number, we: number, findings: readonly { entity: string; start: number; end: number }[], maxChars: number): { text: string; redacted: Record<string, number> } {
  // Overlapping findings merge into one masked span named after the first.
  const spans = [...findings].sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: { entity: string; start: number; end: number }[] = [];
  for (const f of spans) {
    const s = Math.max(f.start, ws);
    const e = Math.min(f.end, we);
    const last = merged[merged.length - 1];
    if (last !== undefined && s < last.end) last.end = Math.max(last.end, e);
    else merged.push({ entity: f.entity, start: s, end: e });
  }
  const redacted: Record<string, number> = {};
  let out = '';
  let pos = ws;
  for (const m of merged) {
    out += text.slice(pos, m.start) + `[${m.entity}]`;
    redacted[m.entity] = (redacted[m.entity] ?? 0) + 1;
    pos = m.end;
  }
  out += text.slice(pos, we);
  // A short value replaced by a long type name can push past the bound; cut at a space, never mid-token.
  if (out.length > maxChars) {
    const cut = out.slice(0, maxChars);
    const space = cut.search(/\s\S*$/);
    out = space > 0 ? cut.slice(0, space) : cut.replace(/\[[A-Z0-9_]*$/, '');
  }
  return { text: out, redacted };
}
