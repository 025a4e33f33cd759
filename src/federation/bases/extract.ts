import { GatewayError } from '../../domain/errors.js';

/** Media types a Base ingests. */
export const MEDIA_TYPES = ['text/plain', 'text/markdown', 'application/pdf'] as const;
export type MediaType = (typeof MEDIA_TYPES)[number];

/** A stretch of the extracted text under one heading (a Markdown section, a PDF page). */
export interface Section {
  readonly heading: string | undefined;
  readonly start: number;
  readonly end: number;
}

export interface Extracted {
  readonly text: string;
  readonly sections: readonly Section[];
  /** PDFs only. */
  readonly pages?: number;
}

export interface ExtractLimits {
  readonly maxBytes: number;
  readonly maxPdfPages: number;
}

/** `text/markdown; charset=utf-8` → `text/markdown`; unknown types are refused. */
export function mediaTypeOf(value: string): MediaType {
  const base = value.split(';')[0]?.trim().toLowerCase() ?? '';
  const alias: Record<string, MediaType> = { 'text/x-markdown': 'text/markdown', 'text/md': 'text/markdown' };
  const type = alias[base] ?? base;
  if ((MEDIA_TYPES as readonly string[]).includes(type)) return type as MediaType;
  throw new GatewayError('invalid_document', `Unsupported media type; use one of ${MEDIA_TYPES.join(', ')}.`, { param: 'mediaType' });
}

/**
 * The text of a document, with section boundaries for the chunker. Errors name the
 * problem, never the content: a parser's own message can quote the document.
 */
export async function extractText(mediaType: MediaType, bytes: Uint8Array, limits: ExtractLimits): Promise<Extracted> {
  if (bytes.byteLength > limits.maxBytes) {
    throw new GatewayError('document_too_large', `The document is ${bytes.byteLength} bytes; the limit is ${limits.maxBytes}.`);
  }
  if (bytes.byteLength === 0) throw new GatewayError('invalid_document', 'The document is empty.');
  let out: Extracted;
  switch (mediaType) {
    case 'text/plain':
      out = plainText(decodeUtf8(bytes));
      break;
    case 'text/markdown':
      out = markdownText(decodeUtf8(bytes));
      break;
    case 'application/pdf':
      out = await pdfText(bytes, limits.maxPdfPages);
      break;
  }
  if (out.text.trim() === '') throw new GatewayError('invalid_document', 'The document has no text to index.');
  return out;
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new GatewayError('invalid_document', 'The document is not valid UTF-8 text.');
  }
}

function normaliseNewlines(text: string): string {
  return text.replace(/\r\n?/g, '\n').replace(/\u0000/g, '');
}

function plainText(raw: string): Extracted {
  const text = normaliseNewlines(raw);
  return { text, sections: [{ heading: undefined, start: 0, end: text.length }] };
}

/**
 * Markdown to plain text, one line at a time: headings open sections, and inline
 * markup (emphasis, links, images, code spans, HTML tags) is reduced to its text.
 * Fenced code is kept as text; tables keep their cells.
 */
