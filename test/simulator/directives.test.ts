import assert from 'node:assert/strict';
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startSimulator, type ReceivedRequest, type SimulatorHandle } from '../../src/simulator/index.js';

/** Polls the recording (bounded) until an entry matches; returns the last snapshot's match or undefined. */
async function waitForRecord(sim: SimulatorHandle, predicate: (r: ReceivedRequest) => boolean): Promise<ReceivedRequest | undefined> {
  for (let i = 0; i < 300; i++) {
    const found = sim.received().find(predicate);
    if (found !== undefined) return found;
    await sleep(10);
  }
  return undefined;
}

/** Raw POST that collects every byte until the server closes or ends, and reports how it ended. */
function rawPost(url: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number | undefined; text: string; ended: 'complete' | 'error' }> {
  return new Promise((resolve) => {
    let text = '';
    let status: number | undefined;
    const req = request(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      status = res.statusCode;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status, text, ended: 'complete' }));
      res.on('error', () => resolve({ status, text, ended: 'error' }));
    });
    req.on('error', () => resolve({ status, text, ended: 'error' }));
    req.end(JSON.stringify(body));
  });
}

const userText = (text: string): { model: string; messages: { role: 'user'; content: string }[] } => ({
  model: 'm',
  messages: [{ role: 'user', content: text }],
});

