/**
 * Trains the injection guard's linear model and writes src/protect/injection/weights.ts.
 *
 *   npx tsc scripts/train-injection.ts --outDir dist/scripts --rootDir . --module nodenext \
 *     --moduleResolution nodenext --target es2022 --strict --skipLibCheck --types node \
 *     && node dist/scripts/scripts/train-injection.js
 *
 * (scripts/ is outside the project's tsconfig on purpose: training is a maintainer
 * step, not part of `npm test`.) Data: ../shared/data/injection or
 * $PERIMETER_SHARED_DATA. Only rows whose split is 'tune' are read for fitting; the
 * held-out 30% (bench/injection-data.ts) is never seen here.
 *
 * Steps: (1) choose the L2 strength by 5-fold cross-validation on the tuning rows;
 * (2) fit the stacking weights (model logit, rule evidence) on out-of-fold logits, so
 * the combination isn't fitted on predictions the model made for its own training rows;
 * (3) fit the final model on all tuning rows; (4) quantise to int8 and write weights.ts.
 * Deterministic: fixed fold assignment by hash, full-batch gradient descent.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadInjectionRows, repoRoot, type Row } from '../bench/injection-data.js';
import { FEATURE_BITS, forEachFeature } from '../src/protect/injection/features.js';
import { normalizeForInjection } from '../src/protect/injection/normalize.js';
import { evaluateRules } from '../src/protect/injection/rules.js';

interface Doc {
  idx: Int32Array;
  val: Float32Array;
  y: number;
  evidence: number;
  fold: number;
}

const SIZE = 1 << FEATURE_BITS;

function featurize(text: string): { idx: Int32Array; val: Float32Array } {
  const counts = new Map<number, number>();
  const n = forEachFeature(text, FEATURE_BITS, (b) => counts.set(b, (counts.get(b) ?? 0) + 1));
  const idx = new Int32Array(counts.size);
  const val = new Float32Array(counts.size);
  let k = 0;
  const norm = n > 0 ? 1 / Math.sqrt(n) : 0;
  for (const [b, c] of counts) {
    idx[k] = b;
    val[k] = c * norm;
    k++;
  }
  return { idx, val };
}

function foldOf(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return (h >>> 0) % 5;
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

function dot(w: Float32Array, d: Doc): number {
  let s = 0;
  for (let k = 0; k < d.idx.length; k++) s += w[d.idx[k]!]! * d.val[k]!;
  return s;
}

/** Full-batch gradient descent with momentum; L2 on weights, not bias. */
function trainLR(docs: Doc[], l2: number, iters = 400, lr = 2): { w: Float32Array; bias: number } {
  const w = new Float32Array(SIZE);
  const v = new Float32Array(SIZE);
  const g = new Float32Array(SIZE);
  let bias = 0;
  let vb = 0;
  const m = docs.length;
  for (let it = 0; it < iters; it++) {
    g.fill(0);
    let gb = 0;
    for (const d of docs) {
      const err = sigmoid(bias + dot(w, d)) - d.y;
      gb += err;
      for (let k = 0; k < d.idx.length; k++) g[d.idx[k]!]! += err * d.val[k]!;
    }
    for (let j = 0; j < SIZE; j++) {
      const grad = g[j]! / m + l2 * w[j]!;
      v[j] = 0.9 * v[j]! - lr * grad;
      w[j]! += v[j]!;
    }
    vb = 0.9 * vb - lr * (gb / m);
    bias += vb;
  }
  return { w, bias };
}

/** Three-parameter logistic regression on (model logit, rule evidence). */
function fitStack(xs: [number, number][], ys: number[]): { a: number; b: number; c: number } {
  let a = 1;
  let b = 1;
  let c = 0;
  for (let it = 0; it < 5000; it++) {
    let ga = 0;
    let gbb = 0;
    let gc = 0;
    for (let i = 0; i < xs.length; i++) {
      const [z, e] = xs[i]!;
      const err = sigmoid(a * z + b * e + c) - ys[i]!;
      ga += err * z;
      gbb += err * e;
      gc += err;
    }
    const n = xs.length;
    a -= 0.1 * (ga / n + 1e-3 * a);
    b -= 0.1 * (gbb / n + 1e-3 * b);
    c -= 0.1 * (gc / n);
  }
  return { a, b, c };
}

function f1At(scores: number[], ys: number[], t: number): { p: number; r: number; f1: number } {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  scores.forEach((s, i) => {
    const pred = s >= t;
    if (pred && ys[i] === 1) tp++;
    else if (pred) fp++;
    else if (ys[i] === 1) fn++;
  });
  const p = tp + fp === 0 ? 0 : tp / (tp + fp);
  const r = tp + fn === 0 ? 0 : tp / (tp + fn);
  return { p, r, f1: p + r === 0 ? 0 : (2 * p * r) / (p + r) };
}

