/**
 * Quality and speed of the prompt-injection guard: `tsc -b && node dist/bench/injection-eval.js`.
 *
 * Rows of ../shared/data/injection are split by bench/injection-data.ts (sha256, 30%
 * held out). The trainer only ever reads the tuning part; everything reported under
 * "held-out" is rows nothing was fitted or tuned on. deepset rows are scanned as `user`,
 * BIPIA attacks (indirect by nature) as `tool`. BIPIA has positives only, so its
 * precision is computed against deepset's benign rows scanned as `tool` too.
 * Writes bench/INJECTION-RESULTS.md.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInjectionGuard, type InjectionGuard, type InjectionSource } from '../src/protect/injection/index.js';
import { DEFAULT_WINDOW } from '../src/protect/injection/model.js';
import { proseText } from './injection-bench.js';
import { loadInjectionRows, repoRoot, type Row, type Split } from './injection-data.js';

type Detector = 'rules' | 'model' | 'combined';
interface Counts { tp: number; fp: number; fn: number; tn: number }

const empty = (): Counts => ({ tp: 0, fp: 0, fn: 0, tn: 0 });
const fmt = (x: number): string => (Number.isNaN(x) ? '—' : x.toFixed(3));

function prf(c: Counts): { p: number; r: number; f1: number; fpr: number } {
  const p = c.tp + c.fp === 0 ? NaN : c.tp / (c.tp + c.fp);
  const r = c.tp + c.fn === 0 ? NaN : c.tp / (c.tp + c.fn);
  const f1 = Number.isNaN(p) || Number.isNaN(r) || p + r === 0 ? NaN : (2 * p * r) / (p + r);
  const fpr = c.fp + c.tn === 0 ? NaN : c.fp / (c.fp + c.tn);
  return { p, r, f1, fpr };
}

function tally(c: Counts, label: number, flagged: boolean): void {
  if (label === 1) flagged ? c.tp++ : c.fn++;
  else flagged ? c.fp++ : c.tn++;
}

interface Eval {
  deepset: Counts;
  bipia: Counts;
  combined: Counts;
  benignUser: Counts;
  benignTool: Counts;
  byBipiaFamily: Map<string, Counts>;
}

/** `strict`: count `suspicious` as flagged too (the threshold a `flag` action uses). */
function evaluate(guard: InjectionGuard, rows: Row[], strict: boolean): Eval {
  const e: Eval = { deepset: empty(), bipia: empty(), combined: empty(), benignUser: empty(), benignTool: empty(), byBipiaFamily: new Map() };
  const hit = (text: string, source: InjectionSource): boolean => {
    const v = guard.scan(text, source).verdict;
    return v === 'injection' || (strict && v === 'suspicious');
  };
  for (const row of rows) {
    if (row.dataset === 'deepset') {
      const f = hit(row.text, 'user');
      tally(e.deepset, row.label, f);
      tally(e.combined, row.label, f);
      if (row.label === 0) {
        tally(e.benignUser, 0, f);
        const ft = hit(row.text, 'tool');
        tally(e.benignTool, 0, ft);
        // deepset's benign rows are the only negatives there are; as tool content they
        // are BIPIA's negatives.
        tally(e.bipia, 0, ft);
      }
    } else {
      const f = hit(row.text, 'tool');
      tally(e.bipia, 1, f);
      tally(e.combined, 1, f);
      const key = `${row.family ?? '?'}`;
      const c = e.byBipiaFamily.get(key) ?? empty();
      tally(c, 1, f);
      e.byBipiaFamily.set(key, c);
    }
  }
  return e;
}

function speed(guard: InjectionGuard, text: string, source: InjectionSource): number {
  for (let i = 0; i < 20000; i++) guard.scan(text, source);
  const n = 50000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) guard.scan(text, source);
  return Number(process.hrtime.bigint() - t0) / 1000 / n;
}

const BENCH_SECTION = '## Speed, CPU time per call';

/**
 * Long prompts built from held-out rows only: k benign deepset rows joined by blank lines
 * (deterministic draw), and the same with one held-out attack put at a random position.
 * The model was trained on short prompts; this shows what its windowing makes of long ones.
 */
