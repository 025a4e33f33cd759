import { performance } from 'node:perf_hooks';
import { classifierConfigSchema, type ClassifierConfig, type ClassifierConfigInput } from './config.js';
import { applyCallerLabel, buildLevelTable, decideLevel, type CallerLabelOptions, type LevelTable } from './levels.js';
import { normalize, toOriginalSpan } from './normalize.js';
import { buildRegistry } from './registry.js';
import { SegmentCache } from './segment-cache.js';
import { DetectorBudgetError, ScanContext, type Detector } from './scan-context.js';
import type { Candidate, Classification, Finding, Segment } from './types.js';

export interface Classifier {
  /** Configured level names, lowest first. */
  readonly levels: readonly string[];
  /** Ids of the active detectors. */
  readonly detectorIds: readonly string[];
  /** Classifies one text. */
  classify(text: string, path?: string): Classification;
  /**
   * Classifies every text field of one request together, including values split across
   * two segments. Segments seen before in the same field are answered from the cache.
   */
  classifySegments(segments: readonly Segment[]): Classification;
  /** Raises (never lowers, unless the trusted-lowering hook says so) the level to a caller's label. */
  applyCallerLabel(classification: Classification, label: string | undefined, options?: CallerLabelOptions): Classification;
  /** The segment cache's size and hit counts since this classifier was built. */
  cacheStats(): { entries: number; chars: number; hits: number; misses: number };
}

/** Characters taken from each side of a boundary between consecutive segments for the cross-segment scan. */
const BOUNDARY_CHARS = 96;
/** Detector families that can see a value split across two messages (no lexicon-based ones: names are not split). */
const CROSS_FAMILIES = /^(?:email|phone|credit-card|iban|us|uk|de|pl|in|ca|au|fr|es|it|sg|ip|mac|crypto|secret|custom)\./;
const CROSS_SEPS = [' ', ''] as const;
/** Texts at least this long get a clock read per detector (so a timeout names the detector). */
const TIME_EACH_MIN_CHARS = 4096;
/** Characters of a value that may sit on one side of a join: token characters, plus spaces inside digit groups. */
const EDGE_CHARS = 32;

interface Failure {
  reason: string;
}

/**
 * Builds the engine once: parses the config, compiles every regex and lexicon. Nothing
 * happens at import time; this is the only expensive call.
 */
export interface ClassifierOptions {
  /** Extra detectors appended to the registry (plugins; tests use it to inject failures). */
  detectors?: readonly Detector[];
}

export function createClassifier(config: ClassifierConfigInput | ClassifierConfig = {}, options: ClassifierOptions = {}): Classifier {
  const cfg = classifierConfigSchema.parse(config);
  const detectors = [...buildRegistry(cfg), ...(options.detectors ?? [])];
  const crossDetectors = detectors.filter((d) => CROSS_FAMILIES.test(d.id));
  const table = buildLevelTable(cfg);
  const allowValues = new Set(cfg.allowList.map((v) => v.toLowerCase()));
  const allowPatterns = cfg.allowPatterns.map((p) => new RegExp(`^(?:${p})$`, 'iu'));
  const disabledEntities = new Set(cfg.disabled);
  const engine = { cfg, detectors, table, allowValues, allowPatterns, disabledEntities };
  const crossEngine = { ...engine, detectors: crossDetectors };
  const cache = new SegmentCache(cfg.cache.maxChars, cfg.cache.minChars);

  // Only request segments use the cache: single texts (answers under the output scan,
  // document chunks, snippets) rarely come back in the same field, so they would only push
  // conversation turns out of it.
  const run = (segments: readonly Segment[], useCache: boolean): Classification => {
    const t0 = performance.now();
    const findings: Finding[] = [];
    const failures: Failure[] = [];
    const until = t0 + cfg.budget.totalMs;
    for (const seg of segments) {
      const key = useCache && cache.applies(seg.text) ? SegmentCache.key(seg.path, seg.text) : undefined;
      const cached = key === undefined ? undefined : cache.get(key);
      if (cached !== undefined) {
        for (const f of cached) findings.push(f);
      } else {
        const from = findings.length;
        const failed = failures.length;
        scanText(engine, seg.text, seg.path, findings, failures, null, until);
        if (key !== undefined && failures.length === failed) cache.set(key, findings.slice(from));
      }
      if (performance.now() - t0 > cfg.budget.totalMs) {
        failures.push({ reason: `time budget of ${cfg.budget.totalMs} ms exceeded` });
        break;
      }
    }
    if (cfg.crossSegment && failures.length === 0) {
      for (let i = 0; i + 1 < segments.length; i++) {
        const a = segments[i]!;
        const b = segments[i + 1]!;
        if (joinMayHoldEntity(a.text, b.text)) crossSegment(crossEngine, a, b, findings, failures, until);
      }
    }
    return finish(engine, resolveConflicts(dedupe(findings), table), failures);
  };

  return {
    levels: cfg.levels,
    detectorIds: detectors.map((d) => d.id),
    classify: (text, path = 'text') => run([{ path, text }], false),
    classifySegments: (segments) => run(segments, true),
    applyCallerLabel: (c, label, options) => applyCallerLabel(c, label, cfg.levels, options),
    cacheStats: () => cache.stats(),
  };
}

