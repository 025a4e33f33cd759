/**
 * Loads the injection datasets from ../shared/data/injection (or $PERIMETER_SHARED_DATA)
 * and splits them deterministically. Shared by the trainer (scripts/train-injection.ts)
 * and the eval (bench/injection-eval.ts) so the two can never disagree about which rows
 * are held out.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type Split = 'tune' | 'holdout';
export type Dataset = 'deepset' | 'bipia';

export interface Row {
  text: string;
  label: 0 | 1;
  dataset: Dataset;
  /** BIPIA's attack family ('text' | 'code'); undefined for deepset. */
  family?: string;
  category?: string;
  split: Split;
}

export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

export function dataDir(root: string = repoRoot()): string {
  const env = process.env.PERIMETER_SHARED_DATA;
  if (env !== undefined && env !== '') return resolve(env);
  return resolve(root, '..', 'shared', 'data');
}

/**
 * Deterministic 30% hold-out: first byte of sha256("injection:" + text) below 77 (of 256).
 * Salted so this split is independent of the classifier's split of other files.
 */
export function splitOf(text: string): Split {
  const b = createHash('sha256').update('injection:' + text).digest()[0]!;
  return b < 77 ? 'holdout' : 'tune';
}

interface RawRow {
  text?: unknown;
  label?: unknown;
  attack_family?: unknown;
  category?: unknown;
}

function readJsonl(path: string): RawRow[] {
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as RawRow);
}

export function loadInjectionRows(dir: string = dataDir()): Row[] {
  const out: Row[] = [];
  const files: [Dataset, string][] = [['deepset', 'deepset_train.jsonl'], ['bipia', 'bipia_attacks_train.jsonl']];
  for (const [dataset, file] of files) {
    const path = join(dir, 'injection', file);
    if (!existsSync(path)) throw new Error(`injection data not found at ${path}; set PERIMETER_SHARED_DATA`);
    for (const r of readJsonl(path)) {
      if (typeof r.text !== 'string') continue;
      const row: Row = { text: r.text, label: r.label === 1 ? 1 : 0, dataset, split: splitOf(r.text) };
      if (typeof r.attack_family === 'string') row.family = r.attack_family;
      if (typeof r.category === 'string') row.category = r.category;
      out.push(row);
    }
  }
  return out;
}
