import type { Section } from './extract.js';

export interface ChunkOptions {
  readonly maxChars: number;
  /** Characters repeated at the start of the next chunk; under half of maxChars. */
  readonly overlapChars: number;
}

export interface Chunk {
  readonly index: number;
  readonly text: string;
  /** Offsets into the document text: text === document.slice(start, end). */
  readonly start: number;
  readonly end: number;
  readonly heading: string | undefined;
}

/**
 * Splits a document into overlapping chunks of at most maxChars, heading-aware:
 * a chunk never spans two sections, except that consecutive small sections are
 * packed together (keeping the first one's heading). Cuts prefer a paragraph
 * break, then a line break, then a sentence end, then a space. The same text and
 * options always give the same chunks, so chunk indexes are stable.
 */
export function chunkDocument(text: string, sections: readonly Section[], options: ChunkOptions): Chunk[] {
  const max = Math.max(1, options.maxChars);
  const overlap = Math.max(0, Math.min(options.overlapChars, Math.floor(max / 2) - 1));
  const ranges = packSections(sections.length > 0 ? sections : [{ heading: undefined, start: 0, end: text.length }], max);
  const chunks: Chunk[] = [];
  for (const range of ranges) {
    let pos = skipSpace(text, range.start, range.end);
    while (pos < range.end) {
      const cut = range.end - pos <= max ? range.end : breakPoint(text, pos, pos + max);
      const [s, e] = trimRange(text, pos, cut);
      if (e > s) chunks.push({ index: chunks.length, text: text.slice(s, e), start: s, end: e, heading: range.heading });
      if (cut >= range.end) break;
      let next = Math.max(cut - overlap, pos + 1);
      // Start the overlap on a word, not in the middle of one.
      while (next < cut && !/\s/.test(text[next - 1] ?? ' ')) next++;
      pos = skipSpace(text, next, range.end);
    }
  }
  return chunks;
}

function packSections(sections: readonly Section[], max: number): Section[] {
  const out: Section[] = [];
  for (const s of sections) {
    const last = out[out.length - 1];
    if (last !== undefined && last.end === s.start && s.end - last.start <= max) out[out.length - 1] = { heading: last.heading ?? s.heading, start: last.start, end: s.end };
    else out.push(s);
  }
  return out;
}

/** The best place to end a chunk that starts at `from` and may not pass `limit`; never before the middle. */
function breakPoint(text: string, from: number, limit: number): number {
  const floor = from + Math.floor((limit - from) / 2);
  const window = text.slice(floor, limit);
  const at = (i: number): number => floor + i;
  const para = window.lastIndexOf('\n\n');
  if (para >= 0) return at(para + 2);
  const line = window.lastIndexOf('\n');
  if (line >= 0) return at(line + 1);
  const sentence = /[.!?。]["')\]]?\s(?![\s\S]*[.!?。]["')\]]?\s)/.exec(window);
  if (sentence !== null) return at(sentence.index + sentence[0].length);
  const space = window.search(/\s(?=\S*$)/);
  if (space >= 0) return at(space + 1);
  return limit;
}

function skipSpace(text: string, from: number, end: number): number {
  let i = from;
  while (i < end && /\s/.test(text[i] ?? '')) i++;
  return i;
}

function trimRange(text: string, start: number, end: number): [number, number] {
  let s = start;
  let e = end;
  while (s < e && /\s/.test(text[s] ?? '')) s++;
  while (e > s && /\s/.test(text[e - 1] ?? '')) e--;
  return [s, e];
}
