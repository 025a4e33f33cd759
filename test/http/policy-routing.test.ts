import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { eventually, startGateway, startStack, type CustomStack, type TestStack, TEST_KEY } from '../helpers/gateway.js';

const CARD = '4111 1111 1111 1111';
const EMAIL = 'jane.doe@acme-corp.io';

function client(url: string): OpenAI {
  return new OpenAI({ baseURL: `${url}/v1`, apiKey: TEST_KEY, maxRetries: 0 });
}

function user(content: string): OpenAI.Chat.ChatCompletionMessageParam[] {
  return [{ role: 'user', content }];
}

describe('routing by policy on the demo layout', () => {
  let stack: TestStack;
  let openai: OpenAI;

  before(async () => {
    stack = await startStack({
      extraYaml: `policy:
  workloads:
    research: { capability: frontier }
  rules:
    - id: no-secrets-anywhere
      when: { entities: [SECRET] }
      effects: { deny: { reason: secrets must not be sent to a model } }
    - id: finance-needs-approval
      when: { workloads: [payments] }
      effects: { require_approval: true }
    - id: confidential-pseudonymised-in-cloud
      when: { levels: [confidential] }
      effects: { pseudonymize_for: [private-cloud] }
  `.replace('workloads:\n    research: { capability: frontier }', 'workloads:\n    research: { capability: frontier }\n    payments: { capability: basic }'),
    });
    openai = client(stack.url);
  });
  after(async () => stack.close());

  it('refuses a model the data may not use, names level, rule and tiers, and sends nothing', async () => {
    stack.sims.publicApi.clear();
    await assert.rejects(openai.chat.completions.create({ model: 'gpt-4.1-mini', messages: user(`refund ${CARD}`) }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.PermissionDeniedError);
      assert.equal(err.code, 'model_not_permitted_for_data');
      assert.match(err.message, /regulated/);
      assert.match(err.message, /matrix regulated×any/);
      assert.match(err.message, /allowed tiers: on-prem/);
      assert.ok(!err.message.includes('4111'));
      return true;
    });
    assert.equal(stack.sims.publicApi.received().length, 0, 'the public tier received nothing');
  });

  it('serves the same data on a model whose tier is allowed, and says which rule decided', async () => {
    const { response } = await openai.chat.completions.create({ model: 'llama-3.1-8b-instruct', messages: user(`refund ${CARD}`) }).withResponse();
    assert.equal(response.headers.get('x-perimeter-tier'), 'on-prem');
    assert.equal(response.headers.get('x-perimeter-sensitivity'), 'regulated');
    assert.equal(response.headers.get('x-perimeter-rule'), 'matrix regulatedxany');
  });

  it('a deny rule answers request_denied with the rule id', async () => {
    await assert.rejects(
      openai.chat.completions.create({ model: 'llama-3.1-8b-instruct', messages: user('my token is ghp_0123456789abcdefghijABCDEFGHIJ012345 ok') }),
      (err: unknown) => {
        assert.ok(err instanceof OpenAI.PermissionDeniedError);
        assert.equal(err.code, 'request_denied');
        assert.match(err.message, /no-secrets-anywhere/);
        return true;
      },
    );
  });

  it('require_approval answers approval_required', async () => {
    await assert.rejects(
      openai.chat.completions.create({ model: 'llama-3.1-8b-instruct', messages: user('hello') }, { headers: { 'x-perimeter-workload': 'payments' } }),
      (err: unknown) => err instanceof OpenAI.PermissionDeniedError && err.code === 'approval_required',
    );
  });

  it('virtual models follow the workload capability and never downgrade', async () => {
    const { response } = await openai.chat.completions
      .create({ model: 'perimeter/auto', messages: user('tides') }, { headers: { 'x-perimeter-workload': 'research' } })
      .withResponse();
    // public × frontier lists public-api first; cost order keeps that, so a public frontier model serves.
    assert.equal(response.headers.get('x-perimeter-model'), 'claude-sonnet-5-5');
    const confidential = await openai.chat.completions
      .create({ model: 'perimeter/auto', messages: user('the Q3 roadmap is confidential') }, { headers: { 'x-perimeter-workload': 'research', 'x-perimeter-sensitivity': 'internal' } })
      .withResponse();
    assert.equal(confidential.response.headers.get('x-perimeter-model'), 'gpt-4o', 'internal data may not go public, so the private-cloud frontier model serves');
    const basic = await openai.chat.completions.create({ model: 'perimeter/basic', messages: user('tides') }).withResponse();
    assert.equal(basic.response.headers.get('x-perimeter-tier'), 'on-prem');
    // Regulated data and a frontier request: no on-prem frontier model exists, so it is refused.
    await assert.rejects(
      openai.chat.completions.create({ model: 'perimeter/frontier', messages: user(`card ${CARD}`) }),
      (err: unknown) => err instanceof OpenAI.PermissionDeniedError && err.code === 'model_not_permitted_for_data',
    );
  });

  it('explain returns the decision without calling a backend', async () => {
    stack.sims.onPrem.clear();
    stack.sims.privateCloud.clear();
    stack.sims.publicApi.clear();
    const res = await fetch(`${stack.url}/v1/perimeter/explain`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'perimeter/mid', messages: [{ role: 'user', content: 'weather' }] }),
    });
    assert.equal(res.status, 200);
    const e = (await res.json()) as {
      level: string;
      eligibleTiers: string[];
      chosen: { backendId: string; tier: string };
      route: { candidates: { backendId: string }[]; rejected: { backendId: string; reason: string }[] };
      policyVersion: string;
    };
    assert.equal(e.level, 'public');
    assert.deepEqual(e.eligibleTiers, ['public-api', 'private-cloud', 'on-prem']);
    assert.ok(e.chosen.backendId.length > 0);
    assert.ok(e.route.rejected.some((r) => r.reason === 'capability_too_low'), JSON.stringify(e.route.rejected));
    assert.match(e.policyVersion, /^[0-9a-f]{12}$/);
    const refused = (await (
      await fetch(`${stack.url}/v1/perimeter/explain`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: `card ${CARD}` }] }),
      })
    ).json()) as { refusal: { status: number; code: string } };
    assert.deepEqual([refused.refusal.status, refused.refusal.code], [403, 'model_not_permitted_for_data']);
    assert.equal(stack.sims.onPrem.received().length + stack.sims.privateCloud.received().length + stack.sims.publicApi.received().length, 0);
  });
});