function main(): void {
  const rows: Row[] = loadInjectionRows().filter((r) => r.split === 'tune');
  const examples: { text: string; y: number; indirect: boolean }[] = rows.map((r) => ({
    text: r.text,
    y: r.label,
    // BIPIA attacks arrive inside tool/retrieved content; deepset rows are user prompts.
    indirect: r.dataset === 'bipia',
  }));
  for (const line of readFileSync(join(repoRoot(), 'scripts', 'injection-hard-negatives.txt'), 'utf8').split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const tool = line.startsWith('tool\t');
    examples.push({ text: (tool ? line.slice(5) : line).replace(/\\n/g, '\n'), y: 0, indirect: tool });
  }
  const docs: Doc[] = examples.map((e) => {
    const norm = normalizeForInjection(e.text);
    const { evidence } = evaluateRules(norm, e.indirect);
    return { ...featurize(norm.text), y: e.y, evidence, fold: foldOf(e.text) };
  });
  console.log(`tuning rows: ${docs.length} (${docs.filter((d) => d.y === 1).length} positive)`);

  let best = { l2: 0, loss: Infinity, oof: [] as number[] };
  for (const l2 of [1e-5, 3e-5, 1e-4, 3e-4, 1e-3]) {
    const oof = new Array<number>(docs.length).fill(0);
    for (let f = 0; f < 5; f++) {
      const { w, bias } = trainLR(docs.filter((d) => d.fold !== f), l2);
      docs.forEach((d, i) => {
        if (d.fold === f) oof[i] = bias + dot(w, d);
      });
    }
    let loss = 0;
    docs.forEach((d, i) => {
      const p = Math.min(1 - 1e-6, Math.max(1e-6, sigmoid(oof[i]!)));
      loss -= d.y === 1 ? Math.log(p) : Math.log(1 - p);
    });
    loss /= docs.length;
    const m = f1At(oof.map(sigmoid), docs.map((d) => d.y), 0.5);
    console.log(`l2=${l2}: OOF log-loss ${loss.toFixed(4)}  F1@0.5 ${m.f1.toFixed(3)}`);
    if (loss < best.loss) best = { l2, loss, oof };
  }
  const ys = docs.map((d) => d.y);
  const stack = fitStack(docs.map((d, i) => [best.oof[i]!, d.evidence]), ys);
  console.log(`chosen l2=${best.l2}; stack a=${stack.a.toFixed(3)} b=${stack.b.toFixed(3)} c=${stack.c.toFixed(3)}`);
  const combined = docs.map((d, i) => sigmoid(stack.a * best.oof[i]! + stack.b * d.evidence + stack.c));
  const rulesOnly = docs.map((d) => 1 - Math.exp(-d.evidence));
  for (const t of [0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8]) {
    const c = f1At(combined, ys, t);
    const ru = f1At(rulesOnly, ys, t);
    const mo = f1At(best.oof.map(sigmoid), ys, t);
    console.log(`t=${t}: combined P ${c.p.toFixed(3)} R ${c.r.toFixed(3)} F1 ${c.f1.toFixed(3)} | rules F1 ${ru.f1.toFixed(3)} | model F1 ${mo.f1.toFixed(3)}`);
  }

  const { w, bias } = trainLR(docs, best.l2);
  let max = 0;
  for (const x of w) max = Math.max(max, Math.abs(x));
  const scale = max / 127 || 1;
  const q = Buffer.alloc(SIZE);
  for (let j = 0; j < SIZE; j++) q.writeInt8(Math.round(w[j]! / scale), j);
  const round = (x: number): number => Math.round(x * 1e6) / 1e6;
  const out = [
    '// Generated by scripts/train-injection.ts — do not edit by hand.',
    `// Trained on ${docs.length} rows: deepset + BIPIA tuning part (held-out 30% excluded) and scripts/injection-hard-negatives.txt; L2 ${best.l2}.`,
    "import type { LinearModelData } from './model.js';",
    '',
    'export const INJECTION_MODEL: LinearModelData = {',
    `  version: 'lr-h${FEATURE_BITS}-${docs.length}',`,
    `  bits: ${FEATURE_BITS},`,
    `  scale: ${scale},`,
    `  bias: ${round(bias)},`,
    `  stack: { a: ${round(stack.a)}, b: ${round(stack.b)}, c: ${round(stack.c)} },`,
    `  weights:\n    '${q.toString('base64')}',`,
    '};',
    '',
  ].join('\n');
  const path = join(repoRoot(), 'src', 'protect', 'injection', 'weights.ts');
  writeFileSync(path, out);
  console.log(`wrote ${path} (${out.length} bytes)`);
}

main();
