/**
 * Deterministic fake embeddings: a unit vector seeded by a hash of the input,
 * so equal inputs give equal vectors and tests can assert on them. Values are
 * rounded to float32 so the float and base64 encodings decode identically.
 */
export function embed(input: string, dimensions: number): Float32Array {
  let seed = fnv1a(input);
  const out = new Float32Array(dimensions);
  let norm = 0;
  for (let i = 0; i < dimensions; i++) {
    // mulberry32: tiny, fast, and good enough to spread values over [-1, 1).
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    const value = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
    out[i] = value;
    norm += value * value;
  }
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 1;
  for (let i = 0; i < dimensions; i++) out[i] = (out[i] ?? 0) * scale;
  return out;
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** OpenAI's base64 format: little-endian float32 bytes. */
export function toBase64(vector: Float32Array): string {
  const view = new DataView(new ArrayBuffer(vector.length * 4));
  for (let i = 0; i < vector.length; i++) view.setFloat32(i * 4, vector[i] ?? 0, true);
  return Buffer.from(view.buffer).toString('base64');
}

export function toNumbers(vector: Float32Array): number[] {
  return Array.from(vector);
}