interface Engine {
  cfg: ClassifierConfig;
  detectors: Detector[];
  table: LevelTable;
  allowValues: Set<string>;
  allowPatterns: RegExp[];
  disabledEntities: Set<string>;
}

/**
 * Runs every detector on one text. `onlyCrossing` restricts the output to findings
 * that straddle the given offset (cross-segment scans). Past `until` (the request's
 * total budget) the remaining detectors are skipped: the request already fails closed,
 * and a megabyte of hostile text once held the event loop for seconds after that.
 */
function scanText(e: Engine, original: string, path: string, out: Finding[], failures: Failure[], onlyCrossing: number | null, until: number): Candidate[] {
  const norm = normalize(original);
  const ctx = new ScanContext(norm.text, path, e.cfg.contextBoost);
  const raw: Candidate[] = [];
  // Per-detector clock reads cost ~7% of a 2 KB chat request (two reads for each of ~35
  // detectors on each of ~6 segments; measured with --cpu-prof). Short texts are timed as
  // a whole: if all detectors together exceed one detector's budget, the text fails closed
  // (stricter than per detector). Long texts, where a read is noise, name the detector.
  const timeEach = original.length >= TIME_EACH_MIN_CHARS;
  const limit = e.cfg.budget.perDetectorMs;
  const t0 = performance.now();
  for (const d of e.detectors) {
    if ((ctx.flags & d.needs) !== d.needs) continue;
    const start = timeEach ? performance.now() : 0;
    if (start > until) {
      failures.push({ reason: `time budget of ${e.cfg.budget.totalMs} ms exceeded at ${path} (remaining detectors skipped)` });
      break;
    }
    ctx.deadline = Math.min((timeEach ? start : t0) + limit, until);
    try {
      d.detect(ctx, raw);
    } catch (err) {
      if (err instanceof DetectorBudgetError) {
        const total = performance.now() > until;
        failures.push({ reason: total ? `time budget of ${e.cfg.budget.totalMs} ms exceeded in detector ${d.id} at ${path} (stopped)` : `detector ${d.id} exceeded its ${limit} ms budget at ${path} (stopped)` });
        if (total) break;
        continue;
      }
      // Only the error's class name: messages from regex engines or libraries can quote input.
      failures.push({ reason: `detector ${d.id} failed (${err instanceof Error ? err.name : typeof err}) at ${path}` });
      continue;
    }
    if (timeEach && performance.now() - start > limit) failures.push({ reason: `detector ${d.id} exceeded its ${limit} ms budget at ${path}` });
  }
  if (!timeEach && performance.now() - t0 > limit) {
    failures.push({ reason: `detectors together exceeded the ${limit} ms per-detector budget at ${path} (text under ${TIME_EACH_MIN_CHARS} chars, timed as a whole)` });
  }
  const kept: Candidate[] = [];
  for (const c of raw) {
    if (c.score < e.cfg.threshold || c.end <= c.start || e.disabledEntities.has(c.entity)) continue;
    if (onlyCrossing !== null && !(c.start < onlyCrossing && c.end > onlyCrossing)) continue;
    const [s, t] = toOriginalSpan(norm, c.start, c.end);
    const value = original.slice(s, t);
    if (isAllowed(e, value)) continue;
    kept.push({ ...c, start: s, end: t });
    if (onlyCrossing === null) out.push({ entity: c.entity, path, start: s, end: t, score: round(c.score), detector: c.detector });
  }
  return kept;
}

