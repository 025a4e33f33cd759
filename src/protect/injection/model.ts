/**
 * The shipped linear model: logistic regression over hashed n-grams (features.ts),
 * trained by scripts/train-injection.ts on the tuning part of the data only. Weights are
 * int8-quantised and base64-encoded in weights.ts (a .ts module so tsc carries it into
 * dist/ and a fresh clone needs no extra copy step); they are decoded once per guard.
 */
import { sumFeatureWeights } from './features.js';

export interface LinearModelData {
  readonly version: string;
  readonly bits: number;
  /** Multiply each int8 by this to get the float weight. */
  readonly scale: number;
  readonly bias: number;
  /**
   * How the combined detector mixes the two parts, fitted on out-of-fold predictions of
   * the tuning rows: logit = a * modelLogit + b * ruleEvidence + c.
   */
  readonly stack: { readonly a: number; readonly b: number; readonly c: number };
  /** base64 of 2^bits int8 weights. */
  readonly weights: string;
}

export interface LinearModel {
  readonly version: string;
  readonly stack: LinearModelData['stack'];
  /**
   * Log-odds that the (normalised) text is an injection. Texts longer than `window`
   * characters are scored per window (half-overlapping) and the highest counts: the model
   * was trained on prompts of a few hundred characters, and one planted paragraph must
   * not be diluted by a long benign page around it.
   */
  logit(normalizedText: string, window?: number): number;
}

/**
 * Why 512: the training prompts are short (median 69 characters, 99th percentile 697), and
 * the window sum is divided by the square root of its feature count, so a longer window of
 * mildly positive features scores higher the longer it is. At 2048 a repeated 2 KB memo
 * scored 0.91 (verdict injection). At 512 it stays at 0.51, held-out precision and recall
 * are unchanged (0.988 / 0.762), and an attack planted among concatenated benign held-out
 * prompts is found more often (bench/INJECTION-RESULTS.md, "Long texts").
 */
export const DEFAULT_WINDOW = 512;

export function loadLinearModel(data: LinearModelData): LinearModel {
  const raw = Buffer.from(data.weights, 'base64');
  const size = 1 << data.bits;
  if (raw.length !== size) throw new Error(`injection model: expected ${size} weights, got ${raw.length}`);
  // Kept as int8 (64 KB): the hot loop does random lookups, and a table that fits in L2
  // beats a float table 4x its size; the scale is applied once per window.
  const w = new Int8Array(raw.buffer, raw.byteOffset, size).slice();
  const { bits, scale, bias } = data;
  const z = (sum: number, n: number): number => bias + (n > 0 ? (sum * scale) / Math.sqrt(n) : 0);
  return {
    version: data.version,
    stack: data.stack,
    logit(text: string, window = DEFAULT_WINDOW): number {
      if (text.length <= window) {
        const sums: number[] = [];
        const counts: number[] = [];
        sumFeatureWeights(text, bits, w, Infinity, sums, counts);
        return z(sums[0]!, counts[0]!);
      }
      // One pass; cumulative (sum, n) checkpoints every half window, windows = checkpoint k..k+2.
      const half = Math.max(1, Math.floor(window / 2));
      const sums: number[] = [0];
      const counts: number[] = [0];
      sumFeatureWeights(text, bits, w, half, sums, counts);
      let best = -Infinity;
      const last = sums.length - 1;
      for (let k = 0; k < last; k++) {
        const e = Math.min(k + 2, last);
        const v = z(sums[e]! - sums[k]!, counts[e]! - counts[k]!);
        if (v > best) best = v;
        if (e === last) break;
      }
      return best;
    },
  };
}