describe('simulator: directives', () => {
  let sim: SimulatorHandle;
  let openai: OpenAI;
  let anthropic: Anthropic;

  before(async () => {
    sim = await startSimulator({ name: 'directives' });
    openai = new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'x', maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: sim.url, apiKey: 'x', maxRetries: 0 });
  });
  after(() => sim.close());

  it('status=NNN answers that status in each envelope, with retry-after on 429/503', async () => {
    const limited = await fetch(`${sim.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify(userText('hi [[sim:status=429]]')) });
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '1');
    const limitedBody = (await limited.json()) as { error: { code: string } };
    assert.equal(limitedBody.error.code, 'rate_limit_exceeded');

    await assert.rejects(openai.chat.completions.create(userText('[[sim:status=500]]')), OpenAI.InternalServerError);
    await assert.rejects(
      openai.chat.completions.create({ ...userText('[[sim:status=503]]'), stream: true }),
      (err: unknown) => err instanceof OpenAI.APIError && err.status === 503,
    );

    await assert.rejects(
      anthropic.messages.create({ ...userText('x [[sim:status=529]]'), max_tokens: 5 }),
      (err: unknown) => {
        assert.ok(err instanceof Anthropic.APIError);
        assert.equal(err.status, 529);
        assert.deepEqual(err.error, { type: 'error', error: { type: 'overloaded_error', message: 'Simulated upstream error (status 529)' } });
        return true;
      },
    );

    const embed = await fetch(`${sim.url}/v1/embeddings`, { method: 'POST', body: JSON.stringify({ model: 'e', input: ['[[sim:status=503]]'] }) });
    assert.equal(embed.status, 503);
    await embed.text();
  });

  it('reply=... replaces the echo, and delay_ms delays without changing content', async () => {
    const completion = await openai.chat.completions.create(userText('[[sim:reply=Hello {{NAME}}, see you]] [[sim:delay_ms=5]]'));
    assert.equal(completion.choices[0]?.message.content, 'Hello {{NAME}}, see you');
    assert.equal(completion.usage?.completion_tokens, 4);

    const message = await anthropic.messages.create({ ...userText('[[sim:reply=custom answer]]'), max_tokens: 5 });
    assert.deepEqual(message.content, [{ type: 'text', text: 'custom answer' }]);
  });

  it('keeps directives in the echoed text', async () => {
    const completion = await openai.chat.completions.create(userText('hi [[sim:delay_ms=1]]'));
    assert.equal(completion.choices[0]?.message.content, 'You said: hi [[sim:delay_ms=1]]');
  });

  it('drop_after=N sends N chunks then cuts the stream without a terminator', async () => {
    sim.clear();
    const raw = await rawPost(sim.url, '/v1/chat/completions', { ...userText('one two three four five [[sim:drop_after=2]]'), stream: true });
    assert.equal(raw.status, 200);
    assert.equal(raw.ended, 'error');
    assert.equal(raw.text.match(/"delta":\{"content":"[^"]/g)?.length, 2);
    assert.ok(!raw.text.includes('[DONE]'));
    assert.ok(!raw.text.includes('finish_reason":"stop'));

    const record = await waitForRecord(sim, () => true);
    assert.equal(record?.completed, false);
    assert.equal(record?.aborted, false, 'the simulator cut the connection, not the peer');

    const anthropicRaw = await rawPost(
      sim.url,
      '/v1/messages',
      { ...userText('a b c d [[sim:drop_after=3]]'), max_tokens: 5, stream: true },
      { 'anthropic-version': '2023-06-01' },
    );
    assert.equal(anthropicRaw.ended, 'error');
    assert.equal(anthropicRaw.text.match(/event: content_block_delta/g)?.length, 3);
    assert.ok(!anthropicRaw.text.includes('message_stop'));
  });

  it('drop_after surfaces as an error in both SDKs, streaming and not', async () => {
    await assert.rejects(async () => {
      const stream = await openai.chat.completions.create({ ...userText('a b c [[sim:drop_after=1]]'), stream: true });
      for await (const chunk of stream) void chunk;
    });
    await assert.rejects(openai.chat.completions.create(userText('[[sim:drop_after=0]]')), OpenAI.APIConnectionError);
    await assert.rejects(async () => {
      const stream = anthropic.messages.stream({ ...userText('a b c [[sim:drop_after=1]]'), max_tokens: 5 });
      await stream.finalMessage();
    });
    await assert.rejects(anthropic.messages.create({ ...userText('[[sim:drop_after=0]]'), max_tokens: 5 }), Anthropic.APIConnectionError);
  });

  it('stall_after=N plus a client abort is recorded as aborted', async () => {
    sim.clear();
    const controller = new AbortController();
    const stream = await openai.chat.completions.create(
      { ...userText('one two three four [[sim:stall_after=2]]'), stream: true },
      { signal: controller.signal },
    );
    const seen: string[] = [];
    // The SDK ends iteration quietly on a user abort; either way the loop must not hang on the stall.
    try {
      for await (const chunk of stream) {
        const content = chunk.choices[0]?.delta.content;
        if (content) seen.push(content);
        if (seen.length === 2) controller.abort();
      }
    } catch (err) {
      assert.ok(err instanceof OpenAI.APIUserAbortError, String(err));
    }
    assert.deepEqual(seen, ['You ', 'said: ']);
    const record = await waitForRecord(sim, (r) => r.aborted);
    assert.ok(record !== undefined, 'the stalled request was recorded as aborted');
    assert.equal(record.completed, false);
  });

  it('stall_after on a non-streaming request sends headers only; abort is recorded', async () => {
    sim.clear();
    const controller = new AbortController();
    const response = await fetch(`${sim.url}/v1/messages`, {
      method: 'POST',
      headers: { 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ ...userText('[[sim:stall_after=0]]'), max_tokens: 5 }),
      signal: controller.signal,
    });
    assert.equal(response.status, 200);
    controller.abort();
    await assert.rejects(response.text());
    assert.ok((await waitForRecord(sim, (r) => r.aborted)) !== undefined);
  });

  it('an abort during delay_ms stops the pending timer and is recorded', async () => {
    sim.clear();
    const controller = new AbortController();
    const pending = fetch(`${sim.url}/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify(userText('[[sim:delay_ms=600000]]')),
      signal: controller.signal,
    });
    assert.ok((await waitForRecord(sim, (r) => r.body !== null)) !== undefined);
    controller.abort();
    await assert.rejects(pending);
    // A timer left running would also keep this test process alive for ten minutes.
    assert.ok((await waitForRecord(sim, (r) => r.aborted)) !== undefined);
  });
});

describe('simulator: close()', () => {
  it('severs stalled streams instead of hanging', async () => {
    const sim = await startSimulator();
    const raw = rawPost(sim.url, '/v1/chat/completions', { ...userText('a b [[sim:stall_after=1]]'), stream: true });
    assert.ok((await waitForRecord(sim, (r) => r.body !== null)) !== undefined);
    await sim.close();
    const result = await raw;
    assert.equal(result.ended, 'error');
  });
});
