import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Chunk } from '../../src/domain/chat.js';
import { GatewayError } from '../../src/domain/errors.js';
import { AnthropicStreamMapper } from '../../src/providers/anthropic/response.js';
import { OpenAiStreamMapper, fromOpenAiChat, fromOpenAiEmbeddings } from '../../src/providers/openai/response.js';
import type { StreamMapper } from '../../src/providers/sse-stream.js';

/** Feeds events through a mapper the way the stream pump does. */
function run(mapper: StreamMapper, events: Array<[string | undefined, unknown]>): Chunk[] {
  const out: Chunk[] = [];
  for (const [event, data] of events) {
    if (mapper.onEvent(event, typeof data === 'string' ? data : JSON.stringify(data), out)) return out;
  }
  mapper.onEnd(out);
  return out;
}

function openAiChunk(delta: unknown, finish: string | null = null, extra: Record<string, unknown> = {}): [undefined, unknown] {
  return [undefined, { id: 'c', created: 5, model: 'up', choices: [{ index: 0, delta, finish_reason: finish }], ...extra }];
}

describe('OpenAI stream mapping', () => {
  it('handles tool calls whose id, name and arguments come in one delta, and parallel calls', () => {
    const chunks = run(new OpenAiStreamMapper('up'), [
      openAiChunk({ role: 'assistant', tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'f', arguments: '{"x":' } }] }),
      openAiChunk({ tool_calls: [{ index: 0, function: { arguments: '1}' } }] }),
      openAiChunk({ tool_calls: [{ index: 1, id: 'call_b', function: { name: 'g', arguments: '' } }] }),
      openAiChunk({ tool_calls: [{ index: 1, function: { arguments: '{}' } }] }),
      openAiChunk({}, 'tool_calls', { usage: { prompt_tokens: 9, completion_tokens: 4 } }),
      [undefined, '[DONE]'],
    ]);
    assert.deepEqual(chunks, [
      { type: 'start', id: 'c', model: 'up', created: 5 },
      { type: 'tool_call_start', index: 0, id: 'call_a', name: 'f' },
      { type: 'tool_call_delta', index: 0, arguments: '{"x":' },
      { type: 'tool_call_delta', index: 0, arguments: '1}' },
      { type: 'tool_call_start', index: 1, id: 'call_b', name: 'g' },
      { type: 'tool_call_delta', index: 1, arguments: '{}' },
      { type: 'finish', reason: 'tool_calls' },
      { type: 'usage', usage: { inputTokens: 9, outputTokens: 4 } },
    ]);
  });

  it('ignores choices other than 0 and keeps usage for after finish', () => {
    const chunks = run(new OpenAiStreamMapper('up'), [
      [undefined, { id: 'c', created: 1, model: 'up', choices: [{ index: 1, delta: { content: 'other' } }, { index: 0, delta: { content: 'mine' } }] }],
      openAiChunk({}, 'length'),
      [undefined, { id: 'c', choices: [], usage: { prompt_tokens: 1, completion_tokens: 2 } }],
      [undefined, '[DONE]'],
    ]);
    assert.deepEqual(chunks.slice(1), [
      { type: 'text', text: 'mine' },
      { type: 'finish', reason: 'length' },
      { type: 'usage', usage: { inputTokens: 1, outputTokens: 2 } },
    ]);
  });

  it('treats unparseable data as upstream_error', () => {
    assert.throws(() => run(new OpenAiStreamMapper('up'), [[undefined, '{not json']]), (err: unknown) => err instanceof GatewayError && err.code === 'upstream_error');
  });

  it('maps a non-streamed answer, keeping tool call arguments as text', () => {
    const response = fromOpenAiChat(
      {
        id: 'x',
        model: 'up',
        created: 3,
        choices: [{ message: { content: null, tool_calls: [{ id: 't', function: { name: 'f', arguments: { a: 1 } } }] }, finish_reason: 'tool_calls' }],
      },
      'up',
    );
    assert.deepEqual(response.toolCalls, [{ id: 't', name: 'f', arguments: '{"a":1}' }]);
    assert.equal(response.usage, undefined);
  });

  it('places embeddings by index and refuses a count mismatch', () => {
    const response = fromOpenAiEmbeddings(
      { data: [{ index: 1, embedding: [2] }, { index: 0, embedding: [1] }], model: 'e', usage: { prompt_tokens: 2 } },
      'e',
      2,
    );
    assert.deepEqual(response.vectors, [[1], [2]]);
    assert.throws(() => fromOpenAiEmbeddings({ data: [{ index: 0, embedding: [1] }] }, 'e', 2), GatewayError);
  });
});

describe('Anthropic stream mapping', () => {
  const start: [string, unknown] = [
    'message_start',
    { type: 'message_start', message: { id: 'msg', model: 'claude', usage: { input_tokens: 10, cache_read_input_tokens: 5, output_tokens: 1 } } },
  ];
  const stop = (reason: string): Array<[string, unknown]> => [
    ['message_delta', { type: 'message_delta', delta: { stop_reason: reason }, usage: { output_tokens: 7 } }],
    ['message_stop', { type: 'message_stop' }],
  ];

  it('numbers tool calls across text and thinking blocks and gives argument-less calls {}', () => {
    const mapper = new AnthropicStreamMapper('claude');
    const chunks = run(mapper, [
      start,
      ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '' } }],
      ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'hmm' } }],
      ['content_block_start', { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } }],
      ['content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'Let me check.' } }],
      ['content_block_start', { type: 'content_block_start', index: 2, content_block: { type: 'tool_use', id: 'tu_1', name: 'now', input: {} } }],
      ['content_block_stop', { type: 'content_block_stop', index: 2 }],
      ['content_block_start', { type: 'content_block_start', index: 3, content_block: { type: 'tool_use', id: 'tu_2', name: 'f', input: {} } }],
      ['content_block_delta', { type: 'content_block_delta', index: 3, delta: { type: 'input_json_delta', partial_json: '{"a":1}' } }],
      ['content_block_stop', { type: 'content_block_stop', index: 3 }],
      ['ping', { type: 'ping' }],
      ...stop('tool_use'),
    ]);
    assert.deepEqual(chunks, [
      { type: 'start', id: 'msg', model: 'claude', created: (chunks[0] as { created: number }).created },
      { type: 'text', text: 'Let me check.' },
      { type: 'tool_call_start', index: 0, id: 'tu_1', name: 'now' },
      { type: 'tool_call_delta', index: 0, arguments: '{}' },
      { type: 'tool_call_start', index: 1, id: 'tu_2', name: 'f' },
      { type: 'tool_call_delta', index: 1, arguments: '{"a":1}' },
      { type: 'finish', reason: 'tool_calls' },
      // Cached prompt tokens count as input, as OpenAI's prompt_tokens do.
      { type: 'usage', usage: { inputTokens: 15, outputTokens: 7 } },
    ]);
  });

  it('maps stop reasons', () => {
    const reasonOf = (r: string): unknown => run(new AnthropicStreamMapper('c'), [start, ...stop(r)]).find((c) => c.type === 'finish');
    assert.deepEqual(reasonOf('max_tokens'), { type: 'finish', reason: 'length' });
    assert.deepEqual(reasonOf('stop_sequence'), { type: 'finish', reason: 'stop' });
    assert.deepEqual(reasonOf('end_turn'), { type: 'finish', reason: 'stop' });
  });

  it('a stream cut before message_delta is upstream_error', () => {
    assert.throws(
      () => run(new AnthropicStreamMapper('c'), [start]),
      (err: unknown) => err instanceof GatewayError && err.code === 'upstream_error' && err.retryable,
    );
  });
});
