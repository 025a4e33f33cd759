import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startStack, type TestStack, TEST_KEY } from '../helpers/gateway.js';

const CARD = '4111 1111 1111 1111';
const EMAIL = 'jane.doe@acme-corp.io';

interface ClassifyBody {
  level: string;
  findings: { entity: string; path: string; start: number; end: number; score: number }[];
  reasons: string[];
}

describe('classification on the request path', () => {
  let stack: TestStack;
  let openai: OpenAI;
  let anthropic: Anthropic;

  before(async () => {
    stack = await startStack();
    openai = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: TEST_KEY, maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: stack.url, apiKey: TEST_KEY, maxRetries: 0 });
  });
  after(async () => stack.close());

  async function classify(body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: ClassifyBody; headers: Headers }> {
    const res = await fetch(`${stack.url}/v1/perimeter/classify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as ClassifyBody, headers: res.headers };
  }

  it('every chat response carries x-perimeter-sensitivity', async () => {
    const plain = await openai.chat.completions.create({ model: 'llama-3.1-8b-instruct', messages: [{ role: 'user', content: 'Hello world' }] }).withResponse();
    assert.equal(plain.response.headers.get('x-perimeter-sensitivity'), 'public');
    const card = await openai.chat.completions.create({ model: 'llama-3.1-8b-instruct', messages: [{ role: 'user', content: `pay with ${CARD}` }] }).withResponse();
    assert.equal(card.response.headers.get('x-perimeter-sensitivity'), 'regulated');
    const streamed = await openai.chat.completions
      .create({ model: 'llama-3.1-8b-instruct', stream: true, messages: [{ role: 'user', content: `mail ${EMAIL}` }] })
      .withResponse();
    assert.equal(streamed.response.headers.get('x-perimeter-sensitivity'), 'confidential');
    for await (const _ of streamed.data) {
      // drain
    }
    const anth = await anthropic.messages.create({ model: 'claude-sonnet-5-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    assert.equal(anth.response.headers.get('x-perimeter-sensitivity'), 'public');
  });

  it('a caller label raises the level and never lowers it; a bad label is a 400', async () => {
    const raised = await openai.chat.completions
      .create({ model: 'llama-3.1-8b-instruct', messages: [{ role: 'user', content: 'Hello' }] }, { headers: { 'x-perimeter-sensitivity': 'confidential' } })
      .withResponse();
    assert.equal(raised.response.headers.get('x-perimeter-sensitivity'), 'confidential');
    const notLowered = await openai.chat.completions
      .create({ model: 'llama-3.1-8b-instruct', messages: [{ role: 'user', content: `card ${CARD}` }] }, { headers: { 'x-perimeter-sensitivity': 'public' } })
      .withResponse();
    assert.equal(notLowered.response.headers.get('x-perimeter-sensitivity'), 'regulated');
    await assert.rejects(
      openai.chat.completions.create({ model: 'llama-3.1-8b-instruct', messages: [{ role: 'user', content: 'x' }] }, { headers: { 'x-perimeter-sensitivity': 'top-secret' } }),
      (err: unknown) => err instanceof OpenAI.BadRequestError && /public\|internal\|confidential\|regulated/.test(err.message),
    );
  });

  it('a body metadata label raises the level and is not forwarded', async () => {
    stack.sims.onPrem.clear();
    const res = await openai.chat.completions
      .create({ model: 'llama-3.1-8b-instruct', messages: [{ role: 'user', content: 'Hello' }], metadata: { perimeter_sensitivity: 'regulated', ticket: 'T-1' } })
      .withResponse();
    assert.equal(res.response.headers.get('x-perimeter-sensitivity'), 'regulated');
    const body = stack.sims.onPrem.received().at(-1)?.body as { metadata?: Record<string, string> };
    assert.deepEqual(body.metadata, { ticket: 'T-1' });
    const anth = await anthropic.messages
      .create({
        model: 'gpt-4o',
        max_tokens: 10,
        messages: [{ role: 'user', content: 'hi' }],
        metadata: { user_id: 'u1', perimeter_sensitivity: 'internal' } as Anthropic.Metadata,
      })
      .withResponse();
    assert.equal(anth.response.headers.get('x-perimeter-sensitivity'), 'internal');
    const sent = stack.sims.privateCloud.received().at(-1)?.body as { user?: unknown; metadata?: unknown };
    assert.equal(sent.user, 'u1');
    assert.equal(sent.metadata, undefined);
  });

  it('scans every field that reaches a backend', async () => {
    const cases: [string, unknown, string][] = [
      ['system message', { messages: [{ role: 'system', content: `notify ${EMAIL}` }, { role: 'user', content: 'hi' }] }, 'messages[0].content[0]'],
      ['multi-part content', { messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }, { type: 'text', text: `card ${CARD}` }] }] }, 'messages[0].content[1]'],
      ['message name', { messages: [{ role: 'user', name: 'jane.doe@acme-corp.io', content: 'hi' }] }, 'messages[0].name'],
      [
        'tool call arguments (JSON string value)',
        {
          messages: [
            { role: 'user', content: 'x' },
            { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'pay', arguments: JSON.stringify({ card: CARD }) } }] },
            { role: 'tool', tool_call_id: 'c1', content: 'ok' },
          ],
        },
        'messages[1].tool_calls[0].arguments.card',
      ],
      [
        'tool call arguments (a JSON number past 2^53)',
        {
          messages: [
            { role: 'user', content: 'x' },
            { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'pay', arguments: '{"card": 4556737586899850007}' } }] },
            { role: 'tool', tool_call_id: 'c1', content: 'ok' },
          ],
        },
        'messages[1].tool_calls[0].arguments#numbers',
      ],
      ['tool result', { messages: [{ role: 'user', content: 'x' }, { role: 'tool', tool_call_id: 'c1', content: `owner ${EMAIL}` }] }, 'messages[1].content[0]'],
      [
        'tool definition description',
        { messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'f', description: `escalate to ${EMAIL}` } }] },
        'tools[0].description',
      ],
      [
        'tool parameter schema',
        { messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { to: { type: 'string', default: EMAIL } } } } }] },
        'tools[0].parameters.properties.to.default',
      ],
      ['stop sequence', { messages: [{ role: 'user', content: 'x' }], stop: [EMAIL] }, 'stop[0]'],
      ['user field', { messages: [{ role: 'user', content: 'x' }], user: EMAIL }, 'user'],
      ['OpenAI metadata', { messages: [{ role: 'user', content: 'x' }], metadata: { owner: EMAIL } }, 'openai.metadata.owner'],
    ];
    for (const [name, body, path] of cases) {
      const res = await classify(body);
      assert.equal(res.status, 200, name);
      assert.notEqual(res.body.level, 'public', name);
      assert.ok(
        res.body.findings.some((f) => f.path === path),
        `${name}: expected a finding at ${path}, got ${JSON.stringify(res.body.findings.map((f) => f.path))}`,
      );
    }
  });

  // Through the Anthropic API to the on-prem model, which every level may use.
  it('scans Anthropic system, tool_use and tool_result blocks, and embeddings input', async () => {
    for (const [content, expected] of [
      [`card ${CARD}`, 'regulated'],
      ['nothing to see', 'public'],
    ] as const) {
      const res = await anthropic.messages
        .create({
          model: 'llama-3.1-8b-instruct',
          max_tokens: 10,
          system: content,
          messages: [{ role: 'user', content: 'hi' }],
        })
        .withResponse();
      assert.equal(res.response.headers.get('x-perimeter-sensitivity'), expected);
    }
    const viaTool = await anthropic.messages
      .create({
        model: 'llama-3.1-8b-instruct',
        max_tokens: 10,
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'lookup', input: { email: EMAIL } }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'done' }] },
        ],
      })
      .withResponse();
    assert.equal(viaTool.response.headers.get('x-perimeter-sensitivity'), 'confidential');
    const viaResult = await anthropic.messages
      .create({
        model: 'llama-3.1-8b-instruct',
        max_tokens: 10,
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'lookup', input: {} }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: `card ${CARD}` }] }] },
        ],
      })
      .withResponse();
    assert.equal(viaResult.response.headers.get('x-perimeter-sensitivity'), 'regulated');
    const embedded = await openai.embeddings.create({ model: 'bge-m3', input: ['fine', `card ${CARD}`] }).withResponse();
    assert.equal(embedded.response.headers.get('x-perimeter-sensitivity'), 'regulated');
  });

  it('catches a card number split across two messages', async () => {
    const res = await classify({
      messages: [
        { role: 'user', content: 'my card is 4111 1111' },
        { role: 'user', content: '1111 1111 thanks' },
      ],
    });
    assert.equal(res.body.level, 'regulated', JSON.stringify(res.body));
  });

  it('the classify endpoint reports types, offsets and reasons, never values', async () => {
    const text = `Contact ${EMAIL} or pay ${CARD}.`;
    const res = await classify({ text });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-perimeter-sensitivity'), 'regulated');
    const email = res.body.findings.find((f) => f.entity === 'EMAIL_ADDRESS');
    assert.ok(email);
    assert.equal(text.slice(email.start, email.end), EMAIL);
    const card = res.body.findings.find((f) => f.entity === 'CREDIT_CARD');
    assert.ok(card);
    assert.equal(text.slice(card.start, card.end), CARD);
    const reasons = res.body.reasons.join('\n');
    assert.ok(!reasons.includes(EMAIL) && !reasons.includes('4111'), reasons);
    const bad = await classify({ txt: 'x' });
    assert.equal(bad.status, 400);
  });
});
