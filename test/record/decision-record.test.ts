import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createClassifier } from '../../src/classify/classifier.js';
import { GatewayError } from '../../src/domain/errors.js';
import { createPolicyEngine } from '../../src/policy/engine.js';
import { policySchema } from '../../src/policy/schema.js';
import { recordFromContext } from '../../src/record/decision-record.js';
import { loadTokenEstimator } from '../../src/record/tokens.js';
import { context, decision, deps, outcome } from './support.js';

describe('recordFromContext', () => {
  it('fills every field of a served request', () => {
    const ctx = context({
      principal: { id: 'key-7', kind: 'api_key', team: 'payments' },
      workloadHeader: 'support-bot',
      decision: decision('confidential', { matchedRules: ['r1', 'r2'], workload: 'support-bot', effects: { pseudonymizeFor: ['public-api'], requireApproval: false, prefer: undefined } }),
      classification: { level: 'confidential', findings: [
        { entity: 'EMAIL_ADDRESS', path: 'messages[0].content[0].text', start: 0, end: 5, score: 0.9, detector: 'email' },
        { entity: 'EMAIL_ADDRESS', path: 'messages[0].content[0].text', start: 9, end: 15, score: 0.9, detector: 'email' },
        { entity: 'PERSON', path: 'messages[0].content[0].text', start: 20, end: 25, score: 0.7, detector: 'person' },
      ], reasons: [] },
      attempts: [
        { backendId: 'onprem-vllm', tier: 'on-prem', region: 'eu', model: 'llama-3.1-8b-instruct', attemptNo: 1, outcome: 'failed', errorCode: 'upstream_error', latencyMs: 100 },
        { backendId: 'onprem-b', tier: 'on-prem', region: 'eu', model: 'llama-3.1-8b-instruct', attemptNo: 0, outcome: 'skipped_breaker_open', latencyMs: 0 },
        { backendId: 'onprem-vllm', tier: 'on-prem', region: 'eu', model: 'llama-3.1-8b-instruct', attemptNo: 2, outcome: 'ok', latencyMs: 300 },
      ],
    });
    const r = recordFromContext(ctx, outcome({ stream: true, firstTokenAt: 250, upstreamMs: 450, endedAt: 500 }), deps());
    assert.equal(r.requestId, 'req-1');
    assert.equal(r.deploymentId, 'test');
    assert.equal(r.time, '2025-03-01T11:59:59.000Z', 'arrival time: wall clock minus elapsed monotonic time');
    assert.deepEqual(r.principal, { id: 'key-7', kind: 'api_key', team: 'payments' });
    assert.equal(r.workload, 'support-bot');
    assert.deepEqual(r.served, { model: 'llama-3.1-8b-instruct', backend: 'onprem-vllm', tier: 'on-prem', region: 'eu' });
    assert.deepEqual(r.classification, { level: 'confidential', findings: { EMAIL_ADDRESS: 2, PERSON: 1 } });
    assert.deepEqual(r.policy, { version: 'abc123def456', capability: 'basic', matchedRules: ['r1', 'r2'], eligibleTiers: ['on-prem'] });
    assert.deepEqual(r.effects, { pseudonymized: false, pseudonymizeFor: ['public-api'], requireApproval: false });
    assert.equal(r.attempts.length, 3);
    assert.equal(r.fallbacks, 1);
    assert.deepEqual(r.breakers, { 'onprem-b': 'open' });
    assert.equal(r.status, 'ok');
    assert.equal(r.httpStatus, 200);
    assert.equal(r.errorCode, null);
    assert.deepEqual(r.tokens, { input: 100, output: 50, estimated: false });
    assert.deepEqual(r.latency, { totalMs: 500, ttftMs: 250, overheadMs: 50 });
    assert.equal(r.cost.basis, 'blended');
    assert.ok(r.cost.amount > 0);
  });

  it('records a policy rejection with no backend and no cost', () => {
    const ctx = context({ decision: decision('regulated', { eligibleTiers: [], matchedRules: ['deny-regulated'], deny: { code: 'request_denied', rule: 'deny-regulated', message: 'no' } }) });
    const r = recordFromContext(ctx, outcome({ error: new GatewayError('request_denied', 'denied by rule deny-regulated'), usage: undefined }), deps());
    assert.equal(r.status, 'rejected');
    assert.equal(r.httpStatus, 403);
    assert.equal(r.errorCode, 'request_denied');
    assert.deepEqual(r.served, { model: null, backend: null, tier: null, region: null });
    assert.deepEqual(r.cost, { amount: 0, currency: 'USD', basis: 'none' });
    assert.equal(r.latency.overheadMs, 500, 'nothing was called: all of it is gateway time');
  });

  it('records a request refused before classification', () => {
    const r = recordFromContext(context(), outcome({ error: new GatewayError('invalid_request', 'bad'), requestedModel: undefined, usage: undefined }), deps());
    assert.equal(r.status, 'failed');
    assert.equal(r.classification.level, null);
    assert.equal(r.policy.version, null);
    assert.equal(r.requestedModel, null);
  });

  it('a failed upstream is not "served", aborts are their own status, unknown errors are internal', () => {
    const failed = recordFromContext(context({ decision: decision('internal') }), outcome({ error: new GatewayError('upstream_error', 'x') }), deps());
    assert.equal(failed.status, 'failed');
    assert.equal(failed.served.backend, null);
    assert.equal(failed.attempts[0]?.backend, 'onprem-vllm');
    const aborted = recordFromContext(context({ decision: decision('internal') }), outcome({ error: new GatewayError('client_closed_request', 'x') }), deps());
    assert.equal(aborted.status, 'aborted');
    const internal = recordFromContext(context(), outcome({ error: new TypeError('boom with secret 4111 1111 1111 1111') }), deps());
    assert.equal(internal.errorCode, 'internal_error');
    assert.equal(JSON.stringify(internal).includes('4111'), false);
  });

  it('prices cloud requests from the catalog', () => {
    const ctx = context({ decision: decision('internal'), tier: 'public-api', backend: 'public-openai', model: 'gpt-4.1-mini' });
    const r = recordFromContext(ctx, outcome({ requestedModel: 'gpt-4.1-mini', usage: { inputTokens: 1_000_000, outputTokens: 1_000_000 } }), deps());
    assert.deepEqual(r.cost, { amount: 2, currency: 'USD', basis: 'price' });
  });

  it('marks estimated usage and estimates with the tokenizer', async () => {
    const est = await loadTokenEstimator();
    const usage = est.chat(
      { model: 'm', stream: false, includeUsage: false, protocolParams: {}, messages: [{ role: 'user', content: [{ type: 'text', text: 'hello world <|endoftext|>' }] }] },
      'hi there',
    );
    assert.equal(usage.estimated, true);
    assert.ok(usage.inputTokens > 3);
    assert.equal(usage.outputTokens, 2);
    const r = recordFromContext(context({ decision: decision('internal') }), outcome({ usage }), deps());
    assert.equal(r.tokens.estimated, true);
    assert.deepEqual(est.embedding({ model: 'e', input: ['hello world', ''] }), { inputTokens: 2, outputTokens: 0, estimated: true });
  });

  it('never carries raw values from a request full of PII', () => {
    const secrets = {
      email: 'jane.doe@example.com',
      iban: 'DE89370400440532013000',
      card: '4111 1111 1111 1111',
      phone: '+44 20 7946 0958',
      ssn: '078-05-1120',
      name: 'Jane Doe',
      diagnosis: 'type 2 diabetes',
      key: 'ghp_1234567890abcdefghijklmnopqrstuvwxyzAB',
    };
    const text = `Patient ${secrets.name} (${secrets.email}, ${secrets.phone}, SSN ${secrets.ssn}) was diagnosed with ${secrets.diagnosis}. ` +
      `Refund to IBAN ${secrets.iban}, card ${secrets.card}. Deploy key ${secrets.key}.`;
    const classifier = createClassifier({});
    const classification = classifier.classifySegments([{ path: 'messages[0].content[0].text', text }]);
    assert.equal(classification.level, 'regulated');
    assert.ok(classification.findings.length >= 4);
    const engine = createPolicyEngine(policySchema.parse({}), classifier.levels);
    const dec = engine.decide({ level: classification.level, entities: {}, principal: context().principal, workload: secrets.email, model: secrets.card, capability: 'basic' });
    const ctx = context({
      principal: { id: 'key-1', kind: 'api_key', team: 'care' },
      // Caller-controlled strings carrying PII: an unknown workload and an unknown model name.
      workloadHeader: secrets.email,
      classification,
      decision: dec,
    });
    const r = recordFromContext(ctx, outcome({ requestedModel: `gpt ${secrets.card}`, error: new GatewayError('model_not_found', `The model 'gpt ${secrets.card}' does not exist`) }), deps());
    const serialised = JSON.stringify(r);
    for (const [kind, value] of Object.entries(secrets)) {
      assert.equal(serialised.includes(value), false, `${kind} leaked into the record`);
      for (const part of value.split(/[\s@.+-]+/).filter((p) => p.length >= 5)) assert.equal(serialised.includes(part), false, `part of ${kind} leaked: ${part}`);
    }
    assert.equal(r.requestedModel, '(unknown)');
    assert.equal(r.workload, 'undeclared');
    assert.ok(Object.keys(r.classification.findings).length > 0, 'entity types are kept');
  });
});
