import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { chunkDocument } from '../../../src/federation/bases/chunk.js';
import { extractText, markdownText, mediaTypeOf } from '../../../src/federation/bases/extract.js';
import { GatewayError } from '../../../src/domain/errors.js';

const LIMITS = { maxBytes: 1_000_000, maxPdfPages: 10 };

/** A real PDF with one text line per page, written by pdf-lib. */
async function makePdf(pages: readonly string[]): Promise<Uint8Array> {
  const pdf = await PDFDocument.create();
  const font = await pdf.embedFont(StandardFonts.Helvetica);
  for (const line of pages) {
    const page = pdf.addPage([600, 400]);
    page.drawText(line, { x: 40, y: 340, size: 12, font });
  }
  return pdf.save();
}

function code(err: unknown): string | undefined {
  return err instanceof GatewayError ? err.code : undefined;
}

describe('extract', () => {
  it('text/plain: UTF-8 with newlines normalised, one section', async () => {
    const out = await extractText('text/plain', new TextEncoder().encode('line one\r\nline two ünïcode\r\n'), LIMITS);
    assert.equal(out.text, 'line one\nline two ünïcode\n');
    assert.deepEqual(out.sections, [{ heading: undefined, start: 0, end: out.text.length }]);
  });

  it('text/markdown: markup stripped, headings become sections', () => {
    const md = [
      '---',
      'title: front matter is dropped',
      '---',
      '# Travel **policy**',
      '',
      'Book via [the portal](https://travel.example/portal) and keep `receipts`.',
      '![logo](logo.png)',
      '',
      '## Flights',
      '- Economy under *six* hours',
      '1. Business over ~~six~~ eight hours',
      '> quoted <b>bold</b> text',
      '',
      '| Class | Hours |',
      '|-------|------:|',
      '| Economy | 6 |',
      '```',
      '# not a heading, code',
      '```',
    ].join('\n');
    const out = markdownText(md);
    assert.equal(
      out.text,
      [
        'Travel policy',
        '',
        'Book via the portal and keep receipts.',
        'logo',
        '',
        'Flights',
        'Economy under six hours',
        'Business over six eight hours',
        'quoted bold text',
        '',
        'Class  Hours',
        'Economy  6',
        '# not a heading, code',
      ].join('\n'),
    );
    assert.deepEqual(
      out.sections.map((s) => [s.heading, out.text.slice(s.start, s.end).split('\n')[0]]),
      [
        ['Travel policy', 'Travel policy'],
        ['Flights', 'Flights'],
      ],
    );
    assert.equal(out.sections[1]?.end, out.text.length);
  });

  it('application/pdf: text per page via pdf-parse, pages as sections', async () => {
    const bytes = await makePdf(['Quarterly report for the northern region.', 'Second page about warehouse capacity.']);
    const out = await extractText('application/pdf', bytes, LIMITS);
    assert.equal(out.pages, 2);
    assert.match(out.text, /Quarterly report for the northern region\./);
    assert.match(out.text, /Second page about warehouse capacity\./);
    assert.deepEqual(out.sections.map((s) => s.heading), ['page 1', 'page 2']);
    assert.match(out.text.slice(out.sections[1]!.start, out.sections[1]!.end), /^Second page/);
    assert.ok(bytes.byteLength > 0, 'the caller’s buffer is still usable');
  });

  it('limits and bad input are typed errors', async () => {
    await assert.rejects(extractText('text/plain', new Uint8Array(2000).fill(65), { ...LIMITS, maxBytes: 1000 }), (e) => code(e) === 'document_too_large');
    const many = await makePdf(['1', '2', '3']);
    await assert.rejects(extractText('application/pdf', many, { ...LIMITS, maxPdfPages: 2 }), (e) => code(e) === 'document_too_large');
    await assert.rejects(extractText('application/pdf', new TextEncoder().encode('not a pdf at all'), LIMITS), (e) => code(e) === 'invalid_document');
    await assert.rejects(extractText('application/pdf', new TextEncoder().encode('%PDF-1.7\n garbage garbage'), LIMITS), (e) => code(e) === 'invalid_document');
    await assert.rejects(extractText('text/plain', new Uint8Array([0xff, 0xfe, 0xfd]), LIMITS), (e) => code(e) === 'invalid_document');
    await assert.rejects(extractText('text/plain', new TextEncoder().encode('   \n  '), LIMITS), (e) => code(e) === 'invalid_document');
    await assert.rejects(extractText('text/plain', new Uint8Array(), LIMITS), (e) => code(e) === 'invalid_document');
    assert.throws(() => mediaTypeOf('application/msword'), (e) => code(e) === 'invalid_document');
    assert.equal(mediaTypeOf('text/markdown; charset=utf-8'), 'text/markdown');
    assert.equal(mediaTypeOf('TEXT/PLAIN'), 'text/plain');
  });
});