function isAllowed(e: Engine, value: string): boolean {
  const v = value.trim().replace(/^["'`(<[]+|["'`)>\].,;:]+$/g, '');
  if (e.allowValues.has(v.toLowerCase())) return true;
  for (const p of e.allowPatterns) if (p.test(v)) return true;
  return false;
}

/**
 * A value split across two consecutive segments (a card number over two messages):
 * scan the tail of one joined to the head of the next and keep only findings that
 * straddle the join; each is reported once per segment it touches.
 */
function crossSegment(e: Engine, a: Segment, b: Segment, out: Finding[], failures: Failure[], until: number): void {
  const tail = a.text.slice(-BOUNDARY_CHARS);
  const head = b.text.slice(0, BOUNDARY_CHARS);
  const join = tail.length;
  const offsetA = a.text.length - tail.length;
  // Joined with a space (digit groups: "4111 1111" + "1111 1111") and without one (an
  // e-mail or key cut in two: "jane.doe" + "@corp-mail.com"); duplicates merge in dedupe.
  // With whitespace already at the join the two readings are the same: scan once.
  const tight = a.text.length > 0 && b.text.length > 0 && a.text.charCodeAt(a.text.length - 1) > 32 && b.text.charCodeAt(0) > 32;
  for (const sep of tight ? CROSS_SEPS : CROSS_SEPS.slice(0, 1)) {
    const found = scanText(e, tail + sep + head, `${a.path} + ${b.path}`, [], failures, join, until);
    for (const c of found) {
      const detector = `${c.detector}+cross-segment`;
      out.push({ entity: c.entity, path: a.path, start: offsetA + c.start, end: a.text.length, score: round(c.score), detector });
      const endB = c.end - join - sep.length;
      if (endB > 0) out.push({ entity: c.entity, path: b.path, start: 0, end: endB, score: round(c.score), detector });
    }
  }
}

/** 0: ends a value; 1: part of a value; 2: part of one and a sign of an id (digit, '@', '=', ':'); 3: invisible, skipped. */
function edgeClass(c: number): number {
  if ((c >= 48 && c <= 58) || c === 64 || c === 61) return 2;
  // A-Z a-z and + / _ - . ( ): what ids, numbers, e-mails and keys are made of.
  if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 43 || c === 47 || c === 95 || c === 45 || c === 46 || c === 40 || c === 41) return 1;
  if (c < 128) return 0;
  // Before normalisation: full-width digits, '@', '=', ':' and zero-width characters.
  if ((c >= 0xff10 && c <= 0xff1a) || c === 0xff20 || c === 0xff1d) return 2;
  if ((c >= 0x200b && c <= 0x200f) || (c >= 0x2060 && c <= 0x2064) || c === 0xfeff || c === 0xad) return 3;
  return c >= 0xff01 && c <= 0xff5e ? 1 : /\p{L}/u.test(String.fromCharCode(c)) ? 1 : 0;
}

/**
 * Whether a value could straddle the join of two segments. The value then has a
 * fragment touching the end of `a` and one touching the start of `b`, and (because
 * names are not joined) it holds a digit, an '@', a '=' or ':' assignment, or is a
 * long key-shaped run. Prose that ends mid-word ("…the dashb" + "You are") has none of
 * these, so the 2 × 96-character rescan is skipped: it cost 11% of a 2 KB chat request.
 */
export function joinMayHoldEntity(a: string, b: string): boolean {
  // Trailing edge of a: token characters, allowing single spaces between digit groups.
  let i = a.length - 1;
  while (i >= 0 && a.charCodeAt(i) <= 32) i--;
  if (i < 0) return false;
  // A sentence that ends (". ", "!", "?") before a message that starts with a capital is a boundary, not a split value.
  const last = a.charCodeAt(i);
  if (last === 46 || last === 33 || last === 63 || last === 59 || last === 44) {
    let f = 0;
    while (f < b.length && b.charCodeAt(f) <= 32) f++;
    const c = b.charCodeAt(f);
    if (c >= 65 && c <= 90) return false;
  }
  const stopA = Math.max(0, i - EDGE_CHARS);
  let tokenA = 0;
  let signal = false;
  for (; i >= stopA; i--) {
    const c = a.charCodeAt(i);
    const k = edgeClass(c);
    if (k === 1 || k === 2) {
      tokenA++;
      if (k === 2) signal = true;
    } else if (k === 3 || (c === 32 && i > 0 && isDigit(a.charCodeAt(i - 1)) && isDigit(a.charCodeAt(i + 1)))) continue;
    else break;
  }
  if (tokenA === 0) return false;
  let j = 0;
  while (j < b.length && b.charCodeAt(j) <= 32) j++;
  const stopB = Math.min(b.length, j + EDGE_CHARS);
  let tokenB = 0;
  for (; j < stopB; j++) {
    const c = b.charCodeAt(j);
    const k = edgeClass(c);
    if (k === 1 || k === 2) {
      tokenB++;
      if (k === 2) signal = true;
    } else if (k === 3 || (c === 32 && j > 0 && isDigit(b.charCodeAt(j - 1)) && isDigit(b.charCodeAt(j + 1)))) continue;
    else break;
  }
  if (tokenB === 0) return false;
  return signal || tokenA + tokenB >= 20;
}

function isDigit(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 0xff10 && c <= 0xff19);
}

