import { DEFAULT_ENTITY_RANKS, DEFAULT_LEVELS, type ClassifierConfig } from './config.js';
import type { Classification, Finding } from './types.js';

/** Default rank of an entity nobody mapped (custom dictionaries, patterns): confidential. */
const UNKNOWN_ENTITY_RANK = 2;

/** A level given as a name, or as a rank of the default four scaled onto the configured levels. */
export function resolveLevel(spec: string | number, levels: readonly string[]): number {
  if (typeof spec === 'string') {
    const i = levels.indexOf(spec);
    if (i >= 0) return i;
    const d = (DEFAULT_LEVELS as readonly string[]).indexOf(spec);
    return d >= 0 ? scaleRank(d, levels.length) : levels.length - 1;
  }
  return scaleRank(spec, levels.length);
}

function scaleRank(rank: number, count: number): number {
  const top = DEFAULT_LEVELS.length - 1;
  if (count === DEFAULT_LEVELS.length) return Math.min(rank, count - 1);
  return Math.min(count - 1, Math.round((Math.min(rank, top) * (count - 1)) / top));
}

export interface LevelTable {
  levelOf(entity: string): number;
}

export function buildLevelTable(cfg: ClassifierConfig): LevelTable {
  const table = new Map<string, number>();
  for (const [entity, rank] of Object.entries(DEFAULT_ENTITY_RANKS)) table.set(entity, scaleRank(rank, cfg.levels.length));
  for (const [entity, spec] of Object.entries(cfg.entityLevels)) table.set(entity, resolveLevel(spec, cfg.levels));
  const unknown = scaleRank(UNKNOWN_ENTITY_RANK, cfg.levels.length);
  return { levelOf: (entity) => table.get(entity) ?? unknown };
}

/** Level from findings plus combination rules, with reasons that never quote a value. */
export function decideLevel(findings: readonly Finding[], cfg: ClassifierConfig, table: LevelTable): { level: number; reasons: string[] } {
  let level = 0;
  const reasons: string[] = [];
  const groups = new Map<string, { entity: string; path: string; count: number; detectors: Set<string> }>();
  const present = new Set<string>();
  for (const f of findings) {
    present.add(f.entity);
    level = Math.max(level, table.levelOf(f.entity));
    const key = `${f.entity}\u0000${f.path}`;
    const g = groups.get(key) ?? { entity: f.entity, path: f.path, count: 0, detectors: new Set<string>() };
    g.count++;
    g.detectors.add(f.detector);
    groups.set(key, g);
  }
  for (const g of groups.values()) {
    reasons.push(`${g.entity} x${g.count} at ${g.path} (${[...g.detectors].join(', ')}) -> ${cfg.levels[table.levelOf(g.entity)]}`);
  }
  for (const rule of cfg.combinations) {
    if (rule.requires.every((alts) => alts.some((e) => present.has(e)))) {
      const l = resolveLevel(rule.level, cfg.levels);
      const matched = rule.requires.map((alts) => alts.filter((e) => present.has(e)).join('|')).join(' + ');
      reasons.push(`combination ${rule.name}: ${matched} -> ${cfg.levels[l]}`);
      level = Math.max(level, l);
    }
  }
  return { level, reasons };
}

export interface CallerLabelOptions {
  /**
   * Hook for the later "trusted roles may lower the level" feature. Only when this
   * returns true may a label LOWER the level; the default (absent) never lowers.
   * The HTTP layer decides trust (role, key scope) and passes it here.
   */
  mayLower?: () => boolean;
}

/**
 * Applies a caller's sensitivity label (header `x-perimeter-sensitivity` or body
 * metadata). It can only raise the level. Unknown labels are ignored with a reason,
 * without echoing the label (it is client input).
 */
export function applyCallerLabel(
  classification: Classification,
  label: string | undefined,
  levels: readonly string[] = DEFAULT_LEVELS,
  options: CallerLabelOptions = {},
): Classification {
  if (label === undefined || label.trim() === '') return classification;
  const wanted = levels.indexOf(label.trim().toLowerCase());
  if (wanted < 0) return { ...classification, reasons: [...classification.reasons, 'caller label ignored: not a configured level'] };
  const current = levels.indexOf(classification.level);
  if (wanted > current) {
    return { ...classification, level: levels[wanted]!, reasons: [...classification.reasons, `caller label raised level to ${levels[wanted]}`] };
  }
  if (wanted < current && options.mayLower?.() === true) {
    return { ...classification, level: levels[wanted]!, reasons: [...classification.reasons, `trusted caller lowered level to ${levels[wanted]}`] };
  }
  return classification;
}
