import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI, { AzureOpenAI } from 'openai';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';

describe('simulator: OpenAI protocol via the openai SDK', () => {
  let sim: SimulatorHandle;
  let client: OpenAI;

  before(async () => {
    sim = await startSimulator({ name: 'public-api', chatModels: ['gpt-sim'], embeddingModels: ['embed-sim'] });
    client = new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'x', maxRetries: 0 });
  });
  after(() => sim.close());

  it('answers non-streaming chat by quoting the last user message', async () => {
    const completion = await client.chat.completions.create({
      model: 'gpt-sim',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'first' },
        { role: 'assistant', content: 'ok' },
        { role: 'user', content: [{ type: 'text', text: 'hello ' }, { type: 'text', text: 'world' }] },
      ],
    });
    assert.match(completion.id, /^chatcmpl-/);
    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.model, 'gpt-sim');
    const choice = completion.choices[0];
    assert.equal(choice?.message.content, 'You said: hello world');
    assert.equal(choice?.finish_reason, 'stop');
    // 8 + 5 + 2 + 11 = 26 chars -> ceil(26 / 4) = 7; "You said: hello world" has 4 pieces.
    assert.deepEqual(completion.usage, { prompt_tokens: 7, completion_tokens: 4, total_tokens: 11 });
  });

  it('streams one chunk per word and a final usage chunk with include_usage', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-sim',
      messages: [{ role: 'user', content: 'stream me please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const contents: string[] = [];
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | null | undefined;
    let lastChoicesLength = -1;
    for await (const chunk of stream) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      assert.match(chunk.id, /^chatcmpl-/);
      lastChoicesLength = chunk.choices.length;
      const choice = chunk.choices[0];
      if (choice?.delta.content) contents.push(choice.delta.content);
      if (choice?.finish_reason) finish = choice.finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    assert.deepEqual(contents, ['You ', 'said: ', 'stream ', 'me ', 'please']);
    assert.equal(finish, 'stop');
    assert.equal(lastChoicesLength, 0, 'the usage chunk has choices: []');
    assert.deepEqual(usage, { prompt_tokens: 4, completion_tokens: 5, total_tokens: 9 });
  });

  it('streams a tool call that the SDK reassembles', async () => {
    const runner = client.chat.completions.stream({
      model: 'gpt-sim',
      messages: [{ role: 'user', content: 'weather in Oslo' }],
      tools: [
        { type: 'function', function: { name: 'noop', parameters: { type: 'object', properties: {} } } },
        {
          type: 'function',
          function: {
            name: 'get_weather',
            parameters: {
              type: 'object',
              properties: {
                city: { type: 'string' },
                days: { type: 'integer' },
                metric: { type: ['boolean', 'null'] },
                extra: { type: 'object' },
              },
            },
          },
        },
      ],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
    });
    let argumentDeltas = 0;
    runner.on('chunk', (chunk) => {
      if (chunk.choices[0]?.delta.tool_calls?.[0]?.function?.arguments) argumentDeltas++;
    });
    const final = await runner.finalChatCompletion();
    const choice = final.choices[0];
    assert.equal(choice?.finish_reason, 'tool_calls');
    const call = choice?.message.tool_calls?.[0];
    assert.ok(call !== undefined && call.type === 'function');
    assert.match(call.id, /^call_/);
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'weather in Oslo', days: 1, metric: true });
    assert.equal(argumentDeltas, 3);
  });

  it('calls the first tool when tool_choice is auto, and none disables tools', async () => {
    const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'first' } }];
    const called = await client.chat.completions.create({ model: 'gpt-sim', messages: [{ role: 'user', content: 'x' }], tools });
    assert.equal(called.choices[0]?.message.tool_calls?.[0]?.type, 'function');
    const toolCall = called.choices[0]?.message.tool_calls?.[0];
    assert.equal(toolCall?.type === 'function' ? toolCall.function.arguments : undefined, '{}');
    assert.equal(called.choices[0]?.message.content, null);

    const plain = await client.chat.completions.create({
      model: 'gpt-sim',
      messages: [{ role: 'user', content: 'x' }],
      tools,
      tool_choice: 'none',
    });
    assert.equal(plain.choices[0]?.message.content, 'You said: x');
  });

  it('answers a tool result with "Tool result: ..."', async () => {
    const completion = await client.chat.completions.create({
      model: 'gpt-sim',
      messages: [
        { role: 'user', content: 'weather?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'w', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'sunny, 21C' },
      ],
      tools: [{ type: 'function', function: { name: 'w' } }],
    });
    assert.equal(completion.choices[0]?.message.content, 'Tool result: sunny, 21C');
    assert.equal(completion.choices[0]?.finish_reason, 'stop');
  });

  it('returns deterministic embeddings as float and as base64 (the SDK default)', async () => {
    const asFloat = await client.embeddings.create({ model: 'embed-sim', input: ['alpha', 'beta'], encoding_format: 'float' });
    const asBase64 = await client.embeddings.create({ model: 'embed-sim', input: ['alpha', 'beta'] });
    const again = await client.embeddings.create({ model: 'embed-sim', input: 'alpha', dimensions: 16 });
    assert.equal(asFloat.object, 'list');
    assert.equal(asFloat.data.length, 2);
    assert.equal(asFloat.data[0]?.embedding.length, 8);
    assert.deepEqual(asBase64.data.map((d) => d.embedding), asFloat.data.map((d) => d.embedding));
    assert.notDeepEqual(asFloat.data[0]?.embedding, asFloat.data[1]?.embedding);
    assert.equal(again.data[0]?.embedding.length, 16);
    const norm = Math.hypot(...(again.data[0]?.embedding ?? []));
    assert.ok(Math.abs(norm - 1) < 1e-5);
    assert.ok(asFloat.usage.prompt_tokens >= 1);
  });

  it('lists the configured models', async () => {
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    assert.deepEqual(ids, ['gpt-sim', 'embed-sim']);
  });

  it('answers 404 in the OpenAI envelope for a model it does not serve', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'other', messages: [{ role: 'user', content: 'x' }] }),
      (err: unknown) => {
        assert.ok(err instanceof OpenAI.NotFoundError);
        assert.equal(err.code, 'model_not_found');
        assert.equal(err.type, 'invalid_request_error');
        return true;
      },
    );
    await assert.rejects(client.embeddings.create({ model: 'gpt-sim', input: 'x' }), OpenAI.NotFoundError);
  });

  it('answers 400 in the OpenAI envelope for invalid requests', async () => {
    await assert.rejects(client.chat.completions.create({ model: 'gpt-sim', messages: [] }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.BadRequestError);
      assert.equal(err.param, 'messages');
      return true;
    });
    await assert.rejects(
      client.embeddings.create({ model: 'embed-sim', input: 'x', dimensions: 0 }),
      OpenAI.BadRequestError,
    );
  });
});