describe('chunker', () => {
  const words = (n: number, prefix = 'w'): string => Array.from({ length: n }, (_v, i) => `${prefix}${i}`).join(' ');

  it('bounded, overlapping chunks whose offsets point into the text', () => {
    const text = `${words(400)}.`;
    const chunks = chunkDocument(text, [], { maxChars: 300, overlapChars: 50 });
    assert.ok(chunks.length > 5);
    chunks.forEach((c, i) => {
      assert.equal(c.index, i);
      assert.ok(c.text.length <= 300, `chunk ${i} is ${c.text.length} chars`);
      assert.equal(text.slice(c.start, c.end), c.text);
      assert.match(c.text, /^w\d+ /, 'starts on a whole word');
    });
    for (let i = 1; i < chunks.length; i++) {
      const prev = chunks[i - 1]!;
      const cur = chunks[i]!;
      assert.ok(cur.start < prev.end, `chunk ${i} overlaps the previous one`);
      assert.ok(prev.end - cur.start <= 60, 'overlap stays near overlapChars');
      assert.ok(cur.start > prev.start, 'always moves forward');
    }
    assert.equal(chunks[chunks.length - 1]?.end, text.length, 'the whole text is covered');
  });

  it('stable: the same text and options give the same chunks', () => {
    const text = `${words(300)}\n\n${words(300, 'x')}`;
    assert.deepEqual(chunkDocument(text, [], { maxChars: 500, overlapChars: 80 }), chunkDocument(text, [], { maxChars: 500, overlapChars: 80 }));
  });

  it('prefers paragraph breaks and never spans two large sections; small sections are packed', () => {
    const md = markdownText(`# One\n\n${words(60, 'a')}\n\n${words(60, 'b')}\n\n# Two\n\n${words(30, 'c')}\n\n# Three\n\nshort\n`);
    const chunks = chunkDocument(md.text, md.sections, { maxChars: 400, overlapChars: 40 });
    assert.equal(chunks[0]?.heading, 'One');
    assert.match(chunks[0]?.text ?? '', /a59$/, 'the first chunk ends at the paragraph break');
    const two = chunks.filter((c) => c.text.includes('c0'));
    assert.equal(two.length, 1);
    assert.equal(two[0]?.heading, 'Two');
    assert.ok(two[0]?.text.includes('short'), 'the small "Three" section is packed with "Two"');
    assert.ok(!chunks.some((c) => c.text.includes('b59') && c.text.includes('c0')), 'no chunk spans One and Two');
  });

  it('a text shorter than maxChars is one chunk; a long word is cut hard', () => {
    assert.equal(chunkDocument('tiny text', [], { maxChars: 300, overlapChars: 50 }).length, 1);
    const long = 'x'.repeat(1000);
    const chunks = chunkDocument(long, [], { maxChars: 300, overlapChars: 50 });
    assert.ok(chunks.every((c) => c.text.length <= 300));
    assert.equal(chunks[chunks.length - 1]?.end, 1000);
  });
});
