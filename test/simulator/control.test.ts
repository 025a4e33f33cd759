import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startSimulator, type ReceivedRequest, type SimulatorHandle } from '../../src/simulator/index.js';

const chatBody = (text: string): string => JSON.stringify({ model: 'm', messages: [{ role: 'user', content: text }] });

function postChat(sim: SimulatorHandle, text: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${sim.url}/v1/chat/completions?trace=1`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: chatBody(text),
  });
}

describe('simulator: recording and control routes', () => {
  let sim: SimulatorHandle;

  before(async () => {
    sim = await startSimulator({ name: 'on-prem' });
  });
  after(() => sim.close());

  it('records requests with lowercased headers, query and parsed body, and clears them', async () => {
    sim.clear();
    const response = await postChat(sim, 'record me', { 'X-Custom-Header': 'Value' });
    assert.equal(response.headers.get('x-sim-name'), 'on-prem');
    await response.text();

    const recorded = sim.received();
    assert.equal(recorded.length, 1);
    const entry = recorded[0];
    assert.ok(entry !== undefined);
    assert.equal(entry.method, 'POST');
    assert.equal(entry.path, '/v1/chat/completions');
    assert.deepEqual(entry.query, { trace: '1' });
    assert.equal(entry.headers['x-custom-header'], 'Value');
    assert.deepEqual(entry.body, JSON.parse(chatBody('record me')));
    assert.equal(entry.completed, true);
    assert.equal(entry.aborted, false);
    assert.ok(!Number.isNaN(Date.parse(entry.time)));

    const overHttp = (await (await fetch(`${sim.url}/_sim/received`)).json()) as ReceivedRequest[];
    assert.equal(overHttp.length, 1, 'control requests are not recorded');
    assert.equal(overHttp[0]?.seq, entry.seq);

    const cleared = await fetch(`${sim.url}/_sim/received`, { method: 'DELETE' });
    assert.equal(cleared.status, 204);
    assert.deepEqual(sim.received(), []);

    await (await postChat(sim, 'again')).text();
    const next = sim.received();
    assert.equal(next.length, 1);
    assert.ok((next[0]?.seq ?? 0) > entry.seq, 'seq keeps increasing across clear()');
  });

  it('answers health checks', async () => {
    const response = await fetch(`${sim.url}/_sim/health`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: 'ok', name: 'on-prem' });
  });

  it('answers unknown routes and bad JSON with errors in the protocol envelope', async () => {
    sim.clear();
    const unknown = await fetch(`${sim.url}/v2/whatever`, { method: 'POST', body: '{}' });
    assert.equal(unknown.status, 404);
    const unknownBody = (await unknown.json()) as { error: { message: string } };
    assert.match(unknownBody.error.message, /Unknown route/);

    const badOpenAI = await fetch(`${sim.url}/v1/chat/completions`, { method: 'POST', body: '{"model": "m", ' });
    assert.equal(badOpenAI.status, 400);
    const badOpenAIBody = (await badOpenAI.json()) as { error: { message: string; type: string; param: unknown; code: unknown } };
    assert.equal(badOpenAIBody.error.type, 'invalid_request_error');
    assert.ok('param' in badOpenAIBody.error && 'code' in badOpenAIBody.error);

    const badAnthropic = await fetch(`${sim.url}/v1/messages`, {
      method: 'POST',
      headers: { 'anthropic-version': '2023-06-01' },
      body: 'not json',
    });
    assert.equal(badAnthropic.status, 400);
    assert.deepEqual(Object.keys((await badAnthropic.json()) as object), ['type', 'error']);

    const notObject = await fetch(`${sim.url}/v1/chat/completions`, { method: 'POST', body: '[1,2]' });
    assert.equal(notObject.status, 400);
    await notObject.text();

    const wrongMethod = await fetch(`${sim.url}/v1/chat/completions`);
    assert.equal(wrongMethod.status, 405);
    await wrongMethod.text();

    const recorded = sim.received();
    assert.equal(recorded.length, 5);
    assert.equal(recorded[1]?.body, null, 'unparseable bodies are recorded as null');
    assert.ok(recorded.every((r) => r.completed));
  });

  it('survives hostile input', async () => {
    const bodies = [
      '{"model": 1, "messages": "x"}',
      '{"model": "m", "messages": [null, 3]}',
      '{"model": "m", "messages": [{"role": "user", "content": {"weird": true}}], "tools": "no"}',
      '{"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]}',
      '{"model": "m", "messages": [{"role": "user", "content": "x"}], "tool_choice": {"type": "function", "function": {"name": "absent"}}, "tools": [{"type": "function", "function": {"name": "a"}}]}',
      '{"model": "m", "messages": [{"role": "user", "content": "[[sim:status=abc]]"}]}',
      '{"model": "m", "messages": [{"role": "user", "content": "[[sim:nonsense=1]]"}]}',
      '{"model": "m", "messages": [{"role": "user", "content": "[[sim:status=500"}]}',
      '{"model": "m", "input": {"x": 1}}',
    ];
    for (const body of bodies) {
      const response = await fetch(`${sim.url}/v1/chat/completions`, { method: 'POST', body });
      assert.equal(response.status, 400, body);
      const parsed = (await response.json()) as { error?: { message?: unknown } };
      assert.equal(typeof parsed.error?.message, 'string', body);
    }
    const embeddings = await fetch(`${sim.url}/v1/embeddings`, { method: 'POST', body: '{"model": "e", "input": [[1, "a"]]}' });
    assert.equal(embeddings.status, 400);
    await embeddings.text();
    const health = await fetch(`${sim.url}/_sim/health`);
    assert.equal(health.status, 200);
    await health.text();
  });
});

describe('simulator: recording limits', () => {
  it('keeps only the newest maxRecorded entries', async () => {
    const sim = await startSimulator({ maxRecorded: 3 });
    try {
      for (let i = 0; i < 5; i++) await (await postChat(sim, `n${i}`)).text();
      assert.deepEqual(
        sim.received().map((r) => r.seq),
        [3, 4, 5],
      );
    } finally {
      await sim.close();
    }
  });

  it('records nothing when record is false', async () => {
    const sim = await startSimulator({ record: false });
    try {
      const response = await postChat(sim, 'x');
      assert.equal(response.status, 200);
      await response.text();
      assert.deepEqual(sim.received(), []);
      assert.deepEqual(await (await fetch(`${sim.url}/_sim/received`)).json(), []);
    } finally {
      await sim.close();
    }
  });
});

describe('simulator: apiKey enforcement', () => {
  let sim: SimulatorHandle;

  before(async () => {
    sim = await startSimulator({ apiKey: 'sekret' });
  });
  after(() => sim.close());

  it('rejects missing or wrong keys in the protocol envelope', async () => {
    const missing = await postChat(sim, 'x');
    assert.equal(missing.status, 401);
    const missingBody = (await missing.json()) as { error: { code: string } };
    assert.equal(missingBody.error.code, 'invalid_api_key');

    const openai = new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'wrong', maxRetries: 0 });
    await assert.rejects(openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }), OpenAI.AuthenticationError);

    const anthropic = new Anthropic({ baseURL: sim.url, apiKey: 'wrong', maxRetries: 0 });
    await assert.rejects(
      anthropic.messages.create({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
      (err: unknown) => {
        assert.ok(err instanceof Anthropic.AuthenticationError);
        assert.deepEqual(err.error, { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } });
        return true;
      },
    );
  });

  it('accepts the key as Bearer, x-api-key or api-key', async () => {
    const variants: Record<string, string>[] = [{ authorization: 'Bearer sekret' }, { 'x-api-key': 'sekret' }, { 'api-key': 'sekret' }];
    for (const headers of variants) {
      const response = await postChat(sim, 'x', headers);
      assert.equal(response.status, 200, JSON.stringify(headers));
      await response.text();
    }
    const openai = new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'sekret', maxRetries: 0 });
    const completion = await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'ok' }] });
    assert.equal(completion.choices[0]?.message.content, 'You said: ok');
    const anthropic = new Anthropic({ baseURL: sim.url, apiKey: 'sekret', maxRetries: 0 });
    const message = await anthropic.messages.create({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'ok' }] });
    assert.equal(message.stop_reason, 'end_turn');
  });

  it('does not guard the control routes', async () => {
    const response = await fetch(`${sim.url}/_sim/health`);
    assert.equal(response.status, 200);
    await response.text();
  });
});

describe('simulator: errorRate', () => {
  it('fails a deterministic share of requests with errorStatus', async () => {
    const sim = await startSimulator({ errorRate: 0.25, errorStatus: 503 });
    try {
      const statuses: number[] = [];
      const retryAfter: (string | null)[] = [];
      for (let i = 0; i < 8; i++) {
        const response = await postChat(sim, `n${i}`);
        statuses.push(response.status);
        if (response.status !== 200) retryAfter.push(response.headers.get('retry-after'));
        await response.text();
      }
      assert.deepEqual(statuses, [200, 200, 200, 503, 200, 200, 200, 503]);
      assert.deepEqual(retryAfter, ['1', '1']);
    } finally {
      await sim.close();
    }
  });

  it('honours latency, ttft and pacing without changing the content', async () => {
    const sim = await startSimulator({ latencyMs: 5, ttftMs: 5, tokensPerSecond: 500 });
    try {
      const client = new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'x', maxRetries: 0 });
      const stream = await client.chat.completions.create({
        model: 'm',
        messages: [{ role: 'user', content: 'one two three four five six' }],
        stream: true,
      });
      const pieces: string[] = [];
      for await (const chunk of stream) {
        const content = chunk.choices[0]?.delta.content;
        if (content) pieces.push(content);
      }
      assert.equal(pieces.join(''), 'You said: one two three four five six');
      assert.equal(pieces.length, 8);
    } finally {
      await sim.close();
    }
  });
});
