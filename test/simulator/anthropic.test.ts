import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';

async function readEvents(response: Response): Promise<EventSourceMessage[]> {
  const events: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => events.push(event) });
  const decoder = new TextDecoder();
  assert.ok(response.body !== null);
  for await (const bytes of response.body) parser.feed(decoder.decode(bytes, { stream: true }));
  return events;
}

describe('simulator: Anthropic protocol via @anthropic-ai/sdk', () => {
  let sim: SimulatorHandle;
  let client: Anthropic;

  before(async () => {
    sim = await startSimulator({ name: 'public-api', chatModels: ['claude-sim'] });
    client = new Anthropic({ baseURL: sim.url, apiKey: 'x', maxRetries: 0 });
  });
  after(() => sim.close());

  it('answers non-streaming messages by quoting the last user text blocks', async () => {
    const message = await client.messages.create({
      model: 'claude-sim',
      max_tokens: 100,
      system: 'be brief',
      messages: [
        { role: 'user', content: 'earlier' },
        { role: 'assistant', content: 'ok' },
        { role: 'user', content: [{ type: 'text', text: 'hello ' }, { type: 'text', text: 'claude' }] },
      ],
    });
    assert.match(message.id, /^msg_/);
    assert.equal(message.type, 'message');
    assert.equal(message.role, 'assistant');
    assert.equal(message.model, 'claude-sim');
    assert.deepEqual(message.content, [{ type: 'text', text: 'You said: hello claude' }]);
    assert.equal(message.stop_reason, 'end_turn');
    assert.equal(message.stop_sequence, null);
    // 8 + 7 + 2 + 12 = 29 chars -> 8 tokens; 4 pieces out.
    assert.equal(message.usage.input_tokens, 8);
    assert.equal(message.usage.output_tokens, 4);
  });

  it('streams text that the SDK accumulates into a final message', async () => {
    const stream = client.messages.stream({
      model: 'claude-sim',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'stream this please' }],
    });
    const deltas: string[] = [];
    stream.on('text', (delta) => deltas.push(delta));
    const final = await stream.finalMessage();
    assert.deepEqual(deltas, ['You ', 'said: ', 'stream ', 'this ', 'please']);
    const block = final.content[0];
    assert.equal(final.content.length, 1);
    assert.ok(block !== undefined && block.type === 'text');
    assert.equal(block.text, 'You said: stream this please');
    assert.equal(final.stop_reason, 'end_turn');
    assert.equal(final.usage.output_tokens, 5);
    assert.equal(final.usage.input_tokens, 5);
  });

  it('emits the exact event sequence of the real API', async () => {
    const response = await fetch(`${sim.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': 'x' },
      body: JSON.stringify({ model: 'claude-sim', max_tokens: 10, stream: true, messages: [{ role: 'user', content: 'a b' }] }),
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    const events = await readEvents(response);
    assert.deepEqual(
      events.map((e) => e.event),
      [
        'message_start',
        'content_block_start',
        'ping',
        'content_block_delta',
        'content_block_delta',
        'content_block_delta',
        'content_block_delta',
        'content_block_stop',
        'message_delta',
        'message_stop',
      ],
    );
    for (const e of events) assert.equal((JSON.parse(e.data) as { type: string }).type, e.event);
    const delta = JSON.parse(events[8]?.data ?? '{}') as unknown;
    assert.deepEqual(delta, {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: 4 },
    });
  });

  it('streams tool use as input_json_delta pieces the SDK reassembles', async () => {
    const stream = client.messages.stream({
      model: 'claude-sim',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'find flights' }],
      tools: [
        { name: 'other', input_schema: { type: 'object' } },
        {
          name: 'search',
          input_schema: { type: 'object', properties: { query: { type: 'string' }, limit: { type: 'number' }, exact: { type: 'boolean' } } },
        },
      ],
      tool_choice: { type: 'tool', name: 'search' },
    });
    const partials: string[] = [];
    stream.on('inputJson', (partial) => partials.push(partial));
    const final = await stream.finalMessage();
    assert.equal(final.stop_reason, 'tool_use');
    const block = final.content[0];
    assert.ok(block !== undefined && block.type === 'tool_use');
    assert.match(block.id, /^toolu_/);
    assert.equal(block.name, 'search');
    assert.deepEqual(block.input, { query: 'find flights', limit: 1, exact: true });
    assert.equal(partials.length, 3);
    assert.equal(final.usage.output_tokens, 3);
  });

  it('returns tool_use non-streaming and answers the tool_result', async () => {
    const tools: Anthropic.Tool[] = [{ name: 'lookup', input_schema: { type: 'object', properties: { q: { type: 'string' } } } }];
    const first = await client.messages.create({
      model: 'claude-sim',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'look it up' }],
      tools,
    });
    assert.equal(first.stop_reason, 'tool_use');
    const use = first.content[0];
    assert.ok(use !== undefined && use.type === 'tool_use');
    assert.deepEqual(use.input, { q: 'look it up' });

    const second = await client.messages.create({
      model: 'claude-sim',
      max_tokens: 100,
      tools,
      messages: [
        { role: 'user', content: 'look it up' },
        { role: 'assistant', content: first.content },
        {
          role: 'user',
          content: [{ type: 'tool_result', tool_use_id: use.id, content: [{ type: 'text', text: 'found it' }] }],
        },
      ],
    });
    assert.equal(second.stop_reason, 'end_turn');
    assert.deepEqual(second.content, [{ type: 'text', text: 'Tool result: found it' }]);
  });

  it('requires the anthropic-version header and answers errors in the Anthropic envelope', async () => {
    const response = await fetch(`${sim.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-sim', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }),
    });
    assert.equal(response.status, 400);
    const body = (await response.json()) as { type: string; error: { type: string; message: string } };
    assert.equal(body.type, 'error');
    assert.equal(body.error.type, 'invalid_request_error');
    assert.match(body.error.message, /anthropic-version/);

    await assert.rejects(
      client.messages.create({ model: 'unknown-model', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }),
      (err: unknown) => {
        assert.ok(err instanceof Anthropic.NotFoundError);
        assert.deepEqual(err.error, { type: 'error', error: { type: 'not_found_error', message: 'model: unknown-model' } });
        return true;
      },
    );
  });
});

