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

const KEY = 'sk-test-openai';

describe('OpenAI provider against the simulator', () => {
  let sim: SimulatorHandle;
  let provider: Provider;

  before(async () => {
    sim = await startSimulator({ name: 'openai', apiKey: KEY, chatModels: ['gpt-up'], embeddingModels: ['embed-up'] });
    provider = createProvider(
      backend({ protocol: 'openai', baseUrl: `${sim.url}/v1`, credentials: 'env:PERIMETER_PUBLIC_API_KEY' }),
      secretSource('public-api', { PERIMETER_PUBLIC_API_KEY: KEY }),
    );
  });
  after(async () => {
    await provider.close();
    await sim.close();
  });
  beforeEach(() => sim.clear());

  it('maps a non-streaming answer and sends the bearer key to the baseUrl path', async () => {
    const response = await provider.chat(chatRequest(), 'gpt-up', ctx());
    assert.equal(response.content, 'You said: hello there');
    assert.equal(response.finishReason, 'stop');
    assert.equal(response.model, 'gpt-up');
    assert.match(response.id, /^chatcmpl-/);
    assert.deepEqual(response.toolCalls, []);
    assert.ok(response.usage !== undefined && response.usage.inputTokens > 0 && response.usage.outputTokens === 4);
    const received = lastReceived(sim);
    assert.equal(received.path, '/v1/chat/completions');
    assert.equal(received.headers['authorization'], `Bearer ${KEY}`);
    assert.equal(received.headers['content-type'], 'application/json');
  });

  it('streams start, text, finish and usage, asking upstream for usage even when the client did not', async () => {
    const stream = await provider.chatStream(chatRequest({ stream: true, includeUsage: false }), 'gpt-up', ctx());
    const chunks = await collect(stream);
    assert.equal(chunks[0]?.type, 'start');
    const start = chunks[0] as Extract<Chunk, { type: 'start' }>;
    assert.match(start.id, /^chatcmpl-/);
    assert.equal(start.model, 'gpt-up');
    assert.equal(textOfChunks(chunks), 'You said: hello there');
    const tail = chunks.slice(-2);
    assert.deepEqual(tail[0], { type: 'finish', reason: 'stop' });
    assert.equal(tail[1]?.type, 'usage');
    const body = lastReceived(sim).body as Record<string, unknown>;
    assert.equal(body['stream'], true);
    assert.deepEqual(body['stream_options'], { include_usage: true });
  });

  it('maps the whole request body onto the OpenAI wire format', async () => {
    const request = chatRequest({
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'be brief' }] },
        {
          role: 'user',
          name: 'alice',
          content: [
            { type: 'text', text: 'look: ' },
            { type: 'image', url: 'data:image/png;base64,AAAA', detail: 'low' },
          ],
        },
        { role: 'assistant', content: [], toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Oslo"}' }] },
        { role: 'tool', toolCallId: 'call_1', content: [{ type: 'text', text: 'sunny' }] },
        user('thanks'),
      ],
      maxTokens: 64,
      temperature: 0.2,
      topP: 0.9,
      stop: ['END'],
      user: 'user-42',
      tools: [WEATHER_TOOL],
      toolChoice: { name: 'get_weather' },
      parallelToolCalls: false,
      responseFormat: { type: 'json_schema', name: 'answer', schema: { type: 'object' }, strict: true },
      protocolParams: { openai: { seed: 7, logit_bias: { '42': -100 }, model: 'must-not-override' }, anthropic: { top_k: 3 } },
    });
    await provider.chat(request, 'gpt-up', ctx());
    assert.deepEqual(lastReceived(sim).body, {
      seed: 7,
      logit_bias: { '42': -100 },
      model: 'gpt-up',
      messages: [
        { role: 'system', content: 'be brief' },
        {
          role: 'user',
          name: 'alice',
          content: [
            { type: 'text', text: 'look: ' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA', detail: 'low' } },
          ],
        },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }],
        },
        { role: 'tool', content: 'sunny', tool_call_id: 'call_1' },
        { role: 'user', content: 'thanks' },
      ],
      stream: false,
      max_tokens: 64,
      temperature: 0.2,
      top_p: 0.9,
      stop: ['END'],
      user: 'user-42',
      tools: [{ type: 'function', function: WEATHER_TOOL }],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      parallel_tool_calls: false,
      response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object' }, strict: true } },
    });
  });

  it('returns tool calls from a non-streaming answer', async () => {
    const response = await provider.chat(chatRequest({ messages: [user('weather in Oslo')], tools: [WEATHER_TOOL] }), 'gpt-up', ctx());
    assert.equal(response.finishReason, 'tool_calls');
    assert.equal(response.content, null);
    assert.equal(response.toolCalls.length, 1);
    assert.equal(response.toolCalls[0]?.name, 'get_weather');
    assert.equal(typeof JSON.parse(response.toolCalls[0]?.arguments ?? ''), 'object');
  });

  it('streams tool calls as tool_call_start then argument deltas', async () => {
    const chunks = await collect(
      await provider.chatStream(chatRequest({ stream: true, messages: [user('weather in Oslo')], tools: [WEATHER_TOOL] }), 'gpt-up', ctx()),
    );
    const starts = chunks.filter((c) => c.type === 'tool_call_start');
    assert.equal(starts.length, 1);
    assert.equal(starts[0]?.type === 'tool_call_start' && starts[0].name, 'get_weather');
    let args = '';
    for (const c of chunks) if (c.type === 'tool_call_delta' && c.index === 0) args += c.arguments;
    assert.equal(typeof JSON.parse(args), 'object');
    assert.ok(chunks.some((c) => c.type === 'finish' && c.reason === 'tool_calls'));
    assert.ok(chunks.findIndex((c) => c.type === 'tool_call_start') < chunks.findIndex((c) => c.type === 'tool_call_delta'));
  });

  it('embeds with encoding_format float and maps vectors and usage', async () => {
    const response = await provider.embed({ model: 'e', input: ['alpha', 'beta'], dimensions: 4 }, 'embed-up', ctx());
    assert.equal(response.vectors.length, 2);
    assert.equal(response.vectors[0]?.length, 4);
    assert.ok(response.usage.inputTokens > 0);
    const received = lastReceived(sim);
    assert.equal(received.path, '/v1/embeddings');
    assert.deepEqual(received.body, { model: 'embed-up', input: ['alpha', 'beta'], encoding_format: 'float', dimensions: 4 });
  });

  it('maps upstream 500 to retryable upstream_error with the upstream status', async () => {
    const err = await rejectsWith(provider.chat(chatRequest({ messages: [user('[[sim:status=500]]')] }), 'gpt-up', ctx()), 'upstream_error');
    assert.equal(err.retryable, true);
    assert.equal(err.upstreamStatus, 500);
  });

  it('maps upstream 429 to rate_limited with retryAfter from the header', async () => {
    const err = await rejectsWith(provider.chat(chatRequest({ messages: [user('[[sim:status=429]]')] }), 'gpt-up', ctx()), 'rate_limited');
    assert.equal(err.retryable, true);
    assert.equal(err.retryAfter, 1);
  });

  it('maps upstream 400 to invalid_request carrying the upstream message, not retryable', async () => {
    const err = await rejectsWith(provider.chat(chatRequest({ messages: [user('[[sim:status=400]]')] }), 'gpt-up', ctx()), 'invalid_request');
    assert.equal(err.retryable, false);
    assert.equal(err.message, 'Simulated upstream error (status 400)');
  });

  it('maps upstream 404 to model_not_found, and a 503 before a stream to a refusal', async () => {
    await rejectsWith(provider.chat(chatRequest(), 'no-such-model', ctx()), 'model_not_found');
    const err = await rejectsWith(provider.chatStream(chatRequest({ stream: true, messages: [user('[[sim:status=503]]')] }), 'gpt-up', ctx()), 'upstream_error');
    assert.equal(err.upstreamStatus, 503);
  });

  it('maps upstream 401 (our credential) to upstream_error, never authentication_failed', async () => {
    const wrong = createProvider(
      backend({ protocol: 'openai', baseUrl: `${sim.url}/v1`, credentials: 'env:PERIMETER_PUBLIC_API_KEY' }),
      secretSource('public-api', { PERIMETER_PUBLIC_API_KEY: 'wrong' }),
    );
    try {
      const err = await rejectsWith(wrong.chat(chatRequest(), 'gpt-up', ctx()), 'upstream_error');
      assert.equal(err.upstreamStatus, 401);
    } finally {
      await wrong.close();
    }
  });

  it('throws upstream_error when the stream drops mid-way, after the chunks that arrived', async () => {
    const stream = await provider.chatStream(chatRequest({ stream: true, messages: [user('one two three four [[sim:drop_after=2]]')] }), 'gpt-up', ctx());
    const seen: Chunk[] = [];
    const err = await rejectsWith(
      (async () => {
        for await (const chunk of stream) seen.push(chunk);
      })(),
      'upstream_error',
    );
    assert.equal(err.retryable, true);
    assert.equal(seen[0]?.type, 'start');
    assert.ok(!seen.some((c) => c.type === 'finish'), 'no finish for a dropped stream');
  });

  it('maps a connection closed before any response to retryable upstream_unavailable', async () => {
    await rejectsWith(provider.chat(chatRequest({ messages: [user('[[sim:drop_after=0]]')] }), 'gpt-up', ctx()), 'upstream_unavailable');
  });

  it('client abort mid-stream closes the upstream socket and surfaces client_closed_request', async () => {
    const controller = new AbortController();
    const stream = await provider.chatStream(
      chatRequest({ stream: true, messages: [user('a b c [[sim:stall_after=1]]')] }),
      'gpt-up',
      ctx(controller.signal),
    );
    const iterator = stream[Symbol.asyncIterator]();
    const first = await iterator.next();
    assert.equal(first.done, false);
    const pending = (async () => {
      for (;;) if ((await iterator.next()).done === true) return;
    })();
    controller.abort();
    await rejectsWith(pending, 'client_closed_request');
    await eventually(() => lastReceived(sim).aborted, 'the simulator saw the connection close');
  });

  it('client abort before headers reaches the upstream too', async () => {
    const controller = new AbortController();
    const call = provider.chat(chatRequest({ messages: [user('[[sim:delay_ms=2000]]')] }), 'gpt-up', ctx(controller.signal));
    await eventually(() => sim.received().length === 1, 'the request reached the simulator');
    controller.abort();
    await rejectsWith(call, 'client_closed_request');
    await eventually(() => lastReceived(sim).aborted, 'the simulator saw the connection close');
  });

  it('an already-aborted signal never reaches the upstream', async () => {
    const controller = new AbortController();
    controller.abort();
    await rejectsWith(provider.chat(chatRequest(), 'gpt-up', ctx(controller.signal)), 'client_closed_request');
    assert.equal(sim.received().length, 0);
  });

  it('stopping iteration early releases the upstream connection', async () => {
    const stream = await provider.chatStream(chatRequest({ stream: true, messages: [user('x y z [[sim:stall_after=2]]')] }), 'gpt-up', ctx());
    for await (const chunk of stream) {
      if (chunk.type === 'start') break;
    }
    await eventually(() => lastReceived(sim).aborted, 'the simulator saw the connection close');
  });

  it('a stalled stream ends with upstream_timeout at the total deadline', async () => {
    const slow = createProvider(
      backend({
        protocol: 'openai',
        baseUrl: `${sim.url}/v1`,
        credentials: 'env:PERIMETER_PUBLIC_API_KEY',
        timeouts: { connectMs: 1_000, firstByteMs: 5_000, totalMs: 300 },
      }),
      secretSource('public-api', { PERIMETER_PUBLIC_API_KEY: KEY }),
    );
    try {
      const stream = await slow.chatStream(chatRequest({ stream: true, messages: [user('a b [[sim:stall_after=1]]')] }), 'gpt-up', ctx());
      const err = await rejectsWith(collect(stream), 'upstream_timeout');
      assert.equal(err.retryable, true);
      await eventually(() => lastReceived(sim).aborted, 'the simulator saw the connection close');
    } finally {
      await slow.close();
    }
  });

  it('slow response headers end with upstream_timeout (firstByteMs)', async () => {
    const slow = createProvider(
      backend({
        protocol: 'openai',
        baseUrl: `${sim.url}/v1`,
        credentials: 'env:PERIMETER_PUBLIC_API_KEY',
        timeouts: { connectMs: 1_000, firstByteMs: 100, totalMs: 5_000 },
      }),
      secretSource('public-api', { PERIMETER_PUBLIC_API_KEY: KEY }),
    );
    try {
      const err = await rejectsWith(slow.chat(chatRequest({ messages: [user('[[sim:delay_ms=1000]]')] }), 'gpt-up', ctx()), 'upstream_timeout');
      assert.equal(err.retryable, true);
    } finally {
      await slow.close();
    }
  });
});