function longTexts(rows: Row[], log: (s?: string) => void): void {
  const held = rows.filter((r) => r.split === 'holdout');
  const benign = held.filter((r) => r.dataset === 'deepset' && r.label === 0).map((r) => r.text);
  const attacks = held.filter((r) => r.label === 1).map((r) => r.text);
  const DRAWS = 200;
  log('## Long texts (held-out rows joined; verdicts of the `combined` guard as `user`)');
  log();
  log(`Each cell: share of ${DRAWS} texts made of k held-out benign rows (joined by blank lines), or k benign rows plus one`);
  log('held-out attack at a random position. The model scores half-overlapping windows and takes the highest; the first');
  log('column set is the shipped window, the second the earlier 2,048-character one.');
  log();
  const windows = [DEFAULT_WINDOW, 2048];
  log(`| k | mean chars | holds a row that is \`injection\` alone | ${windows.map((w) => `benign → injection (${w}) | benign → suspicious+ (${w}) | attack found (${w})`).join(' | ')} |`);
  log(`|---|---|---|${windows.map(() => '---|---|---|').join('')}`);
  const guards = windows.map((window) => createInjectionGuard({ detector: 'combined' }, { window }));
  const hot = new Set(benign.filter((t) => guards[0]!.scan(t, 'user').verdict === 'injection'));
  for (const k of [1, 4, 16, 64]) {
    let seed = 20261122 + k;
    const pick = <T>(xs: T[]): T => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return xs[seed % xs.length]!;
    };
    const plain: string[] = [];
    const planted: string[] = [];
    let holdsHot = 0;
    for (let t = 0; t < DRAWS; t++) {
      const parts = Array.from({ length: k }, () => pick(benign));
      if (parts.some((p) => hot.has(p))) holdsHot++;
      plain.push(parts.join('\n\n'));
      const withAttack = Array.from({ length: k }, () => pick(benign));
      withAttack.splice(pick(Array.from({ length: k + 1 }, (_, i) => i)), 0, pick(attacks));
      planted.push(withAttack.join('\n\n'));
    }
    const share = (xs: string[], g: InjectionGuard, ok: (v: string) => boolean): string =>
      fmt(xs.filter((x) => ok(g.scan(x, 'user').verdict)).length / xs.length);
    const chars = Math.round(plain.reduce((a, x) => a + x.length, 0) / plain.length);
    const cells = guards.map((g) => [
      share(plain, g, (v) => v === 'injection'),
      share(plain, g, (v) => v !== 'clean'),
      share(planted, g, (v) => v === 'injection'),
    ].join(' | '));
    log(`| ${k} | ${chars} | ${fmt(holdsHot / DRAWS)} | ${cells.join(' | ')} |`);
  }
  log();
  log(`The benign share grows with k mostly through the ${hot.size} held-out benign row(s) that are \`injection\` on their own`);
  log('(third column: texts that contain one). The drift from window length alone shows on one repeated memo: 2 KB of it');
  log('scored 0.91 (injection) with 2,048-character windows and 0.51 with 512 (test/protect/injection/guard.test.ts holds');
  log('it below `injection`).');
  log();
}

