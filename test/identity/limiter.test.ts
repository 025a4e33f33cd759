import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { GatewayError } from '../../src/domain/errors.js';
import { KeyHasher } from '../../src/identity/api-key.js';
import { MemoryKeyStore } from '../../src/identity/key-stores/memory.js';
import { ApiKeyService, principalForKey } from '../../src/identity/keys.js';
import { limitsSchema, type LimitsConfigInput } from '../../src/identity/limits/config.js';
import { estimateChatTokens } from '../../src/identity/limits/estimate.js';
import { LimitStoreError, type LimitStore } from '../../src/identity/limits/limit-store.js';
import { costUsd, limitError, Limiter, type LimitDecision, type LimitEvent } from '../../src/identity/limits/limiter.js';
import { MemoryLimitStore } from '../../src/identity/limits/memory-store.js';
import { RedisLimitStore } from '../../src/identity/limits/redis-store.js';
import { PEPPER, principal } from './support.js';

const T0 = Date.parse('2026-03-10T12:00:10Z');

function limiter(cfg: LimitsConfigInput, store: LimitStore = new MemoryLimitStore(), now = () => T0, onEvent?: (e: LimitEvent) => void): Limiter {
  return new Limiter(limitsSchema.parse(cfg), store, { now, ...(onEvent === undefined ? {} : { onEvent }) });
}

const alice = principal({ id: 'alice', team: 'payments' });
const req = (p = alice, tokens = 100, cost = 0.01, workload?: string) => ({ principal: p, workload, estimatedTokens: tokens, estimatedCostUsd: cost });

function refused(d: LimitDecision): Exclude<LimitDecision, { ok: true }> {
  assert.equal(d.ok, false);
  return d as Exclude<LimitDecision, { ok: true }>;
}

describe('Limiter', () => {
  it('requests per minute per key, with Retry-After to the end of the minute', async () => {
    const l = limiter({ defaults: { key: { requestsPerMinute: 2 } } });
    assert.equal((await l.reserve(req())).ok, true);
    assert.equal((await l.reserve(req())).ok, true);
    const d = refused(await l.reserve(req()));
    assert.deepEqual(d, { ok: false, kind: 'rate_limited', metric: 'requests_per_minute', subject: 'key', retryAfterSeconds: 50 });
    assert.equal((await l.reserve(req(principal({ id: 'bob' })))).ok, true, 'another key has its own counter');
  });

  it('tokens per minute: reserve the estimate, reconcile to real usage', async () => {
    const l = limiter({ defaults: { key: { tokensPerMinute: 1_000 } } });
    const first = await l.reserve(req(alice, 900));
    assert.ok(first.ok);
    refused(await l.reserve(req(alice, 200)));
    await l.reconcile(first.reservation, { tokens: 300, costUsd: 0 });
    assert.equal((await l.reserve(req(alice, 600))).ok, true, 'the unused 600 came back');
    await l.reconcile(first.reservation, { tokens: 999, costUsd: 0 });
    assert.equal((await l.reserve(req(alice, 100))).ok, true, 'a second reconcile of the same reservation is ignored');
  });

  it('team and workload caps; config per team overrides the default field by field', async () => {
    const l = limiter({ defaults: { team: { requestsPerMinute: 100 } }, teams: { payments: { requestsPerMinute: 1 } }, workloads: { batch: { requestsPerMinute: 1 } } });
    assert.equal((await l.reserve(req(principal({ id: 'a', team: 'payments' })))).ok, true);
    const d = refused(await l.reserve(req(principal({ id: 'b', team: 'payments' }))));
    assert.equal(d.ok === false && d.kind === 'rate_limited' && d.subject, 'team');
    assert.equal((await l.reserve(req(principal({ id: 'c', team: 'risk' })))).ok, true);
    assert.equal((await l.reserve(req(principal({ id: 'd' }), 1, 0, 'batch'))).ok, true);
    const w = refused(await l.reserve(req(principal({ id: 'e' }), 1, 0, 'batch')));
    assert.equal(w.kind === 'rate_limited' && w.subject, 'workload');
  });

  it('spend per day and per month: budget_exceeded, Retry-After to the window end', async () => {
    const l = limiter({ defaults: { key: { spendPerDayUsd: 1, spendPerMonthUsd: 1.5 } } });
    const r = await l.reserve(req(alice, 10, 0.6));
    assert.ok(r.ok);
    const d = refused(await l.reserve(req(alice, 10, 0.6)));
    assert.deepEqual(d, { ok: false, kind: 'budget_exceeded', metric: 'spend_per_day', subject: 'key', retryAfterSeconds: 11 * 3600 + 59 * 60 + 50 });
    await l.reconcile(r.reservation, { tokens: 10, costUsd: 0.2 });
    assert.equal((await l.reserve(req(alice, 10, 0.6))).ok, true);
  });

  it('month window carries across days', async () => {
    let now = T0;
    const store = new MemoryLimitStore({ now: () => now });
    const l = limiter({ defaults: { key: { spendPerDayUsd: 1, spendPerMonthUsd: 1.5 } } }, store, () => now);
    assert.equal((await l.reserve(req(alice, 1, 0.9))).ok, true);
    now += 86_400_000;
    const d = refused(await l.reserve(req(alice, 1, 0.9)));
    assert.equal(d.kind === 'budget_exceeded' && d.metric, 'spend_per_month');
  });

  it('a key own limits replace the default key limits', async () => {
    const svc = new ApiKeyService(new MemoryKeyStore(), new KeyHasher(PEPPER));
    const { key } = await svc.create({ owner: 'o', limits: { requestsPerMinute: 1 } });
    const v = await svc.verify(key);
    assert.ok(v.ok);
    const p = principalForKey(v.record);
    const l = limiter({ defaults: { key: { requestsPerMinute: 100, tokensPerMinute: 50 } } });
    assert.deepEqual(l.limitsFor(p, undefined).key, { requestsPerMinute: 1, tokensPerMinute: 50 });
    assert.equal((await l.reserve(req(p, 10))).ok, true);
    refused(await l.reserve(req(p, 10)));
  });

  it('no caps configured: always admitted', async () => {
    const l = limiter({});
    for (let i = 0; i < 50; i++) assert.equal((await l.reserve(req(alice, 1e9, 1e6))).ok, true);
  });

  it('release gives back tokens and spend but the request still counts', async () => {
    const l = limiter({ defaults: { key: { requestsPerMinute: 2, tokensPerMinute: 100 } } });
    const r = await l.reserve(req(alice, 100));
    assert.ok(r.ok);
    await l.release(r.reservation);
    assert.equal((await l.reserve(req(alice, 100))).ok, true);
    const d = refused(await l.reserve(req(alice, 1)));
    assert.equal(d.kind === 'rate_limited' && d.metric, 'requests_per_minute');
  });

  it('limitError: 429 rate_limited with Retry-After; budgets too (until budget_exceeded exists)', () => {
    const e = limitError({ ok: false, kind: 'rate_limited', metric: 'tokens_per_minute', subject: 'team', retryAfterSeconds: 7 });
    assert.ok(e instanceof GatewayError);
    assert.deepEqual([e.code, e.status, e.retryAfter], ['rate_limited', 429, 7]);
    const b = limitError({ ok: false, kind: 'budget_exceeded', metric: 'spend_per_month', subject: 'key', retryAfterSeconds: 99 });
    assert.deepEqual([b.status, b.retryAfter], [429, 99]);
    assert.match(b.message, /monthly spend/);
    assert.equal(limitError({ ok: false, kind: 'unavailable', retryAfterSeconds: 1 }).status, 503);
  });

  it('estimates: chat tokens over-estimate; cost from a per-million price', () => {
    const est = estimateChatTokens(
      { model: 'm', stream: false, includeUsage: false, protocolParams: {}, messages: [{ role: 'user', content: [{ type: 'text', text: 'x'.repeat(300) }] }], maxTokens: 50 },
      1024,
    );
    assert.deepEqual(est, { input: 104, output: 50 });
    assert.equal(costUsd({ inputPer1M: 2.5, outputPer1M: 10 }, 1_000_000, 100_000), 3.5);
  });
});

