import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { trace } from '@opentelemetry/api';
import OpenAI from 'openai';
import { startStack, TEST_KEY, type TestStack } from '../helpers/gateway.js';
import { recordingProvider, type Recorded } from '../helpers/tracing.js';

describe('a span per pipeline stage', () => {
  const { provider, spans } = recordingProvider();
  let stack: TestStack;

  before(async () => {
    // Stands in for an OTel SDK; this test file runs in its own process.
    trace.setGlobalTracerProvider(provider);
    stack = await startStack();
  });
  after(async () => stack.close());

  it('traces classify, policy and upstream under the request span, with no content', async () => {
    const openai = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: TEST_KEY, maxRetries: 0 });
    await openai.chat.completions.create({ model: 'llama-3.1-8b-instruct', messages: [{ role: 'user', content: 'card 4111 1111 1111 1111' }] }, { headers: { 'x-request-id': 'traced-1' } });
    let root: Recorded | undefined;
    for (let i = 0; i < 50 && root?.ended !== true; i++) {
      root = spans.find((s) => s.attributes['perimeter.request_id'] === 'traced-1');
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(root?.ended, 'the request span ended');
    const children = spans.filter((s) => s.parent === root?.id).map((s) => s.name);
    for (const stage of ['perimeter.classify', 'perimeter.policy', 'perimeter.upstream']) assert.ok(children.includes(stage), `${stage} in ${children.join(',')}`);
    assert.equal(root.name, 'chat llama-3.1-8b-instruct');
    assert.ok(!JSON.stringify(spans).includes('4111'), 'no raw value in any span');
  });
});
