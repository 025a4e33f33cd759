import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Chunk } from '../../src/domain/chat.js';
import { IDENTITY_TRANSFORM, transformStream, type ChunkTransform, type StreamHooks } from '../../src/protect/chunk-transform.js';

const text = (t: string): Chunk => ({ type: 'text', text: t });

/** A source that remembers whether it was closed early, and can fail after n chunks. */
function source(chunks: readonly Chunk[], failAfter?: number): { stream: AsyncIterable<Chunk>; closed: () => boolean; finished: () => boolean } {
  let closed = false;
  let finished = false;
  async function* gen(): AsyncGenerator<Chunk> {
    try {
      for (let i = 0; i < chunks.length; i++) {
        if (i === failAfter) throw new Error('upstream broke');
        yield chunks[i]!;
      }
      finished = true;
    } finally {
      if (!finished) closed = true;
    }
  }
  return { stream: gen(), closed: () => closed, finished: () => finished };
}

/** Doubles each text chunk, holds "x" chunks back until the end, and refuses "boom". */
function doubler(): ChunkTransform {
  const held: Chunk[] = [];
  return {
    push(chunk) {
      if (chunk.type !== 'text') return [chunk];
      if (chunk.text === 'boom') throw new Error('refused');
      if (chunk.text === 'x') {
        held.push(chunk);
        return [];
      }
      return [chunk, text(chunk.text.toUpperCase())];
    },
    flush: () => held.splice(0),
  };
}

/** The reference semantics: the async generator transformStream replaces. */
async function* reference(src: AsyncIterable<Chunk>, t: ChunkTransform): AsyncGenerator<Chunk> {
  for await (const c of src) yield* t.push(c);
  yield* t.flush();
}

async function collect(stream: AsyncIterable<Chunk>): Promise<{ out: string[]; error: string | undefined }> {
  const out: string[] = [];
  try {
    for await (const c of stream) out.push(c.type === 'text' ? c.text : c.type);
  } catch (err) {
    return { out, error: err instanceof Error ? err.message : String(err) };
  }
  return { out, error: undefined };
}

describe('transformStream', () => {
  it('matches the async-generator form: expansion, holding back, flush at the end', async () => {
    const input = [text('a'), text('x'), { type: 'finish', reason: 'stop' } as Chunk, text('b'), text('x')];
    const got = await collect(transformStream(source(input).stream, doubler()));
    const want = await collect(reference(source(input).stream, doubler()));
    assert.deepEqual(got, want);
    assert.deepEqual(got.out, ['a', 'A', 'finish', 'b', 'B', 'x', 'x']);
  });

  it('a transform that throws ends the stream with its error and closes the source', async () => {
    const src = source([text('a'), text('boom'), text('never')]);
    const got = await collect(transformStream(src.stream, doubler()));
    assert.deepEqual(got, { out: ['a', 'A'], error: 'refused' });
    assert.equal(src.closed(), true);
    const ref = source([text('a'), text('boom'), text('never')]);
    assert.deepEqual(await collect(reference(ref.stream, doubler())), got);
    assert.equal(ref.closed(), true);
  });

  it('a source that throws passes its error on', async () => {
    const got = await collect(transformStream(source([text('a'), text('b')], 1).stream, doubler()));
    assert.deepEqual(got, { out: ['a', 'A'], error: 'upstream broke' });
  });

  it('return() closes the source, and the stream stays ended', async () => {
    const src = source([text('a'), text('b'), text('c')]);
    const it = transformStream(src.stream, doubler())[Symbol.asyncIterator]();
    assert.deepEqual(await it.next(), { done: false, value: text('a') });
    assert.deepEqual(await it.return?.(), { done: true, value: undefined });
    assert.equal(src.closed(), true);
    assert.deepEqual(await it.next(), { done: true, value: undefined });
  });

  it('breaking out of for-await closes the source', async () => {
    const src = source([text('a'), text('b'), text('c')]);
    for await (const c of transformStream(src.stream, doubler())) if (c.type === 'text' && c.text === 'A') break;
    assert.equal(src.closed(), true);
    assert.equal(src.finished(), false);
  });

  it('an empty source still flushes', async () => {
    const held: ChunkTransform = { push: () => [], flush: () => [text('tail')] };
    assert.deepEqual(await collect(transformStream(source([]).stream, held)), { out: ['tail'], error: undefined });
  });
});

describe('transformStream hooks', () => {
  const recorder = (): { hooks: StreamHooks; log: string[] } => {
    const log: string[] = [];
    return {
      log,
      hooks: {
        seen: (c) => log.push(`seen:${c.type === 'text' ? c.text : c.type}`),
        end: () => log.push('end'),
        failed: () => log.push('failed'),
      },
    };
  };

  it('sees source chunks before the transform and ends once, before the flush', async () => {
    const { hooks, log } = recorder();
    const t = doubler();
    const flush = t.flush;
    t.flush = () => {
      log.push('flush');
      return flush();
    };
    await collect(transformStream(source([text('a'), text('x')]).stream, t, hooks));
    assert.deepEqual(log, ['seen:a', 'seen:x', 'end', 'flush']);
  });

  it('a failing source: end, then failed', async () => {
    const { hooks, log } = recorder();
    await collect(transformStream(source([text('a'), text('b')], 1).stream, IDENTITY_TRANSFORM, hooks));
    assert.deepEqual(log, ['seen:a', 'end', 'failed']);
  });

  it('a refusing transform ends the stream but is not a source failure', async () => {
    const { hooks, log } = recorder();
    const got = await collect(transformStream(source([text('boom')]).stream, doubler(), hooks));
    assert.equal(got.error, 'refused');
    assert.deepEqual(log, ['seen:boom', 'end']);
  });

  it('return() ends once, however often it is called', async () => {
    const { hooks, log } = recorder();
    const it = transformStream(source([text('a'), text('b')]).stream, IDENTITY_TRANSFORM, hooks)[Symbol.asyncIterator]();
    await it.next();
    await it.return?.();
    await it.return?.();
    assert.deepEqual(log, ['seen:a', 'end']);
  });
});
