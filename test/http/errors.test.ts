import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { eventually, startStack, type TestStack, TEST_KEY } from '../helpers/gateway.js';

interface OpenAIEnvelope {
  error: { message: string; type: string; param: string | null; code: string };
}
interface AnthropicEnvelope {
  type: 'error';
  error: { type: string; message: string; code: string };
}

async function post(url: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; json: unknown }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text === '' ? null : (JSON.parse(text) as unknown) };
}

describe('bad input and failures get a clear error in the client envelope', () => {
  let stack: TestStack;
  let openai: OpenAI;
  let anthropic: Anthropic;

  before(async () => {
    // These tests fail upstreams on purpose; a high breaker threshold keeps the backends in play.
    stack = await startStack({ bodyLimitBytes: 64 * 1024, firstByteMs: 300, extraYaml: 'routing: { breaker: { failureThreshold: 1000 } }' });
    openai = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: TEST_KEY, maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: stack.url, apiKey: TEST_KEY, maxRetries: 0 });
  });
  after(async () => stack.close());

  it('bad JSON → 400 invalid_request (OpenAI envelope)', async () => {
    const res = await post(`${stack.url}/v1/chat/completions`, '{"model": "x", "messages": [');
    assert.equal(res.status, 400);
    const body = res.json as OpenAIEnvelope;
    assert.equal(body.error.code, 'invalid_request');
    assert.equal(body.error.type, 'invalid_request_error');
    assert.match(body.error.message, /not valid JSON/);
    assert.ok(res.headers.get('x-request-id'));
    assert.equal(res.headers.get('x-perimeter-tier'), 'none');
  });

  it('bad JSON on /v1/messages → Anthropic envelope', async () => {
    const res = await post(`${stack.url}/v1/messages`, '{nope');
    assert.equal(res.status, 400);
    const body = res.json as AnthropicEnvelope;
    assert.equal(body.type, 'error');
    assert.equal(body.error.type, 'invalid_request_error');
    assert.equal(body.error.code, 'invalid_request');
  });

  it('wrong types name the field and never echo its value', async () => {
    const secret = 'SECRET-VALUE-123';
    const res = await post(`${stack.url}/v1/chat/completions`, JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 42 }], temperature: secret }));
    assert.equal(res.status, 400);
    const body = res.json as OpenAIEnvelope;
    assert.match(body.error.message, /messages\[0\]/);
    assert.match(body.error.message, /temperature: expected number/);
    assert.ok(!body.error.message.includes(secret));
    const res2 = await post(`${stack.url}/v1/chat/completions`, JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'robot', content: 'x' }] }));
    assert.equal(res2.status, 400);
    const res3 = await post(`${stack.url}/v1/chat/completions`, JSON.stringify([1, 2]));
    assert.equal(res3.status, 400);
    const res4 = await post(`${stack.url}/v1/messages`, JSON.stringify({ model: 'claude-sonnet-5-5', messages: [{ role: 'user', content: 'x' }] }));
    assert.equal(res4.status, 400);
    assert.match((res4.json as AnthropicEnvelope).error.message, /max_tokens/);
  });

  it('unknown parameters are refused rather than forwarded unscanned', async () => {
    const res = await post(`${stack.url}/v1/chat/completions`, JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }], smuggled: 'data' }));
    assert.equal(res.status, 400);
    assert.match((res.json as OpenAIEnvelope).error.message, /unknown key "smuggled"/);
  });

  it('an oversized body → 413 payload_too_large in both envelopes', async () => {
    const big = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x'.repeat(70 * 1024) }] });
    const res = await post(`${stack.url}/v1/chat/completions`, big);
    assert.equal(res.status, 413);
    assert.equal((res.json as OpenAIEnvelope).error.code, 'payload_too_large');
    const res2 = await post(`${stack.url}/v1/messages`, big);
    assert.equal(res2.status, 413);
    assert.equal((res2.json as AnthropicEnvelope).error.type, 'request_too_large');
  });

  it('a non-JSON content type → 415', async () => {
    const res = await fetch(`${stack.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
    assert.equal(res.status, 415);
    assert.equal(((await res.json()) as OpenAIEnvelope).error.code, 'unsupported_media_type');
  });

  it('an unknown model → 404 model_not_found, through both SDKs', async () => {
    await assert.rejects(openai.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.NotFoundError);
      assert.equal(err.code, 'model_not_found');
      return true;
    });
    await assert.rejects(anthropic.messages.create({ model: 'no-such-model', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }), (err: unknown) => {
      assert.ok(err instanceof Anthropic.NotFoundError);
      return true;
    });
  });

  it('an unknown route → 404 in the envelope', async () => {
    const res = await fetch(`${stack.url}/v1/nothing-here`);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as OpenAIEnvelope).error.code, 'not_found');
  });

  it('upstream 500 → 502 upstream_error, streaming and not', async () => {
    await assert.rejects(
      openai.chat.completions.create({ model: 'llama-3.1-8b-instruct', messages: [{ role: 'user', content: 'fail [[sim:status=500]]' }] }),
      (err: unknown) => {
        assert.ok(err instanceof OpenAI.APIError);
        assert.equal(err.status, 502);
        assert.equal(err.code, 'upstream_error');
        return true;
      },
    );
    const res = await post(
      `${stack.url}/v1/chat/completions`,
      JSON.stringify({ model: 'llama-3.1-8b-instruct', stream: true, messages: [{ role: 'user', content: 'fail [[sim:status=500]]' }] }),
    );
    assert.equal(res.status, 502, 'a refusal before the first byte is still a status code');
    assert.equal(res.headers.get('x-perimeter-backend'), 'onprem-vllm');
    await assert.rejects(
      anthropic.messages.create({ model: 'claude-sonnet-5-5', max_tokens: 5, messages: [{ role: 'user', content: '[[sim:status=500]]' }] }),
      (err: unknown) => err instanceof Anthropic.APIError && err.status === 502,
    );
  });

  it('upstream slower than the first-byte timeout → 504 upstream_timeout', async () => {
    await assert.rejects(
      openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'slow [[sim:delay_ms=2000]]' }] }),
      (err: unknown) => {
        assert.ok(err instanceof OpenAI.APIError);
        assert.equal(err.status, 504);
        assert.equal(err.code, 'upstream_timeout');
        return true;
      },
    );
  });

  it('upstream dropping mid-stream ends the stream with an error event', async () => {
    const stream = await openai.chat.completions.create({
      model: 'llama-3.1-8b-instruct',
      stream: true,
      messages: [{ role: 'user', content: 'a b c d e f g [[sim:drop_after=2]]' }],
    });
    let text = '';
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      })(),
      (err: unknown) => {
        assert.ok(err instanceof OpenAI.APIError, `got ${String(err)}`);
        assert.match(err.message, /dropped|upstream/i);
        return true;
      },
    );
    assert.ok(text.length > 0, 'the chunks before the drop arrived');

    const anthropicStream = anthropic.messages.stream({
      model: 'claude-sonnet-5-5',
      max_tokens: 50,
      messages: [{ role: 'user', content: 'a b c d e f g [[sim:drop_after=2]]' }],
    });
    await assert.rejects(anthropicStream.finalMessage());
  });

  it('a client abort mid-stream reaches the upstream', async () => {
    stack.sims.onPrem.clear();
    const controller = new AbortController();
    const stream = await openai.chat.completions.create(
      { model: 'llama-3.1-8b-instruct', stream: true, messages: [{ role: 'user', content: 'a b c d [[sim:stall_after=1]]' }] },
      { signal: controller.signal },
    );
    let chunks = 0;
    // The SDK either ends the iteration quietly or throws an abort error; both are fine here.
    try {
      for await (const _chunk of stream) {
        chunks += 1;
        controller.abort();
      }
    } catch (err) {
      assert.ok(err instanceof Error && /abort/i.test(err.name + err.message), String(err));
    }
    assert.ok(chunks >= 1);
    const aborted = await eventually(() => stack.sims.onPrem.received().some((r) => r.aborted));
    assert.ok(aborted, 'the simulated upstream saw its connection closed');
  });

  it('the gateway keeps serving after all of the above', async () => {
    const ok = await openai.chat.completions.create({ model: 'llama-3.1-8b-instruct', messages: [{ role: 'user', content: 'still here' }] });
    assert.equal(ok.choices[0]?.message.content, 'You said: still here');
  });
});