function main(): void {
  const rows = loadInjectionRows();
  const guards: Record<Detector, InjectionGuard> = {
    rules: createInjectionGuard({ detector: 'rules' }),
    model: createInjectionGuard({ detector: 'model' }),
    combined: createInjectionGuard({ detector: 'combined' }),
  };
  const lines: string[] = [];
  const log = (s = ''): void => {
    lines.push(s);
    console.log(s);
  };
  log('# Prompt-injection guard: results');
  log();
  log('Generated by `tsc -b && node dist/bench/injection-eval.js` (bench/injection-eval.ts). Data: `../shared/data/injection/`');
  log('(deepset/prompt-injections train split, EN+DE; Microsoft BIPIA text+code attacks, positives only).');
  log();
  log('**Split.** Each row goes to held-out when the first byte of sha256("injection:" + text) is below 77 (≈30%).');
  log('The linear model, its regularisation and the stacking weights were fitted by `scripts/train-injection.ts` on the');
  log('tuning part only (5-fold CV inside it); default thresholds were picked from that CV output. deepset rows are scanned');
  log('as `user`; BIPIA rows as `tool` (they are indirect attacks). BIPIA has no negatives, so its precision uses deepset\'s');
  log('benign rows scanned as `tool`; "all" pools deepset-as-user with BIPIA-as-tool.');
  log();
  log('The model is also trained on `scripts/injection-hard-negatives.txt` (57 hand-written benign texts that mention');
  log('instructions, rules, prompts or code). Without them the data-only model scored higher here (combined, verdict');
  log('`injection`: all P 0.989 / R 0.838 / F1 0.907) but blocked prompts like "Follow the recipe instructions" with');
  log('score 0.98, because no benign row in the data mentions instructions. We kept the hard negatives.');
  log();
  log('Speed varies ±50% between runs on a shared machine; `node dist/bench/injection-bench.js` measures CPU time per call, per stage, with medians of rounds (see its section below).');
  log();
  const counts = (split: Split): string => {
    const rs = rows.filter((r) => r.split === split);
    return `${rs.length} rows (deepset ${rs.filter((r) => r.dataset === 'deepset').length}, of which ${rs.filter((r) => r.dataset === 'deepset' && r.label === 1).length} injections; BIPIA ${rs.filter((r) => r.dataset === 'bipia').length})`;
  };
  log(`Held-out: ${counts('holdout')}. Tuning: ${counts('tune')}.`);
  log();
  for (const strict of [false, true]) {
    log(strict
      ? '## Held-out, flagged = verdict `suspicious` or `injection` (what `action: flag` reports)'
      : '## Held-out, flagged = verdict `injection` (what `action: block`/`restrict` acts on)');
    log();
    log('| detector | deepset P | deepset R | deepset F1 | BIPIA P | BIPIA R | BIPIA F1 | all P | all R | all F1 | FPR benign as user | FPR benign as tool |');
    log('|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const d of ['rules', 'model', 'combined'] as Detector[]) {
      const e = evaluate(guards[d], rows.filter((r) => r.split === 'holdout'), strict);
      const a = prf(e.deepset);
      const b = prf(e.bipia);
      const c = prf(e.combined);
      log(`| ${d} | ${fmt(a.p)} | ${fmt(a.r)} | ${fmt(a.f1)} | ${fmt(b.p)} | ${fmt(b.r)} | ${fmt(b.f1)} | ${fmt(c.p)} | ${fmt(c.r)} | ${fmt(c.f1)} | ${fmt(prf(e.benignUser).fpr)} | ${fmt(prf(e.benignTool).fpr)} |`);
    }
    log();
  }
  const eh = evaluate(guards.combined, rows.filter((r) => r.split === 'holdout'), false);
  log('BIPIA held-out recall by attack family (combined, verdict `injection`): ' +
    [...eh.byBipiaFamily].map(([k, c]) => `${k} ${fmt(prf(c).r)} (${c.tp}/${c.tp + c.fn})`).join(', ') + '.');
  log();
  log('## Tuning part (for comparison; the model saw these rows)');
  log();
  log('| detector | deepset F1 | BIPIA R | all F1 | FPR benign as user |');
  log('|---|---|---|---|---|');
  for (const d of ['rules', 'model', 'combined'] as Detector[]) {
    const e = evaluate(guards[d], rows.filter((r) => r.split === 'tune'), false);
    log(`| ${d} | ${fmt(prf(e.deepset).f1)} | ${fmt(prf(e.bipia).r)} | ${fmt(prf(e.combined).f1)} | ${fmt(prf(e.benignUser).fpr)} |`);
  }
  log();
  longTexts(rows, log);
  log('## Speed (single thread, after warm-up; `combined` unless noted)');
  log();
  log('| input | µs per scan | µs per KB |');
  log('|---|---|---|');
  const cases: [string, string, InjectionSource, Detector][] = [
    ['2 KB benign prompt, user', proseText(2048, false), 'user', 'combined'],
    ['2 KB prompt ending in an attack, user', proseText(2048, true), 'user', 'combined'],
    ['2 KB benign prompt, rules only', proseText(2048, false), 'user', 'rules'],
    ['16 KB retrieved document, tool', proseText(16384, false), 'tool', 'combined'],
  ];
  for (const [name, text, source, d] of cases) {
    const us = speed(guards[d], text, source);
    log(`| ${name} | ${us.toFixed(1)} | ${(us / (text.length / 1024)).toFixed(1)} |`);
  }
  log();
  log(`Node ${process.version}, ${process.platform}/${process.arch}.`);
  // injection-bench.ts's section is written by hand from its output; keep it.
  const file = join(repoRoot(), 'bench', 'INJECTION-RESULTS.md');
  const previous = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const kept = previous.indexOf(BENCH_SECTION);
  writeFileSync(file, lines.join('\n') + '\n' + (kept >= 0 ? '\n' + previous.slice(kept) : ''));
}

main();