export function markdownText(raw: string): Extracted {
  const lines = normaliseNewlines(raw).split('\n');
  const out: string[] = [];
  const sections: { heading: string | undefined; start: number }[] = [{ heading: undefined, start: 0 }];
  let length = 0;
  let fence: string | undefined;
  let frontMatter = lines[0]?.trim() === '---';
  lines.forEach((line, i) => {
    let kept: string | undefined;
    if (frontMatter) {
      if (i > 0 && (line.trim() === '---' || line.trim() === '...')) frontMatter = false;
      return;
    }
    const fenceMatch = /^\s{0,3}(```+|~~~+)/.exec(line);
    if (fence !== undefined) {
      if (fenceMatch !== null && fenceMatch[1]?.[0] === fence[0] && (fenceMatch[1]?.length ?? 0) >= fence.length) fence = undefined;
      else kept = line;
    } else if (fenceMatch !== null) {
      fence = fenceMatch[1];
    } else {
      const heading = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
      if (heading !== null) {
        const title = inline(heading[2] ?? '');
        sections.push({ heading: title, start: length });
        kept = title;
      } else if (/^\s{0,3}([-*_])(\s*\1){2,}\s*$/.test(line)) {
        kept = '';
      } else if (/^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/.test(line)) {
        return; // table delimiter row
      } else {
        let l = line.replace(/^\s{0,3}(>\s?)+/, '');
        l = l.replace(/^(\s*)([-*+]|\d{1,9}[.)])\s+(\[[ xX]\]\s+)?/, '$1');
        if (/^\s*\|.*\|\s*$/.test(l)) l = l.trim().replace(/^\||\|$/g, '').split('|').map((c) => c.trim()).join('  ');
        kept = inline(l);
      }
    }
    if (kept === undefined) return;
    out.push(kept);
    length += kept.length + 1;
  });
  const text = out.join('\n');
  // A section ends where the next begins; empty ones (a heading on the first line) drop out.
  const withEnds: Section[] = sections
    .map((s, i) => ({ heading: s.heading, start: Math.min(s.start, text.length), end: Math.min(sections[i + 1]?.start ?? text.length, text.length) }))
    .filter((s) => s.end > s.start);
  return { text, sections: withEnds.length > 0 ? withEnds : [{ heading: undefined, start: 0, end: text.length }] };
}

function inline(s: string): string {
  return s
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\[([^\]]+)\]\([^)]*\)/g, '$1')
    .replace(/\[([^\]]+)\]\[[^\]]*\]/g, '$1')
    .replace(/<\/?[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?\/?>/g, '')
    .replace(/`+([^`]+)`+/g, '$1')
    .replace(/(\*\*|__)(?=\S)(.+?)(?<=\S)\1/g, '$2')
    .replace(/(\*|_)(?=\S)(.+?)(?<=\S)\1/g, '$2')
    .replace(/~~(?=\S)(.+?)(?<=\S)~~/g, '$1')
    .replace(/\\([\\`*_{}[\]()#+\-.!|>~])/g, '$1');
}

async function pdfText(bytes: Uint8Array, maxPages: number): Promise<Extracted> {
  if (!isPdf(bytes)) throw new GatewayError('invalid_document', 'The document is not a PDF file.');
  const { PDFParse } = await import('pdf-parse');
  // pdf.js may transfer (detach) the buffer it is given; hand it a copy.
  const parser = new PDFParse({ data: new Uint8Array(bytes), verbosity: 0 });
  try {
    let total: number;
    try {
      total = (await parser.getInfo()).total;
    } catch (err) {
      throw new GatewayError('invalid_document', 'The PDF could not be read.', { cause: err });
    }
    if (total > maxPages) throw new GatewayError('document_too_large', `The PDF has ${total} pages; the limit is ${maxPages}.`);
    let pages: { num: number; text: string }[];
    try {
      pages = (await parser.getText({ pageJoiner: '' })).pages;
    } catch (err) {
      throw new GatewayError('invalid_document', 'The PDF text could not be extracted.', { cause: err });
    }
    const sections: Section[] = [];
    let text = '';
    for (const page of [...pages].sort((a, b) => a.num - b.num)) {
      const pageText = normaliseNewlines(page.text).trim();
      if (pageText === '') continue;
      if (text !== '') text += '\n\n';
      sections.push({ heading: `page ${page.num}`, start: text.length, end: text.length + pageText.length });
      text += pageText;
    }
    return { text, sections, pages: total };
  } finally {
    await parser.destroy().catch(() => undefined);
  }
}

function isPdf(bytes: Uint8Array): boolean {
  // The header may follow up to 1024 bytes of junk, as readers allow.
  const head = Buffer.from(bytes.subarray(0, 1024)).toString('latin1');
  return head.includes('%PDF-');
}
