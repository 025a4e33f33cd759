import type { ClassifierConfig } from '../config.js';
import { type Detector, wordSet } from '../scan-context.js';

/** With the `u` flag an escaped "-" or "/" outside a class is a syntax error, and neither needs escaping there. */
function escape(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

/** One alternation per dictionary, longest terms first, whole words only. Compiled once. */
function termRegex(terms: readonly string[], caseSensitive: boolean): RegExp | null {
  const uniq = [...new Set(terms.map((t) => t.trim()).filter((t) => t !== ''))].sort((a, b) => b.length - a.length);
  if (uniq.length === 0) return null;
  return new RegExp(`(?<![\\p{L}\\p{N}_])(?:${uniq.map(escape).join('|')})(?![\\p{L}\\p{N}_])`, caseSensitive ? 'gu' : 'giu');
}

export function customDetectors(cfg: ClassifierConfig): Detector[] {
  const out: Detector[] = [];
  cfg.custom.dictionaries.forEach((dict, i) => {
    const re = termRegex(dict.terms, dict.caseSensitive);
    if (re === null) return;
    out.push({
      id: `custom.dictionary-${i}`,
      entities: [dict.entity],
      needs: 0,
      detect(ctx, found) {
        re.lastIndex = 0;
        for (let m = re.exec(ctx.text); m !== null; m = re.exec(ctx.text)) {
          found.push({ entity: dict.entity, start: m.index, end: m.index + m[0].length, score: dict.score, detector: this.id });
        }
      },
    });
  });
  cfg.custom.patterns.forEach((p, i) => {
    const re = new RegExp(p.pattern, p.flags.includes('g') ? p.flags : `${p.flags}g`);
    const context = wordSet(p.context.join(' ').toLowerCase());
    out.push({
      id: `custom.pattern-${i}`,
      entities: [p.entity],
      needs: 0,
      detect(ctx, found) {
        re.lastIndex = 0;
        for (let m = re.exec(ctx.text); m !== null; m = re.exec(ctx.text)) {
          if (m[0].length === 0) {
            re.lastIndex++;
            continue;
          }
          const end = m.index + m[0].length;
          found.push({ entity: p.entity, start: m.index, end, score: ctx.score(p.score, m.index, end, context), detector: this.id });
        }
      },
    });
  });
  const deny = termRegex(cfg.denyList, false);
  if (deny !== null) {
    out.push({
      id: 'custom.deny-list',
      entities: ['DENY_LIST'],
      needs: 0,
      detect(ctx, found) {
        deny.lastIndex = 0;
        for (let m = deny.exec(ctx.text); m !== null; m = deny.exec(ctx.text)) {
          found.push({ entity: 'DENY_LIST', start: m.index, end: m.index + m[0].length, score: 1, detector: this.id });
        }
      },
    });
  }
  return out;
}
