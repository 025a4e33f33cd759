import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Chunk } from '../../src/domain/chat.js';
import { OpenAiStreamMapper } from '../../src/providers/openai/response.js';
import { StringSlot, stringLiteral } from '../../src/providers/string-slot.js';

const MARKER = '"delta":{"content":';
const HEAD = '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":5,"model":"up","choices":[{"index":0,"delta":{"content":';
const TAIL = '},"logprobs":null,"finish_reason":null}]}';
const delta = (content: string, id = 'chatcmpl-1'): string =>
  JSON.stringify({ id, object: 'chat.completion.chunk', created: 5, model: 'up', choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: null }] });

function learned(): StringSlot {
  const slot = new StringSlot();
  assert.equal(slot.learn(delta('hello'), MARKER, 'hello'), true);
  return slot;
}

/** What JSON.parse finds in the slot, or undefined when the document does not parse. */
function parsedContent(data: string): unknown {
  try {
    const json = JSON.parse(data) as { choices: Array<{ delta: { content: unknown } }> };
    return json.choices[0]?.delta.content;
  } catch {
    return undefined;
  }
}

describe('StringSlot', () => {
  it('reads any string put in the slot by a serialiser', () => {
    const slot = learned();
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        assert.equal(slot.read(delta(s)), s);
      }),
      { numRuns: 500 },
    );
  });

  it('never reads anything JSON.parse would not: arbitrary raw text between the fixed parts', () => {
    const slot = learned();
    const raw = fc.string({ unit: fc.constantFrom('"', '\\', 'a', 'é', '\n', '\u0001', 'u', '0', '}', ',', ' ', '\ud800') , maxLength: 12 });
    fc.assert(
      fc.property(raw, (middle) => {
        const data = HEAD + middle + TAIL;
        const got = slot.read(data);
        if (got !== undefined) assert.equal(got, parsedContent(data));
      }),
      { numRuns: 3000 },
    );
  });

  it('handles escapes, and refuses broken literals', () => {
    const slot = learned();
    assert.equal(slot.read(`${HEAD}"a\\"b"${TAIL}`), 'a"b');
    assert.equal(slot.read(`${HEAD}"\\u00e9\\n"${TAIL}`), 'é\n');
    assert.equal(slot.read(`${HEAD}"ends in a backslash\\\\"${TAIL}`), 'ends in a backslash\\');
    assert.equal(slot.read(`${HEAD}"escaped close\\"${TAIL}`), undefined);
    assert.equal(slot.read(`${HEAD}"two" "strings"${TAIL}`), undefined);
    assert.equal(slot.read(`${HEAD}"bad \\x escape"${TAIL}`), undefined);
    assert.equal(slot.read(`${HEAD}"raw\ncontrol"${TAIL}`), undefined);
    assert.equal(slot.read(`${HEAD}42${TAIL}`), undefined);
    assert.equal(slot.read(`${HEAD}""${TAIL}`), '');
  });

  it('misses on any other shape, so the caller parses in full', () => {
    const slot = learned();
    assert.equal(slot.read(delta('x', 'chatcmpl-2')), undefined);
    assert.equal(slot.read(delta('x').replace('"finish_reason":null', '"finish_reason":"stop"')), undefined);
    assert.equal(slot.read(`${delta('x')} `), undefined);
    assert.equal(slot.read('[DONE]'), undefined);
  });

  it('learns only where the marker occurs once', () => {
    const twice = `{"a":{"delta":{"content":"x"}},"choices":[{"delta":{"content":"x"}}]}`;
    assert.equal(new StringSlot().learn(twice, MARKER, 'x'), false);
    assert.equal(new StringSlot().learn(delta('x'), MARKER, 'y'), false);
  });

  it('stringLiteral bounds', () => {
    assert.equal(stringLiteral('"abc"', 0, 5), 'abc');
    assert.equal(stringLiteral('"', 0, 1), undefined);
    assert.equal(stringLiteral('x"abc"', 1, 6), 'abc');
  });
});

/** Feeds events through a mapper the way the stream pump does; an error ends the run. */
function run(events: readonly string[]): { chunks: Chunk[]; error: string | undefined } {
  const mapper = new OpenAiStreamMapper('up');
  const chunks: Chunk[] = [];
  try {
    for (const e of events) if (mapper.onEvent(undefined, e, chunks)) return { chunks, error: undefined };
    mapper.onEnd(chunks);
  } catch (err) {
    return { chunks, error: err instanceof Error ? err.message : String(err) };
  }
  return { chunks, error: undefined };
}

describe('OpenAI stream mapping with the text-delta fast path', () => {
  // A trailing space changes nothing for JSON.parse but is not canonical, so the mapper
  // never learns a slot from such events: that run is the full-parse reference.
  const reference = (events: readonly string[]): ReturnType<typeof run> => run(events.map((e) => (e === '[DONE]' ? e : `${e} `)));

  const event = fc.oneof(
    { weight: 8, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }).map((s) => delta(s)) },
    { weight: 1, arbitrary: fc.string({ maxLength: 4 }).map((s) => delta(s, 'chatcmpl-other')) },
    { weight: 1, arbitrary: fc.constant(delta('x').replace('"finish_reason":null', '"finish_reason":"stop"')) },
    { weight: 1, arbitrary: fc.constant('{"id":"chatcmpl-1","object":"chat.completion.chunk","created":5,"model":"up","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}') },
    {
      weight: 1,
      arbitrary: fc.constant(
        JSON.stringify({ id: 'chatcmpl-1', created: 5, model: 'up', choices: [{ index: 0, delta: { content: 'a', tool_calls: [{ index: 0, id: 'c', function: { name: 'f', arguments: '{}' } }] }, finish_reason: null }] }),
      ),
    },
    { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom('"', '\\', 'a', 'n', '}'), maxLength: 6 }).map((m) => HEAD + m + TAIL) },
    { weight: 1, arbitrary: fc.constant('{"error":{"message":"overloaded"}}') },
    { weight: 1, arbitrary: fc.constant('[DONE]') },
  );

  it('produces exactly the chunks (and errors) of full parsing, for any mix of events', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 30 }), (events) => {
        assert.deepEqual(run(events), reference(events));
      }),
      { numRuns: 1000 },
    );
  });

  it('takes the fast path on a typical stream and still maps it whole', () => {
    const words = 'You said: the quarterly review is done'.split(/(?<= )/);
    const events = [
      JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 5, model: 'up', choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }),
      ...words.map((w) => delta(w)),
      delta('').replace('{"content":""}', '{}').replace('"finish_reason":null', '"finish_reason":"stop"'),
      '[DONE]',
    ];
    const got = run(events);
    assert.deepEqual(got, reference(events));
    assert.deepEqual(
      got.chunks.filter((c) => c.type === 'text').map((c) => (c.type === 'text' ? c.text : '')),
      words,
    );
    assert.deepEqual(got.chunks.at(-1), { type: 'finish', reason: 'stop' });
  });
});
