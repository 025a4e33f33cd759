import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import OpenAI from 'openai';
import { startStack, type TestStack, TEST_KEY } from '../helpers/gateway.js';

interface Received {
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: unknown;
}

function lastBody(received: readonly Received[]): Record<string, unknown> {
  const last = received.at(-1);
  assert.ok(last, 'the backend received a request');
  return last.body as Record<string, unknown>;
}

describe('OpenAI SDK against the gateway', () => {
  let stack: TestStack;
  let client: OpenAI;

  before(async () => {
    stack = await startStack();
    client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: TEST_KEY, maxRetries: 0 });
  });
  after(async () => stack.close());
  beforeEach(() => {
    stack.sims.onPrem.clear();
    stack.sims.privateCloud.clear();
    stack.sims.publicApi.clear();
  });

  it('answers a non-streaming chat and names where it went', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'llama-3.1-8b-instruct', messages: [{ role: 'user', content: 'Hello there' }] })
      .withResponse();
    assert.equal(data.choices[0]?.message.content, 'You said: Hello there');
    assert.equal(data.choices[0]?.finish_reason, 'stop');
    assert.equal(data.model, 'llama-3.1-8b-instruct');
    assert.ok((data.usage?.prompt_tokens ?? 0) > 0);
    assert.equal(response.headers.get('x-perimeter-tier'), 'on-prem');
    assert.equal(response.headers.get('x-perimeter-backend'), 'onprem-vllm');
    assert.equal(response.headers.get('x-perimeter-model'), 'llama-3.1-8b-instruct');
    assert.match(response.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    const received = stack.sims.onPrem.received();
    assert.equal(received.length, 1);
    assert.equal(received[0]?.path, '/v1/chat/completions');
    assert.equal(lastBody(received).model, 'llama-3.1-8b-instruct');
    assert.equal(stack.sims.publicApi.received().length, 0, 'nothing reached another tier');
  });

  it('keeps a caller-supplied request id', async () => {
    const { response } = await client.chat.completions
      .create({ model: 'llama-3.1-8b-instruct', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-request-id': 'trace-abc.123' } })
      .withResponse();
    assert.equal(response.headers.get('x-request-id'), 'trace-abc.123');
  });

  it('streams with include_usage and ends with a usage chunk', async () => {
    const stream = await client.chat.completions.create({
      model: 'llama-3.1-8b-instruct',
      messages: [{ role: 'user', content: 'one two three four' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usageChunks = 0;
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) {
        usageChunks += 1;
        assert.ok(chunk.usage.completion_tokens > 0);
      }
    }
    assert.equal(text, 'You said: one two three four');
    assert.equal(finish, 'stop');
    assert.equal(usageChunks, 1);
  });

  it('streams without a usage chunk when the client did not ask for one', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4.1-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    let usage = 0;
    for await (const chunk of stream) if (chunk.usage) usage += 1;
    assert.equal(usage, 0);
    // The gateway still asks the upstream for usage, for its own records.
    const body = lastBody(stack.sims.publicApi.received());
    assert.deepEqual(body.stream_options, { include_usage: true });
  });

  it('round-trips tool calls, non-streaming and streaming', async () => {
    const tools: OpenAI.Chat.ChatCompletionTool[] = [
      {
        type: 'function',
        function: {
          name: 'lookup_order',
          description: 'Find an order',
          parameters: { type: 'object', properties: { query: { type: 'string' }, limit: { type: 'integer' } }, required: ['query'] },
        },
      },
    ];
    const first = await client.chat.completions.create({
      model: 'llama-3.1-8b-instruct',
      messages: [{ role: 'user', content: 'where is order 42' }],
      tools,
    });
    const call = first.choices[0]?.message.tool_calls?.[0];
    assert.ok(call && call.type === 'function');
    assert.equal(first.choices[0]?.finish_reason, 'tool_calls');
    assert.equal(call.function.name, 'lookup_order');
    assert.deepEqual(JSON.parse(call.function.arguments), { query: 'where is order 42', limit: 1 });
    assert.deepEqual((lastBody(stack.sims.onPrem.received()).tools as unknown[])[0], tools[0]);

    const streamed = await client.chat.completions
      .stream({ model: 'llama-3.1-8b-instruct', messages: [{ role: 'user', content: 'where is order 42' }], tools })
      .finalChatCompletion();
    const streamedCall = streamed.choices[0]?.message.tool_calls?.[0];
    assert.ok(streamedCall && streamedCall.type === 'function');
    assert.equal(streamedCall.function.arguments, call.function.arguments);

    const second = await client.chat.completions.create({
      model: 'llama-3.1-8b-instruct',
      messages: [
        { role: 'user', content: 'where is order 42' },
        { role: 'assistant', content: null, tool_calls: [call] },
        { role: 'tool', tool_call_id: call.id, content: 'shipped yesterday' },
      ],
      tools,
    });
    assert.equal(second.choices[0]?.message.content, 'Tool result: shipped yesterday');
    const sent = lastBody(stack.sims.onPrem.received()).messages as { role: string; tool_call_id?: string }[];
    assert.equal(sent[2]?.role, 'tool');
    assert.equal(sent[2]?.tool_call_id, call.id);
  });

  it('passes multi-part content, response_format and standard parameters through', async () => {
    await client.chat.completions.create({
      model: 'llama-3.1-8b-instruct',
      messages: [
        { role: 'system', content: 'be brief' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'describe' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' } },
          ],
        },
      ],
      response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object' }, strict: true } },
      seed: 7,
      temperature: 0.2,
      top_p: 0.9,
      presence_penalty: 0.5,
      frequency_penalty: 0.1,
      stop: ['END'],
      max_tokens: 64,
      user: 'u-1',
    });
    const body = lastBody(stack.sims.onPrem.received());
    assert.deepEqual(body.response_format, { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object' }, strict: true } });
    assert.equal(body.seed, 7);
    assert.equal(body.temperature, 0.2);
    assert.equal(body.top_p, 0.9);
    assert.equal(body.presence_penalty, 0.5);
    assert.equal(body.frequency_penalty, 0.1);
    assert.deepEqual(body.stop, ['END']);
    assert.equal(body.max_tokens, 64);
    assert.equal(body.user, 'u-1');
    const messages = body.messages as { role: string; content: unknown }[];
    assert.equal(messages[0]?.role, 'system');
    assert.deepEqual(messages[1]?.content, [
      { type: 'text', text: 'describe' },
      { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' } },
    ]);
  });

  it('reaches Azure OpenAI through its deployment path', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'azure please' }] })
      .withResponse();
    assert.equal(data.choices[0]?.message.content, 'You said: azure please');
    assert.equal(response.headers.get('x-perimeter-tier'), 'private-cloud');
    const received = stack.sims.privateCloud.received().at(-1);
    assert.equal(received?.path, '/openai/deployments/gpt-4o-eu-deployment/chat/completions');
    assert.equal(received?.query['api-version'], '2024-10-21');
  });

  it('creates embeddings in the SDK default (base64) and as floats', async () => {
    const viaDefault = await client.embeddings.create({ model: 'bge-m3', input: ['alpha', 'beta'] });
    assert.equal(viaDefault.data.length, 2);
    const asFloat = await client.embeddings.create({ model: 'bge-m3', input: ['alpha', 'beta'], encoding_format: 'float' });
    assert.equal(asFloat.data.length, 2);
    for (let i = 0; i < 2; i++) {
      const a = viaDefault.data[i]?.embedding ?? [];
      const b = asFloat.data[i]?.embedding ?? [];
      assert.ok(a.length > 0);
      assert.equal(a.length, b.length);
      a.forEach((v, j) => assert.ok(Math.abs(v - (b[j] ?? NaN)) < 1e-6));
    }
    assert.notDeepEqual(asFloat.data[0]?.embedding, asFloat.data[1]?.embedding);
    assert.ok(asFloat.usage.prompt_tokens > 0);
    assert.equal(lastBody(stack.sims.onPrem.received()).encoding_format, 'float');
    const azure = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'gamma' });
    assert.equal(azure.data.length, 1);
    assert.equal(stack.sims.privateCloud.received().at(-1)?.path, '/openai/deployments/embed-eu/embeddings');
  });

  it('lists models with their tier, backend and capability', async () => {
    const ids = new Map<string, unknown>();
    for await (const model of client.models.list()) ids.set(model.id, (model as unknown as { perimeter: unknown }).perimeter);
    assert.deepEqual(ids.get('gpt-4o'), { tier: 'private-cloud', backend: 'private-azure', capability: 'frontier', kind: 'chat', context_window: 8192, deployment: 'default', local: true });
    assert.deepEqual(ids.get('bge-m3'), { tier: 'on-prem', backend: 'onprem-vllm', capability: 'basic', kind: 'embedding', context_window: 8192, deployment: 'default', local: true });
    assert.equal(ids.size, 6);
  });

  it('rejects a chat on an embedding model and vice versa', async () => {
    await assert.rejects(client.chat.completions.create({ model: 'bge-m3', messages: [{ role: 'user', content: 'x' }] }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.BadRequestError);
      return true;
    });
    await assert.rejects(client.embeddings.create({ model: 'gpt-4o', input: 'x' }), OpenAI.BadRequestError);
  });
});