class BrokenStore implements LimitStore {
  async reserve(): Promise<never> {
    throw new LimitStoreError('redis unavailable');
  }
  async adjust(): Promise<never> {
    throw new LimitStoreError('redis unavailable');
  }
  async peek(): Promise<never> {
    throw new LimitStoreError('redis unavailable');
  }
  async close(): Promise<void> {}
}

describe('Limiter when the shared store is down', () => {
  it('budgets fail closed by default, and it is reported', async () => {
    const events: LimitEvent[] = [];
    const l = limiter({ defaults: { key: { spendPerDayUsd: 10 } } }, new BrokenStore(), () => T0, (e) => events.push(e));
    const d = refused(await l.reserve(req()));
    assert.equal(d.kind, 'unavailable');
    assert.deepEqual(events.map((e) => e.type === 'store_unavailable' && e.action), ['refused']);
  });

  it('rates fall back to local counters by default (degraded, still capped per instance)', async () => {
    const events: LimitEvent[] = [];
    const l = limiter({ defaults: { key: { requestsPerMinute: 2 } } }, new BrokenStore(), () => T0, (e) => events.push(e));
    const r1 = await l.reserve(req());
    assert.ok(r1.ok && r1.degraded);
    assert.equal((await l.reserve(req())).ok, true);
    refused(await l.reserve(req()));
    assert.ok(events.every((e) => e.type === 'store_unavailable' && e.action === 'local_fallback'));
    await l.reconcile(r1.reservation, { tokens: 5, costUsd: 0 });
  });

  it('configurable: budgets local, rates closed', async () => {
    const local = limiter({ failMode: { budgets: 'local' }, defaults: { key: { spendPerDayUsd: 1 } } }, new BrokenStore());
    assert.equal((await local.reserve(req(alice, 1, 0.5))).ok, true);
    refused(await local.reserve(req(alice, 1, 0.6)));
    const closed = limiter({ failMode: { rates: 'closed' }, defaults: { key: { requestsPerMinute: 5 } } }, new BrokenStore());
    assert.equal(refused(await closed.reserve(req())).kind, 'unavailable');
  });

  describe('real Redis client, unreachable server', () => {
    let store: RedisLimitStore;
    after(async () => store.close());
    it('fails fast instead of queueing, and the fail mode applies', async () => {
      const states: string[] = [];
      store = await RedisLimitStore.open('redis://127.0.0.1:9', { connectTimeoutMs: 200, onConnectionChange: (s) => states.push(s) });
      assert.deepEqual(states, ['down']);
      const events: LimitEvent[] = [];
      const l = limiter({ store: 'redis', defaults: { key: { requestsPerMinute: 1, spendPerDayUsd: 1 } } }, store, () => T0, (e) => events.push(e));
      assert.equal(refused(await l.reserve(req())).kind, 'unavailable');
      assert.equal(events[0]?.type, 'store_unavailable');
    });
  });
});