describe('Azure OpenAI provider against the simulator', () => {
  let sim: SimulatorHandle;
  let provider: Provider;
  const AZURE_KEY = 'azure-test-key';

  before(async () => {
    sim = await startSimulator({ name: 'azure', apiKey: AZURE_KEY, chatModels: ['gpt4o-eu'], embeddingModels: ['embed-eu'] });
    provider = createProvider(
      backend({
        id: 'private-azure',
        tier: 'private-cloud',
        protocol: 'azure-openai',
        apiVersion: '2024-10-21',
        baseUrl: sim.url,
        credentials: 'env:PERIMETER_PRIVATE_CLOUD_AZURE_KEY',
      }),
      secretSource('private-cloud', { PERIMETER_PRIVATE_CLOUD_AZURE_KEY: AZURE_KEY }),
    );
  });
  after(async () => {
    await provider.close();
    await sim.close();
  });
  beforeEach(() => sim.clear());

  it('posts to the deployment path with api-version and the api-key header', async () => {
    const response = await provider.chat(chatRequest(), 'gpt4o-eu', ctx());
    assert.equal(response.content, 'You said: hello there');
    const received = lastReceived(sim);
    assert.equal(received.path, '/openai/deployments/gpt4o-eu/chat/completions');
    assert.deepEqual(received.query, { 'api-version': '2024-10-21' });
    assert.equal(received.headers['api-key'], AZURE_KEY);
    assert.equal(received.headers['authorization'], undefined);
  });

  it('streams and calls tools like OpenAI', async () => {
    const chunks = await collect(
      await provider.chatStream(chatRequest({ stream: true, messages: [user('weather?')], tools: [WEATHER_TOOL] }), 'gpt4o-eu', ctx()),
    );
    assert.ok(chunks.some((c) => c.type === 'tool_call_start' && c.name === 'get_weather'));
    assert.ok(chunks.some((c) => c.type === 'finish' && c.reason === 'tool_calls'));
    assert.equal(chunks[chunks.length - 1]?.type, 'usage');
  });

  it('embeds through the deployment embeddings path', async () => {
    const response = await provider.embed({ model: 'e', input: ['one'] }, 'embed-eu', ctx());
    assert.equal(response.vectors.length, 1);
    assert.equal(lastReceived(sim).path, '/openai/deployments/embed-eu/embeddings');
  });

  it('maps a missing deployment to model_not_found', async () => {
    await rejectsWith(provider.chat(chatRequest(), 'nope', ctx()), 'model_not_found');
  });
});