describe('simulator: Azure OpenAI paths', () => {
  let sim: SimulatorHandle;

  before(async () => {
    sim = await startSimulator({ name: 'private-cloud', chatModels: ['my-deployment'], embeddingModels: ['my-embed'], apiKey: 'azure-key' });
  });
  after(() => sim.close());

  it('serves chat and embeddings per deployment via the AzureOpenAI client', async () => {
    const azure = new AzureOpenAI({ endpoint: sim.url, apiKey: 'azure-key', apiVersion: '2024-10-21', maxRetries: 0 });
    const completion = await azure.chat.completions.create({ model: 'my-deployment', messages: [{ role: 'user', content: 'hi azure' }] });
    assert.equal(completion.model, 'my-deployment');
    assert.equal(completion.choices[0]?.message.content, 'You said: hi azure');

    const stream = await azure.chat.completions.create({
      model: 'my-deployment',
      messages: [{ role: 'user', content: 'hi stream' }],
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    assert.equal(text, 'You said: hi stream');

    const embeddings = await azure.embeddings.create({ model: 'my-embed', input: 'vector me' });
    assert.equal(embeddings.data[0]?.embedding.length, 8);

    const recorded = sim.received();
    assert.equal(recorded[0]?.path, '/openai/deployments/my-deployment/chat/completions');
    assert.equal(recorded[0]?.query['api-version'], '2024-10-21');
    assert.equal(recorded[0]?.headers['api-key'], 'azure-key');
    assert.equal(recorded[2]?.path, '/openai/deployments/my-embed/embeddings');
  });

  it('requires api-version and serves only configured deployments', async () => {
    const body = JSON.stringify({ messages: [{ role: 'user', content: 'x' }] });
    const headers = { 'content-type': 'application/json', 'api-key': 'azure-key' };
    const missing = await fetch(`${sim.url}/openai/deployments/my-deployment/chat/completions`, { method: 'POST', headers, body });
    assert.equal(missing.status, 400);
    const missingBody = (await missing.json()) as { error: { param: string } };
    assert.equal(missingBody.error.param, 'api-version');

    const unknown = await fetch(`${sim.url}/openai/deployments/nope/chat/completions?api-version=1`, { method: 'POST', headers, body });
    assert.equal(unknown.status, 404);
    const unknownBody = (await unknown.json()) as { error: { code: string } };
    assert.equal(unknownBody.error.code, 'model_not_found');
  });
});
