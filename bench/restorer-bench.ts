/**
 * What the stream restorer adds to a streamed answer: `tsc -b && node dist/bench/restorer-bench.js`.
 *
 * - CPU µs per chunk, restorer vs a plain pass-through loop, for word-sized chunks (what
 *   providers send) and one character per chunk (the worst case).
 * - Hold-back: how many characters (and chunks) are held at each point, and how long the
 *   first character waits. A held chunk waits for the next one, so hold-back latency is
 *   (chunks held) × (inter-chunk gap); at 50 tokens/s a chunk gap is 20 ms.
 * - The output scanner (mask, window 128) on the same stream, for comparison.
 * Single thread; figures are per core.
 */
import { performance } from 'node:perf_hooks';
import { createClassifier } from '../src/classify/index.js';
import type { Chunk } from '../src/domain/chat.js';
import { protectSchema } from '../src/protect/config.js';
import { OutputScanner } from '../src/protect/output-scan.js';
import { StreamRestorer, restoreTable } from '../src/protect/restore.js';
import { MemoryVault } from '../src/protect/vault/memory-vault.js';
import { request, userMessage } from '../test/protect/support.js';

const WORDS = 'The customer asked us to update the billing address and confirm the change by email before Friday so that the next invoice goes out correctly'.split(' ');

async function main(): Promise<void> {
  const session = await new MemoryVault({ ttlMs: 60_000 }).open({ requestId: 'bench' });
  session.avoid([]);
  const placeholders: string[] = [];
  for (let i = 0; i < 20; i++) placeholders.push(session.placeholderFor(i % 2 === 0 ? 'PERSON' : 'EMAIL_ADDRESS', `value-${i}`));
  // ~4 KB of answer, one placeholder every ~12 words, '<' used in prose too.
  let text = '';
  for (let i = 0; text.length < 4_000; i++) {
    text += (i % 12 === 5 ? placeholders[i % placeholders.length]! : WORDS[i % WORDS.length]!) + (i % 17 === 3 ? ' < ' : ' ');
  }
  const words = text.split(/(?<= )/);
  const chars = text.split('');
  // Model tokens are ~4 characters and cut placeholders into pieces (`<PER`, `SON_`, `1> `).
  const tokens = text.match(/[\s\S]{1,4}/g) ?? [];
  const table = restoreTable(session);

  for (const [label, pieces] of [['word chunks', words], ['4-char chunks', tokens], ['1-char chunks', chars]] as const) {
    const chunks: Chunk[] = pieces.map((t) => ({ type: 'text', text: t }));
    const base = time(() => {
      let n = 0;
      for (const c of chunks) if (c.type === 'text') n += c.text.length;
      return n;
    });
    let held = 0;
    let maxHeld = 0;
    let heldChunks = 0;
    let firstReleasedAt = -1;
    const cost = time(() => {
      const r = new StreamRestorer(table);
      let inLen = 0;
      let outLen = 0;
      held = 0;
      maxHeld = 0;
      heldChunks = 0;
      firstReleasedAt = -1;
      chunks.forEach((c, i) => {
        const out = r.push(c);
        inLen += c.type === 'text' ? c.text.length : 0;
        for (const o of out) if (o.type === 'text') outLen += o.text.length;
        if (firstReleasedAt < 0 && outLen > 0) firstReleasedAt = i;
        // Placeholders shrink or grow on restore, so measure the hold as pending input.
        const pending = r.heldChars;
        held += pending;
        maxHeld = Math.max(maxHeld, pending);
        if (pending > 0) heldChunks++;
      });
      r.flush();
      return inLen;
    });
    const perChunk = (cost - base) / chunks.length;
    console.log(
      `${label.padEnd(14)} chunks=${chunks.length} restorer=${(cost / chunks.length).toFixed(3)} µs/chunk ` +
        `(added ${perChunk.toFixed(3)} µs over pass-through); held: mean ${(held / chunks.length).toFixed(2)} chars, ` +
        `max ${maxHeld} chars, ${((100 * heldChunks) / chunks.length).toFixed(1)}% of chunks hold something; first text released at chunk ${firstReleasedAt}`,
    );
  }

  const scanner = new OutputScanner(createClassifier(), protectSchema.parse({ output: { action: 'mask' } }).output);
  const scan = scanner.forRequest(request([userMessage('hello')]));
  const chunks: Chunk[] = words.map((t) => ({ type: 'text', text: t }));
  const cost = time(() => {
    const s = scan.stream();
    let n = 0;
    for (const c of chunks) n += s.push(c).length;
    return n + s.flush().length;
  }, 5);
  console.log(`output scan    word chunks: ${(cost / chunks.length).toFixed(1)} µs/chunk (mask, window 128 chars ≈ 32 tokens held at stream start)`);
}

/** Median µs of `runs` runs of fn (after a warm-up). */
function time(fn: () => number, runs = 30): number {
  let sink = 0;
  for (let i = 0; i < 3; i++) sink += fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    sink += fn();
    samples.push((performance.now() - t0) * 1_000);
  }
  if (sink === -1) console.log('');
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

void main();
