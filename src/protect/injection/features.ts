/**
 * Hashed n-gram features for the linear model, shared by the trainer
 * (scripts/train-injection.ts) and the runtime so the two can't drift.
 *
 * Features on normalised text: word unigrams, word bigrams and character 4-grams
 * (which carry German compounds, inflections and leftover obfuscation). Each is hashed
 * into 2^bits buckets with FNV-1a; the three kinds get different seeds so a word and a
 * 4-gram with the same letters don't share a bucket. Counts are not deduplicated and the
 * dot product is divided by sqrt(#features), so long texts don't win on length alone.
 */

export const FEATURE_BITS = 16;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const SEED_WORD = 0x9e3779b1;
const SEED_BIGRAM = 0x85ebca77;
const SEED_CHAR = 0xc2b2ae3d;

function isWordChar(c: number): boolean {
  // a-z, 0-9, and every non-ASCII letter (German umlauts, ß, accents) after NFKC.
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 95 || c >= 0xc0;
}

/** Hash of a word bigram from the two words' hashes; shared by both feature walkers (small enough to be inlined). */
function bigram(prevWord: number, h: number): number {
  const b = Math.imul((prevWord ^ SEED_BIGRAM) >>> 0, FNV_PRIME) ^ h;
  return Math.imul(b ^ (b >>> 15), 0x2c1b3c6d);
}

/** Hash of one character 4-gram. */
function gram4(c0: number, c1: number, c2: number, c3: number): number {
  let g = Math.imul((FNV_OFFSET ^ SEED_CHAR) ^ c0, FNV_PRIME);
  g = Math.imul(g ^ c1, FNV_PRIME);
  g = Math.imul(g ^ c2, FNV_PRIME);
  return Math.imul(g ^ c3, FNV_PRIME);
}

/**
 * Calls `emit(bucket, wordEnd)` for every feature of `text` (already normalised) and returns how
 * many were emitted. A callback instead of an array keeps the hot path allocation-free.
 */
export function forEachFeature(text: string, bits: number, emit: (bucket: number, wordEnd: number) => void): number {
  const mask = (1 << bits) - 1;
  let count = 0;
  let prevWord = 0;
  let havePrev = false;
  const n = text.length;
  let i = 0;
  while (i < n) {
    // Skip separators; punctuation that matters to injections (: < > # |) is handled by the rules.
    while (i < n && !isWordChar(text.charCodeAt(i))) i++;
    if (i >= n) break;
    const start = i;
    let h = (FNV_OFFSET ^ SEED_WORD) >>> 0;
    while (i < n && isWordChar(text.charCodeAt(i))) {
      h = Math.imul(h ^ text.charCodeAt(i), FNV_PRIME);
      i++;
    }
    emit((h >>> 0) & mask, i);
    count++;
    if (havePrev) {
      emit((bigram(prevWord, h) >>> 0) & mask, i);
      count++;
    }
    prevWord = h;
    havePrev = true;
    // Character 4-grams of " word " (with boundary markers), so prefixes and suffixes
    // count. Rolling codes: each character is read once, not four times.
    if (i - start >= 2) {
      let c0 = 32;
      let c1 = text.charCodeAt(start);
      let c2 = text.charCodeAt(start + 1);
      for (let k = start + 2; k <= i; k++) {
        const c3 = k < i ? text.charCodeAt(k) : 32;
        emit((gram4(c0, c1, c2, c3) >>> 0) & mask, i);
        count++;
        c0 = c1;
        c1 = c2;
        c2 = c3;
      }
    }
  }
  return count;
}

/**
 * The model's hot path: the same features as forEachFeature, summed straight into
 * `weights` lookups instead of a callback per feature (the callback kept sum and count in
 * a closure context, ~2x slower). Every `checkEvery` characters of word end it appends
 * the running (sum, count) to `sums`/`counts`, like the windowed logit needs; pass
 * Infinity for one total. Sums are of int8 weights, so they are exact whatever the order.
 * Must stay feature-for-feature identical to forEachFeature (a test checks it).
 */
export function sumFeatureWeights(
  text: string, bits: number, weights: Int8Array, checkEvery: number, sums: number[], counts: number[],
): void {
  const mask = (1 << bits) - 1;
  let sum = 0;
  let count = 0;
  let next = checkEvery;
  let prevWord = 0;
  let havePrev = false;
  const n = text.length;
  let i = 0;
  while (i < n) {
    let c = text.charCodeAt(i);
    while (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 95 || c >= 0xc0)) {
      if (++i >= n) break;
      c = text.charCodeAt(i);
    }
    if (i >= n) break;
    const start = i;
    let h = (FNV_OFFSET ^ SEED_WORD) >>> 0;
    do {
      h = Math.imul(h ^ c, FNV_PRIME);
      if (++i >= n) break;
      c = text.charCodeAt(i);
    } while ((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 95 || c >= 0xc0);
    // Every feature of this word reports end i: checkpoint before adding any of them.
    while (i > next) {
      sums.push(sum);
      counts.push(count);
      next += checkEvery;
    }
    sum += weights[(h >>> 0) & mask]!;
    count++;
    if (havePrev) {
      sum += weights[(bigram(prevWord, h) >>> 0) & mask]!;
      count++;
    }
    prevWord = h;
    havePrev = true;
    if (i - start >= 2) {
      let c0 = 32;
      let c1 = text.charCodeAt(start);
      let c2 = text.charCodeAt(start + 1);
      for (let k = start + 2; k <= i; k++) {
        const c3 = k < i ? text.charCodeAt(k) : 32;
        sum += weights[(gram4(c0, c1, c2, c3) >>> 0) & mask]!;
        count++;
        c0 = c1;
        c1 = c2;
        c2 = c3;
      }
    }
  }
  sums.push(sum);
  counts.push(count);
}
