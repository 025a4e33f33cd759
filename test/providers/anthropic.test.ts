import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Chunk } from '../../src/domain/chat.js';
import type { Provider } from '../../src/providers/provider.js';
import { createProvider } from '../../src/providers/registry.js';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import {
  WEATHER_TOOL,
  backend,
  chatRequest,
  collect,
  ctx,
  eventually,
  lastReceived,
  rejectsWith,
  secretSource,
  textOfChunks,
  user,
} from './support.js';

const KEY = 'sk-ant-test';

describe('Anthropic provider against the simulator', () => {
  let sim: SimulatorHandle;
  let provider: Provider;

  before(async () => {
    sim = await startSimulator({ name: 'anthropic', apiKey: KEY, chatModels: ['claude-up'] });
    provider = createProvider(
      backend({ id: 'public-anthropic', protocol: 'anthropic', baseUrl: sim.url, credentials: 'env:PERIMETER_PUBLIC_API_ANTHROPIC' }),
      secretSource('public-api', { PERIMETER_PUBLIC_API_ANTHROPIC: KEY }),
    );
  });
  after(async () => {
    await provider.close();
    await sim.close();
  });
  beforeEach(() => sim.clear());

  it('maps a non-streaming answer, posting to /v1/messages with x-api-key and anthropic-version', async () => {
    const response = await provider.chat(chatRequest(), 'claude-up', ctx());
    assert.equal(response.content, 'You said: hello there');
    assert.equal(response.finishReason, 'stop');
    assert.equal(response.model, 'claude-up');
    assert.match(response.id, /^msg_01/);
    assert.deepEqual(response.usage, { inputTokens: 3, outputTokens: 4 });
    const received = lastReceived(sim);
    assert.equal(received.path, '/v1/messages');
    assert.equal(received.headers['x-api-key'], KEY);
    assert.equal(received.headers['anthropic-version'], '2023-06-01');
    assert.equal(received.headers['authorization'], undefined);
  });

  it('streams start, text, finish and usage (input from message_start, output from message_delta)', async () => {
    const chunks = await collect(await provider.chatStream(chatRequest({ stream: true }), 'claude-up', ctx()));
    assert.equal(chunks[0]?.type, 'start');
    assert.equal(textOfChunks(chunks), 'You said: hello there');
    assert.deepEqual(chunks.slice(-2), [
      { type: 'finish', reason: 'stop' },
      { type: 'usage', usage: { inputTokens: 3, outputTokens: 4 } },
    ]);
    assert.equal((lastReceived(sim).body as Record<string, unknown>)['stream'], true);
  });

  it('maps the whole request body onto the Messages API', async () => {
    const request = chatRequest({
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'be brief' }] },
        { role: 'system', content: [{ type: 'text', text: 'be kind' }] },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'compare ' },
            { type: 'image', url: 'data:image/png;base64,iVBORw0KGgo=' },
            { type: 'image', url: 'https://example.com/cat.jpg' },
          ],
        },
        {
          role: 'assistant',
          content: [{ type: 'text', text: 'checking' }],
          toolCalls: [
            { id: 'toolu_1', name: 'get_weather', arguments: '{"city":"Oslo"}' },
            { id: 'toolu_2', name: 'get_weather', arguments: 'not json' },
          ],
        },
        { role: 'tool', toolCallId: 'toolu_1', content: [{ type: 'text', text: 'sunny' }] },
        { role: 'tool', toolCallId: 'toolu_2', content: [{ type: 'text', text: 'no such city' }], isError: true },
        user('and tomorrow?'),
      ],
      maxTokens: 128,
      temperature: 0.5,
      topP: 0.8,
      stop: ['STOP'],
      user: 'user-7',
      tools: [WEATHER_TOOL, { name: 'now' }],
      toolChoice: 'required',
      parallelToolCalls: false,
      protocolParams: { anthropic: { top_k: 5, max_tokens: 1 }, openai: { seed: 1 } },
    });
    await provider.chat(request, 'claude-up', ctx());
    assert.deepEqual(lastReceived(sim).body, {
      top_k: 5,
      model: 'claude-up',
      max_tokens: 128,
      system: 'be brief\n\nbe kind',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'compare ' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
            { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
          ],
        },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'checking' },
            { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Oslo' } },
            { type: 'tool_use', id: 'toolu_2', name: 'get_weather', input: {} },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' },
            { type: 'tool_result', tool_use_id: 'toolu_2', content: 'no such city', is_error: true },
            { type: 'text', text: 'and tomorrow?' },
          ],
        },
      ],
      stream: false,
      temperature: 0.5,
      top_p: 0.8,
      stop_sequences: ['STOP'],
      tools: [
        { name: 'get_weather', description: 'Weather for a city', input_schema: WEATHER_TOOL.parameters },
        { name: 'now', input_schema: { type: 'object' } },
      ],
      tool_choice: { type: 'any', disable_parallel_tool_use: true },
      metadata: { user_id: 'user-7' },
    });
  });

  it('defaults max_tokens to 4096 and maps tool_choice variants', async () => {
    await provider.chat(chatRequest({ tools: [WEATHER_TOOL], toolChoice: 'none' }), 'claude-up', ctx());
    const body = lastReceived(sim).body as Record<string, unknown>;
    assert.equal(body['max_tokens'], 4096);
    assert.deepEqual(body['tool_choice'], { type: 'none' });
    await provider.chat(chatRequest({ messages: [user('x')], tools: [WEATHER_TOOL], toolChoice: { name: 'get_weather' } }), 'claude-up', ctx());
    assert.deepEqual((lastReceived(sim).body as Record<string, unknown>)['tool_choice'], { type: 'tool', name: 'get_weather' });
  });

  it('returns tool_use blocks as tool calls with JSON arguments', async () => {
    const response = await provider.chat(chatRequest({ messages: [user('weather in Oslo')], tools: [WEATHER_TOOL] }), 'claude-up', ctx());
    assert.equal(response.finishReason, 'tool_calls');
    assert.equal(response.content, null);
    assert.equal(response.toolCalls[0]?.name, 'get_weather');
    assert.match(response.toolCalls[0]?.id ?? '', /^toolu_01/);
    assert.equal(typeof JSON.parse(response.toolCalls[0]?.arguments ?? ''), 'object');
  });

  it('streams tool_use as tool_call_start and input_json deltas', async () => {
    const chunks = await collect(
      await provider.chatStream(chatRequest({ stream: true, messages: [user('weather in Oslo')], tools: [WEATHER_TOOL] }), 'claude-up', ctx()),
    );
    const start = chunks.find((c): c is Extract<Chunk, { type: 'tool_call_start' }> => c.type === 'tool_call_start');
    assert.ok(start !== undefined);
    assert.equal(start.index, 0);
    assert.equal(start.name, 'get_weather');
    let args = '';
    for (const c of chunks) if (c.type === 'tool_call_delta') args += c.arguments;
    assert.equal(typeof JSON.parse(args), 'object');
    assert.ok(chunks.some((c) => c.type === 'finish' && c.reason === 'tool_calls'));
  });

  it('refuses embeddings without calling the upstream', async () => {
    const err = await rejectsWith(provider.embed({ model: 'e', input: ['x'] }, 'claude-up', ctx()), 'invalid_request');
    assert.match(err.message, /does not serve embeddings/);
    assert.equal(sim.received().length, 0);
  });

  it('maps 500, 429, 400 and 404', async () => {
    const e500 = await rejectsWith(provider.chat(chatRequest({ messages: [user('[[sim:status=500]]')] }), 'claude-up', ctx()), 'upstream_error');
    assert.equal(e500.retryable, true);
    const e429 = await rejectsWith(provider.chat(chatRequest({ messages: [user('[[sim:status=429]]')] }), 'claude-up', ctx()), 'rate_limited');
    assert.equal(e429.retryAfter, 1);
    const e400 = await rejectsWith(provider.chat(chatRequest({ messages: [user('[[sim:status=400]]')] }), 'claude-up', ctx()), 'invalid_request');
    assert.equal(e400.message, 'Simulated upstream error (status 400)');
    await rejectsWith(provider.chat(chatRequest(), 'claude-missing', ctx()), 'model_not_found');
  });

  it('rejects a non-base64 data URL before calling the upstream', async () => {
    await rejectsWith(
      provider.chat(chatRequest({ messages: [{ role: 'user', content: [{ type: 'image', url: 'data:image/png,raw' }] }] }), 'claude-up', ctx()),
      'invalid_request',
    );
    assert.equal(sim.received().length, 0);
  });

  it('throws upstream_error when the stream drops before message_stop', async () => {
    const stream = await provider.chatStream(chatRequest({ stream: true, messages: [user('a b c d [[sim:drop_after=2]]')] }), 'claude-up', ctx());
    const seen: Chunk[] = [];
    await rejectsWith(
      (async () => {
        for await (const c of stream) seen.push(c);
      })(),
      'upstream_error',
    );
    assert.equal(seen[0]?.type, 'start');
    assert.ok(!seen.some((c) => c.type === 'finish'));
  });

  it('client abort mid-stream closes the upstream socket', async () => {
    const controller = new AbortController();
    const stream = await provider.chatStream(chatRequest({ stream: true, messages: [user('a b [[sim:stall_after=1]]')] }), 'claude-up', ctx(controller.signal));
    const iterator = stream[Symbol.asyncIterator]();
    assert.equal((await iterator.next()).done, false);
    const rest = (async () => {
      for (;;) if ((await iterator.next()).done === true) return;
    })();
    controller.abort();
    await rejectsWith(rest, 'client_closed_request');
    await eventually(() => lastReceived(sim).aborted, 'the simulator saw the connection close');
  });
});
