import { performance } from 'node:perf_hooks';
import { classifierConfigSchema, type ClassifierConfig, type ClassifierConfigInput } from './config.js';
import { applyCallerLabel, buildLevelTable, decideLevel, type CallerLabelOptions, type LevelTable } from './levels.js';
import { normalize, toOriginalSpan } from './normalize.js';
import { buildRegistry } from './registry.js';
import { ScanContext, type Detector } from './scan-context.js';
import type { Candidate, Classification, Finding, Segment } from './types.js';

export interface Classifier {
  /** Configured level names, lowest first. */
  readonly levels: readonly string[];
  /** Ids of the active detectors. */
  readonly detectorIds: readonly string[];
  /** Classifies one text. */
  classify(text: string, path?: string): Classification;
  /** Classifies every text field of one request together, including values split across two segments. */
  classifySegments(segments: readonly Segment[]): Classification;
  /** Raises (never lowers, unless the trusted-lowering hook says so) the level to a caller's label. */
  applyCallerLabel(classification: Classification, label: string | undefined, options?: CallerLabelOptions): Classification;
}

/** Characters taken from each side of a boundary between consecutive segments for the cross-segment scan. */
const BOUNDARY_CHARS = 96;
/** Detector families that can see a value split across two messages (no lexicon-based ones: names are not split). */
const CROSS_FAMILIES = /^(?:email|phone|credit-card|iban|us|uk|de|pl|in|ca|au|fr|es|it|sg|ip|mac|crypto|secret|custom)\./;
const CROSS_PATH_SEP = ' ';
const FRAGMENT_CHAR = /[A-Za-z0-9+(/=_-]/;

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

  const classifySegments = (segments: readonly Segment[]): Classification => {
    const t0 = performance.now();
    const findings: Finding[] = [];
    const failures: Failure[] = [];
    for (const seg of segments) {
      scanText(engine, seg.text, seg.path, findings, failures, null);
      if (performance.now() - t0 > cfg.budget.totalMs) {
        failures.push({ reason: `time budget of ${cfg.budget.totalMs} ms exceeded` });
        break;
      }
    }
    if (cfg.crossSegment && failures.length === 0) {
      for (let i = 0; i + 1 < segments.length; i++) crossSegment(crossEngine, segments[i]!, segments[i + 1]!, findings, failures);
    }
    return finish(engine, resolveConflicts(dedupe(findings), table), failures);
  };

  return {
    levels: cfg.levels,
    detectorIds: detectors.map((d) => d.id),
    classify: (text, path = 'text') => classifySegments([{ path, text }]),
    classifySegments,
    applyCallerLabel: (c, label, options) => applyCallerLabel(c, label, cfg.levels, options),
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
 * that straddle the given offset (cross-segment scans).
 */
function scanText(e: Engine, original: string, path: string, out: Finding[], failures: Failure[], onlyCrossing: number | null): Candidate[] {
  const norm = normalize(original);
  const ctx = new ScanContext(norm.text, path, e.cfg.contextBoost);
  const raw: Candidate[] = [];
  for (const d of e.detectors) {
    if ((ctx.flags & d.needs) !== d.needs) continue;
    const start = performance.now();
    try {
      d.detect(ctx, raw);
    } catch (err) {
      // Only the error's class name: messages from regex engines or libraries can quote input.
      failures.push({ reason: `detector ${d.id} failed (${err instanceof Error ? err.name : typeof err}) at ${path}` });
      continue;
    }
    const spent = performance.now() - start;
    if (spent > e.cfg.budget.perDetectorMs) {
      failures.push({ reason: `detector ${d.id} exceeded its ${e.cfg.budget.perDetectorMs} ms budget at ${path}` });
    }
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
function crossSegment(e: Engine, a: Segment, b: Segment, out: Finding[], failures: Failure[]): void {
  const tail = a.text.slice(-BOUNDARY_CHARS);
  const head = b.text.slice(0, BOUNDARY_CHARS);
  // A value split across the join has a fragment on both sides: prose that ends in
  // punctuation or a message that starts with a word cannot hide one, so skip the scan.
  // (Anchored regexes like /x\s*$/ scan the whole string in V8, so test the edge characters.)
  if (!FRAGMENT_CHAR.test(tail.trimEnd().slice(-1)) || !FRAGMENT_CHAR.test(head.trimStart().slice(0, 1))) return;
  const joined = tail + CROSS_PATH_SEP + head;
  const join = tail.length;
  const found = scanText(e, joined, `${a.path} + ${b.path}`, [], failures, join);
  const offsetA = a.text.length - tail.length;
  for (const c of found) {
    const detector = `${c.detector}+cross-segment`;
    out.push({ entity: c.entity, path: a.path, start: offsetA + c.start, end: a.text.length, score: round(c.score), detector });
    const endB = c.end - join - CROSS_PATH_SEP.length;
    if (endB > 0) out.push({ entity: c.entity, path: b.path, start: 0, end: endB, score: round(c.score), detector });
  }
}

/** Same entity, same path, overlapping spans: keep the longest, then the highest score. */
function dedupe(findings: Finding[]): Finding[] {
  findings.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : x.start - y.start || y.end - x.end));
  const out: Finding[] = [];
  for (const f of findings) {
    let merged = false;
    for (let i = out.length - 1; i >= 0; i--) {
      const g = out[i]!;
      if (g.path !== f.path || g.end <= f.start) {
        if (g.path !== f.path) break;
        continue;
      }
      if (g.entity === f.entity) {
        if (f.end - f.start > g.end - g.start || (f.end - f.start === g.end - g.start && f.score > g.score)) out[i] = f;
        merged = true;
        break;
      }
    }
    if (!merged) out.push(f);
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
  return findings.filter((f) => {
    const lf = table.levelOf(f.entity);
    for (const g of findings) {
      if (g === f || g.path !== f.path || g.entity === f.entity) continue;
      if (g.start > f.start || g.end < f.end) continue;
      const lg = table.levelOf(g.entity);
      const equal = g.start === f.start && g.end === f.end;
      // Same span, same level (a 9-digit number read as ITIN and as passport): keep both readings.
      if (lf < lg || (!equal && lf === lg)) return false;
    }
    return true;
  });
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