describe('fallback and overflow stay inside the eligible set', () => {
  let failing: SimulatorHandle;
  let healthy: SimulatorHandle;
  let cloud: SimulatorHandle;
  let gw: CustomStack;

  before(async () => {
    failing = await startSimulator({ name: 'onprem-a', errorRate: 1, errorStatus: 500 });
    healthy = await startSimulator({ name: 'onprem-b' });
    cloud = await startSimulator({ name: 'public' });
    const backend = (id: string, tier: string, url: string, extra = ''): string => `
  - id: ${id}
    tier: ${tier}
    region: eu
    protocol: openai
    baseUrl: ${url}/v1
${extra}    models: [{ id: shared, capability: basic }]`;
    gw = await startGateway(
      `logging: { level: silent }
server: { port: 0 }
auth: { required: false, keys: [{ id: tests, insecurePlaintext: ${TEST_KEY}, owner: tests }] }
routing: { retry: { backoff: { baseMs: 1, maxMs: 5, jitter: 0 } }, queue: { maxWaitMs: 200, retryAfterSeconds: 2 }, breaker: { failureThreshold: 1000 } }
backends:${backend('onprem-a', 'on-prem', failing.url, '    maxConcurrency: 4\n')}${backend('onprem-b', 'on-prem', healthy.url, '    maxConcurrency: 1\n')}${backend('cloud', 'public-api', cloud.url)}
`,
      [failing, healthy, cloud],
    );
  });
  after(async () => gw.close());

  it('falls back past a failing backend, and never to a tier the data forbids', async () => {
    const openai = client(gw.url);
    for (const s of [failing, healthy, cloud]) s.clear();
    const regulated = await openai.chat.completions.create({ model: 'shared', messages: user(`card ${CARD}`) }).withResponse();
    assert.equal(regulated.response.headers.get('x-perimeter-backend'), 'onprem-b');
    assert.ok(failing.received().length >= 1, 'the failing backend was tried first (cheapest on-prem, config order)');
    assert.equal(cloud.received().length, 0, 'regulated data never reached the public tier');
  });

  it('overflows public data to the cloud when on-prem is full, but queues then refuses regulated data', async () => {
    const openai = client(gw.url);
    for (const s of [failing, healthy, cloud]) s.clear();
    // Take the one slot of the healthy on-prem backend with a stalled stream.
    const holder = new AbortController();
    const held = await openai.chat.completions.create(
      { model: 'shared', stream: true, messages: user(`hold ${CARD} [[sim:stall_after=1]]`) },
      { signal: holder.signal },
    );
    const iterator = held[Symbol.asyncIterator]();
    await iterator.next();

    // Public data: on-prem-b is full and on-prem-a fails, so it goes to the public tier.
    const pub = await openai.chat.completions.create({ model: 'shared', messages: user('weather report') }).withResponse();
    assert.equal(pub.response.headers.get('x-perimeter-tier'), 'public-api');

    // Regulated data: only on-prem is eligible; after the queue wait, 503 with Retry-After.
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'shared', messages: user(`card ${CARD}`) }),
    });
    assert.equal(res.status, 503);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'capacity_exhausted');
    assert.equal(res.headers.get('retry-after'), '2');
    assert.ok(!cloud.received().some((r) => JSON.stringify(r.body).includes('4111')), 'no card number reached the public tier');

    holder.abort();
    assert.ok(await eventually(() => healthy.received().some((r) => r.aborted)));
    // The slot is free again: regulated data is served on-prem.
    const after = await openai.chat.completions.create({ model: 'shared', messages: user(`card ${CARD}`) }).withResponse();
    assert.equal(after.response.headers.get('x-perimeter-backend'), 'onprem-b');
  });
});
