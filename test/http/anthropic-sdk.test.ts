import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startStack, type TestStack, TEST_KEY } from '../helpers/gateway.js';

type Body = Record<string, unknown>;

describe('Anthropic SDK against the gateway, and translation between protocols', () => {
  let stack: TestStack;
  let anthropic: Anthropic;
  let openai: OpenAI;

  before(async () => {
    stack = await startStack();
    anthropic = new Anthropic({ baseURL: stack.url, apiKey: TEST_KEY, maxRetries: 0 });
    openai = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: TEST_KEY, maxRetries: 0 });
  });
  after(async () => stack.close());
  beforeEach(() => {
    stack.sims.onPrem.clear();
    stack.sims.publicApi.clear();
  });

  const weather: Anthropic.Tool = {
    name: 'get_weather',
    description: 'Current weather',
    input_schema: { type: 'object', properties: { city: { type: 'string' }, metric: { type: 'boolean' } } },
  };

  it('answers a Messages call on an Anthropic backend', async () => {
    const { data, response } = await anthropic.messages
      // No names in the prompt: a person's name would make the data internal, which the public tier may not take.
      .create({ model: 'claude-sonnet-5-5', max_tokens: 100, system: 'be kind', messages: [{ role: 'user', content: 'Hi there' }] })
      .withResponse();
    assert.equal(data.type, 'message');
    assert.deepEqual(data.content, [{ type: 'text', text: 'You said: Hi there' }]);
    assert.equal(data.stop_reason, 'end_turn');
    assert.ok(data.usage.input_tokens > 0);
    assert.equal(response.headers.get('x-perimeter-backend'), 'public-anthropic');
    const received = stack.sims.publicApi.received().at(-1);
    assert.equal(received?.path, '/v1/messages');
    assert.equal((received?.body as Body).system, 'be kind');
  });

  it('streams a Messages call', async () => {
    const stream = anthropic.messages.stream({ model: 'claude-sonnet-5-5', max_tokens: 100, messages: [{ role: 'user', content: 'stream me please' }] });
    let text = '';
    stream.on('text', (t) => {
      text += t;
    });
    const final = await stream.finalMessage();
    assert.equal(text, 'You said: stream me please');
    assert.equal(final.stop_reason, 'end_turn');
    assert.ok(final.usage.output_tokens > 0);
  });

  it('does tool use, streaming and not, and sends tool results back', async () => {
    const first = await anthropic.messages.create({
      model: 'claude-sonnet-5-5',
      max_tokens: 100,
      tools: [weather],
      messages: [{ role: 'user', content: 'weather in Oslo' }],
    });
    assert.equal(first.stop_reason, 'tool_use');
    const use = first.content.find((b) => b.type === 'tool_use');
    assert.ok(use && use.type === 'tool_use');
    assert.deepEqual(use.input, { city: 'weather in Oslo', metric: true });

    const streamed = await anthropic.messages
      .stream({ model: 'claude-sonnet-5-5', max_tokens: 100, tools: [weather], messages: [{ role: 'user', content: 'weather in Oslo' }] })
      .finalMessage();
    const streamedUse = streamed.content.find((b) => b.type === 'tool_use');
    assert.ok(streamedUse && streamedUse.type === 'tool_use');
    assert.deepEqual(streamedUse.input, use.input);

    const second = await anthropic.messages.create({
      model: 'claude-sonnet-5-5',
      max_tokens: 100,
      tools: [weather],
      messages: [
        { role: 'user', content: 'weather in Oslo' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '4°C and rain' }] },
      ],
    });
    assert.deepEqual(second.content, [{ type: 'text', text: 'Tool result: 4°C and rain' }]);
  });

  it('translates an Anthropic client to an OpenAI-protocol backend', async () => {
    const message = await anthropic.messages.create({
      model: 'llama-3.1-8b-instruct',
      max_tokens: 50,
      system: [{ type: 'text', text: 'sys prompt' }],
      stop_sequences: ['STOP'],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'cross protocol' }] }],
    });
    assert.deepEqual(message.content, [{ type: 'text', text: 'You said: cross protocol' }]);
    const body = stack.sims.onPrem.received().at(-1)?.body as Body;
    assert.deepEqual(body.messages, [
      { role: 'system', content: 'sys prompt' },
      { role: 'user', content: 'cross protocol' },
    ]);
    assert.equal(body.max_tokens, 50);
    assert.deepEqual(body.stop, ['STOP']);

    const streamed = await anthropic.messages
      .stream({ model: 'llama-3.1-8b-instruct', max_tokens: 50, tools: [weather], messages: [{ role: 'user', content: 'Bergen' }] })
      .finalMessage();
    const use = streamed.content.find((b) => b.type === 'tool_use');
    assert.ok(use && use.type === 'tool_use');
    assert.equal(use.name, 'get_weather');
    assert.deepEqual(use.input, { city: 'Bergen', metric: true });
    assert.equal(streamed.stop_reason, 'tool_use');
    const tools = (stack.sims.onPrem.received().at(-1)?.body as Body).tools as unknown[];
    assert.deepEqual(tools[0], { type: 'function', function: { name: 'get_weather', description: 'Current weather', parameters: weather.input_schema } });
  });

  it('translates an OpenAI client to an Anthropic backend', async () => {
    const completion = await openai.chat.completions.create({
      model: 'claude-sonnet-5-5',
      messages: [
        { role: 'system', content: 'sys A' },
        { role: 'user', content: 'from openai' },
      ],
    });
    assert.equal(completion.choices[0]?.message.content, 'You said: from openai');
    const body = stack.sims.publicApi.received().at(-1)?.body as Body;
    assert.equal(body.system, 'sys A');
    assert.deepEqual(body.messages, [{ role: 'user', content: 'from openai' }]);
    assert.equal(typeof body.max_tokens, 'number');

    const tools: OpenAI.Chat.ChatCompletionTool[] = [
      { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
    ];
    const final = await openai.chat.completions
      .stream({ model: 'claude-sonnet-5-5', messages: [{ role: 'user', content: 'Tromsø' }], tools, stream_options: { include_usage: true } })
      .finalChatCompletion();
    const call = final.choices[0]?.message.tool_calls?.[0];
    assert.ok(call && call.type === 'function');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Tromsø' });
    assert.equal(final.choices[0]?.finish_reason, 'tool_calls');
    assert.ok((final.usage?.completion_tokens ?? 0) > 0);

    const answered = await openai.chat.completions.create({
      model: 'claude-sonnet-5-5',
      tools,
      messages: [
        { role: 'user', content: 'Tromsø' },
        { role: 'assistant', content: null, tool_calls: [call] },
        { role: 'tool', tool_call_id: call.id, content: 'minus 3' },
      ],
    });
    assert.equal(answered.choices[0]?.message.content, 'Tool result: minus 3');
    const sent = (stack.sims.publicApi.received().at(-1)?.body as Body).messages as { role: string; content: unknown }[];
    assert.equal(sent[2]?.role, 'user');
    assert.deepEqual(sent[2]?.content, [{ type: 'tool_result', tool_use_id: call.id, content: 'minus 3' }]);
  });

  it('lists models in Anthropic format for the Anthropic SDK', async () => {
    const ids: string[] = [];
    for await (const model of anthropic.models.list()) ids.push(model.id);
    assert.ok(ids.includes('claude-sonnet-5-5'));
    assert.ok(!ids.includes('bge-m3'), 'embedding models are not Messages models');
  });
});