/** Same entity, same path, overlapping spans: keep the longest, then the highest score. */
function dedupe(findings: Finding[]): Finding[] {
  findings.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : x.start - y.start || y.end - x.end));
  const out: Finding[] = [];
  // Per path and entity: where its findings sit in `out`, and the furthest end among them
  // (an upper bound), so a finding that overlaps none of its kind is placed without looking
  // back. Walking back over every earlier finding of the path was quadratic: 40k card
  // numbers in one 1 MB text took 14 s here.
  const groups = new Map<string, { at: number[]; maxEnd: number }>();
  for (const f of findings) {
    const key = `${f.path}\u0000${f.entity}`;
    let group = groups.get(key);
    if (group === undefined) {
      group = { at: [], maxEnd: -1 };
      groups.set(key, group);
    }
    let merged = false;
    if (group.maxEnd > f.start) {
      for (let k = group.at.length - 1; k >= 0; k--) {
        const i = group.at[k]!;
        const g = out[i]!;
        if (g.end <= f.start) continue;
        if (f.end - f.start > g.end - g.start || (f.end - f.start === g.end - g.start && f.score > g.score)) out[i] = f;
        merged = true;
        break;
      }
    }
    if (!merged) {
      group.at.push(out.length);
      out.push(f);
    }
    group.maxEnd = Math.max(group.maxEnd, f.end);
  }
  return out;
}

/**
 * A finding inside (or on exactly the span of) another entity's finding is dropped when
 * its level is lower (or equal, when strictly inside): a phone-shaped reading of a tax id, a card-shaped run inside
 * an IBAN, an email inside a connection string. Never lowers the request's level,
 * because the container is at least as high.
 */
function resolveConflicts(findings: Finding[], table: LevelTable): Finding[] {
  // A sweep by start, comparing each finding only with those still open where it starts:
  // comparing every pair was quadratic (40k card numbers in one text took 29 s).
  const dropped = new Set<Finding>();
  const byPath = new Map<string, Finding[]>();
  for (const f of findings) {
    const list = byPath.get(f.path);
    if (list === undefined) byPath.set(f.path, [f]);
    else list.push(f);
  }
  for (const list of byPath.values()) {
    const sorted = list.length === 1 ? list : [...list].sort((x, y) => x.start - y.start || y.end - x.end);
    let open: Finding[] = [];
    for (let i = 0; i < sorted.length; ) {
      const start = sorted[i]!.start;
      let j = i;
      while (j < sorted.length && sorted[j]!.start === start) j++;
      // Everything still open starts at or before `start`; a container must also end at or after it.
      open = open.filter((g) => g.end >= start);
      for (let k = i; k < j; k++) open.push(sorted[k]!);
      for (let k = i; k < j; k++) {
        const f = sorted[k]!;
        const lf = table.levelOf(f.entity);
        for (const g of open) {
          if (g === f || g.entity === f.entity || g.end < f.end) continue;
          const lg = table.levelOf(g.entity);
          const equal = g.start === f.start && g.end === f.end;
          // Same span, same level (a 9-digit number read as ITIN and as passport): keep both readings.
          if (lf < lg || (!equal && lf === lg)) {
            dropped.add(f);
            break;
          }
        }
      }
      i = j;
    }
  }
  return dropped.size === 0 ? findings : findings.filter((f) => !dropped.has(f));
}

function finish(e: Engine, findings: Finding[], failures: Failure[]): Classification {
  const { level, reasons } = decideLevel(findings, e.cfg, e.table);
  if (failures.length > 0) {
    const top = e.cfg.levels.length - 1;
    return { level: e.cfg.levels[top]!, findings, reasons: [...failures.map((f) => `fail-closed: ${f.reason}`), ...reasons] };
  }
  return { level: e.cfg.levels[level]!, findings, reasons };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
