import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewayError, type ErrorCode } from '../../src/domain/errors.js';
import type { CatalogEntry } from '../../src/route/catalog.js';
import { routingSchema, type RoutingInput } from '../../src/route/config.js';
import { Router } from '../../src/route/router.js';
import type { RoutePlan } from '../../src/route/plan.js';
import { backoffMs, type RunResult } from '../../src/route/runner.js';
import type { RouteConstraints } from '../../src/route/constraints.js';
import { constraints, demoCatalog, FakeTime, flush, routerOf } from './support.js';

const retryable = (code: ErrorCode, retryAfter?: number): GatewayError =>
  new GatewayError(code, code, retryAfter === undefined ? { retryable: true } : { retryable: true, retryAfter });

/** An attempt function that plays a script of outcomes per call and records who was called. */
function scripted(script: (GatewayError | 'ok')[]): { calls: string[]; attempt: (e: CatalogEntry, info: { attemptNo: number }) => Promise<string> } {
  const calls: string[] = [];
  return {
    calls,
    attempt: (e, info) => {
      calls.push(`${e.backendId}#${info.attemptNo}`);
      const next = script.shift() ?? 'ok';
      return next === 'ok' ? Promise.resolve(`answer from ${e.backendId}`) : Promise.reject(next);
    },
  };
}

function setup(routing: RoutingInput = {}, c: Partial<RouteConstraints> = {}, model = 'llama-70b') {
  const time = new FakeTime();
  const router = routerOf(demoCatalog(), { retry: { backoff: { jitter: 0 } }, ...routing }, time);
  const cons = constraints(c);
  const plan = router.plan(model, 'chat', cons);
  return { time, router, cons, plan };
}

const summary = (r: RunResult<unknown>): string[] =>
  r.attempts.map((a) => `${a.backendId}#${a.attemptNo}:${a.outcome}${a.errorCode === undefined ? '' : `(${a.errorCode})`}`);

describe('runWithFallback', () => {
  it('first try succeeds: one record, the slot is held until the caller releases it', async () => {
    const { router, cons, plan, time } = setup();
    const { attempt } = scripted(['ok']);
    const r = await router.run(plan, cons, async (e, i) => {
      time.advance(40);
      return attempt(e, i);
    }, new AbortController().signal);
    assert.ok(r.ok);
    assert.equal(r.value, 'answer from onprem');
    assert.deepEqual(summary(r), ['onprem#1:ok']);
    assert.equal(r.attempts[0]?.latencyMs, 40);
    assert.equal(router.health.latencyMs('onprem'), 40);
    assert.equal(router.capacity.get('onprem').inFlight, 1);
    r.lease.release();
    assert.equal(router.capacity.get('onprem').inFlight, 0);
  });

  it('retries the same backend with backoff, then succeeds', async () => {
    const { router, cons, plan, time } = setup();
    const { attempt, calls } = scripted([retryable('upstream_error'), 'ok']);
    const r = await router.run(plan, cons, attempt, new AbortController().signal);
    assert.ok(r.ok);
    assert.deepEqual(calls, ['onprem#1', 'onprem#2']);
    assert.deepEqual(summary(r), ['onprem#1:failed(upstream_error)', 'onprem#2:ok']);
    assert.deepEqual(time.sleeps, [100]);
    assert.equal(router.capacity.get('onprem').inFlight, 1, 'only the successful attempt holds a slot');
  });

  it('moves along the chain after attemptsPerBackend, without waiting between backends', async () => {
    const { router, cons, plan, time } = setup();
    const { attempt } = scripted([retryable('upstream_unavailable'), retryable('upstream_timeout'), 'ok']);
    const r = await router.run(plan, cons, attempt, new AbortController().signal);
    assert.ok(r.ok);
    assert.equal(r.entry.backendId, 'azure');
    assert.deepEqual(summary(r), ['onprem#1:failed(upstream_unavailable)', 'onprem#2:failed(upstream_timeout)', 'azure#3:ok']);
    assert.deepEqual(time.sleeps, [100]);
  });

  it('stops at maxAttempts and returns the last error with every attempt recorded', async () => {
    const { router, cons, plan } = setup({ retry: { maxAttempts: 3, attemptsPerBackend: 2, backoff: { jitter: 0 } } });
    const { attempt, calls } = scripted([retryable('upstream_error'), retryable('upstream_error'), retryable('rate_limited'), 'ok']);
    const r = await router.run(plan, cons, attempt, new AbortController().signal);
    assert.equal(r.ok, false);
    assert.ok(!r.ok);
    assert.equal(r.error.code, 'rate_limited');
    assert.deepEqual(calls, ['onprem#1', 'onprem#2', 'azure#3']);
    for (const id of ['onprem', 'azure', 'anthropic']) assert.equal(router.capacity.get(id).inFlight, 0);
  });

  it('a non-retryable error ends the run at once', async () => {
    const { router, cons, plan } = setup();
    const { attempt, calls } = scripted([new GatewayError('invalid_request', 'bad')]);
    const r = await router.run(plan, cons, attempt, new AbortController().signal);
    assert.ok(!r.ok);
    assert.equal(r.error.code, 'invalid_request');
    assert.deepEqual(calls, ['onprem#1']);
    assert.equal(router.health.breaker('onprem').state(), 'closed');
  });

  it('a Retry-After longer than the backoff cap moves on instead of waiting; a short one is honoured', async () => {
    const long = setup();
    const a = scripted([retryable('rate_limited', 30), 'ok']);
    const r1 = await long.router.run(long.plan, long.cons, a.attempt, new AbortController().signal);
    assert.ok(r1.ok);
    assert.deepEqual(a.calls, ['onprem#1', 'azure#2']);
    assert.deepEqual(long.time.sleeps, []);

    const short = setup();
    const b = scripted([retryable('rate_limited', 1), 'ok']);
    await short.router.run(short.plan, short.cons, b.attempt, new AbortController().signal);
    assert.deepEqual(b.calls, ['onprem#1', 'onprem#2']);
    assert.deepEqual(short.time.sleeps, [1_000]);
  });

  it('a failure that opens the breaker skips the retry on that backend', async () => {
    const { router, cons, plan, time } = setup({ breaker: { failureThreshold: 1 } });
    const { attempt, calls } = scripted([retryable('upstream_error'), 'ok']);
    const r = await router.run(plan, cons, attempt, new AbortController().signal);
    assert.ok(r.ok);
    assert.deepEqual(calls, ['onprem#1', 'azure#2']);
    assert.deepEqual(time.sleeps, []);
    assert.equal(router.health.breaker('onprem').state(), 'open');
  });

  it('breakers that opened after planning are skipped and recorded; none left → upstream_unavailable', async () => {
    const { router, cons, plan } = setup({ breaker: { failureThreshold: 1, cooldownMs: 7_000 } });
    for (const id of ['onprem', 'azure', 'anthropic']) router.health.recordFailure(id);
    const { attempt, calls } = scripted([]);
    const r = await router.run(plan, cons, attempt, new AbortController().signal);
    assert.ok(!r.ok);
    assert.deepEqual(calls, []);
    assert.equal(r.error.code, 'upstream_unavailable');
    assert.equal(r.error.retryAfter, 7);
    assert.deepEqual(summary(r), ['onprem#0:skipped_breaker_open', 'azure#0:skipped_breaker_open', 'anthropic#0:skipped_breaker_open']);
  });

  it('a half-open backend gets exactly one probe and its success closes the breaker', async () => {
    const { router, cons, time } = setup({ breaker: { failureThreshold: 1, cooldownMs: 1_000 } });
    router.health.recordFailure('onprem');
    time.advance(1_000);
    const plan = router.plan('llama-70b', 'chat', cons);
    assert.equal(plan.candidates[0]?.entry.backendId, 'onprem');
    const r = await router.run(plan, cons, scripted(['ok']).attempt, new AbortController().signal);
    assert.ok(r.ok);
    assert.equal(router.health.breaker('onprem').state(), 'closed');
  });

  it('skips a backend that filled up after planning when later candidates remain', async () => {
    const { router, cons, plan } = setup();
    for (let i = 0; i < 4; i++) router.capacity.get('onprem').tryAcquire();
    const r = await router.run(plan, cons, scripted(['ok']).attempt, new AbortController().signal);
    assert.ok(r.ok);
    assert.deepEqual(summary(r), ['onprem#0:skipped_at_capacity', 'azure#1:ok']);
  });

  it('on-prem only and full: queues, then proceeds when a slot frees', async () => {
    const { router, cons, plan, time } = setup({}, { eligibleTiers: ['on-prem'] });
    const held = [0, 1, 2, 3].map(() => router.capacity.get('onprem').tryAcquire());
    const { attempt, calls } = scripted(['ok']);
    const running = router.run(plan, cons, attempt, new AbortController().signal);
    await flush();
    assert.deepEqual(calls, []);
    assert.equal(router.capacity.get('onprem').queued, 1);
    time.advance(500);
    held[0]?.release();
    const r = await running;
    assert.ok(r.ok);
    assert.deepEqual(calls, ['onprem#1']);
    assert.equal(router.capacity.get('onprem').inFlight, 4);
  });

  it('on-prem only and full: after the max wait, 503 capacity_exhausted with Retry-After', async () => {
    const { router, cons, plan, time } = setup({ queue: { maxWaitMs: 2_000, retryAfterSeconds: 2 } }, { eligibleTiers: ['on-prem'] });
    for (let i = 0; i < 4; i++) router.capacity.get('onprem').tryAcquire();
    const { attempt, calls } = scripted(['ok']);
    const running = router.run(plan, cons, attempt, new AbortController().signal);
    await flush();
    time.advance(2_000);
    const r = await running;
    assert.ok(!r.ok);
    assert.equal(r.error.code, 'capacity_exhausted');
    assert.equal(r.error.status, 503);
    assert.equal(r.error.retryAfter, 2);
    assert.deepEqual(calls, []);
    assert.deepEqual(summary(r), ['onprem#0:capacity_exhausted(capacity_exhausted)']);
    assert.equal(r.attempts[0]?.latencyMs, 2_000);
    assert.equal(router.health.breaker('onprem').state(), 'closed', 'saturation is not a failure');
  });

  it('client abort during an attempt: no further attempts, no breaker failure, slot released', async () => {
    const { router, cons, plan } = setup({ breaker: { failureThreshold: 1 } });
    const ac = new AbortController();
    const calls: string[] = [];
    const r = await router.run(plan, cons, (e) => {
      calls.push(e.backendId);
      ac.abort();
      return Promise.reject(retryable('upstream_error'));
    }, ac.signal);
    assert.ok(!r.ok);
    assert.equal(r.error.code, 'client_closed_request');
    assert.deepEqual(calls, ['onprem']);
    assert.equal(r.attempts[0]?.outcome, 'aborted');
    assert.equal(router.health.breaker('onprem').state(), 'closed');
    assert.equal(router.capacity.get('onprem').inFlight, 0);
  });

  it('client abort while queued or backing off stops without calling again', async () => {
    const queued = setup({}, { eligibleTiers: ['on-prem'] });
    for (let i = 0; i < 4; i++) queued.router.capacity.get('onprem').tryAcquire();
    const ac = new AbortController();
    const calls: string[] = [];
    const running = queued.router.run(queued.plan, queued.cons, (e) => (calls.push(e.backendId), Promise.resolve(1)), ac.signal);
    await flush();
    ac.abort();
    const r = await running;
    assert.ok(!r.ok);
    assert.equal(r.error.code, 'client_closed_request');
    assert.deepEqual(calls, []);
    assert.equal(queued.router.capacity.get('onprem').queued, 0);

    const ac2 = new AbortController();
    const time = new FakeTime();
    const router = new Router(demoCatalog(), routingSchema.parse({}), {
      clock: time.clock,
      timers: time,
      // The client leaves while the runner is backing off.
      sleep: (_ms, signal) => {
        ac2.abort();
        return Promise.reject(signal.reason);
      },
    });
    const cons = constraints();
    const calls2: string[] = [];
    const r2 = await router.run(router.plan('llama-70b', 'chat', cons), cons, (e) => {
      calls2.push(e.backendId);
      return Promise.reject(retryable('upstream_error'));
    }, ac2.signal);
    assert.ok(!r2.ok);
    assert.equal(r2.error.code, 'client_closed_request');
    assert.deepEqual(calls2, ['onprem']);
    assert.equal(router.capacity.get('onprem').inFlight, 0);
  });

  it('an already aborted request calls nothing', async () => {
    const { router, cons, plan } = setup();
    const { attempt, calls } = scripted([]);
    const r = await router.run(plan, cons, attempt, AbortSignal.abort());
    assert.ok(!r.ok);
    assert.equal(r.error.code, 'client_closed_request');
    assert.deepEqual(calls, []);
  });

  it('refuses a plan that reaches outside the constraints it is run with, calling nothing', async () => {
    const { router, plan } = setup();
    const { attempt, calls } = scripted([]);
    // Planned for all tiers, run for on-prem only: the runner must not trust the plan.
    const r = await router.run(plan, constraints({ eligibleTiers: ['on-prem'] }), attempt, new AbortController().signal);
    assert.ok(!r.ok);
    assert.equal(r.error.code, 'internal_error');
    assert.deepEqual(calls, []);

    const onPrem = constraints({ eligibleTiers: ['on-prem'] });
    const good = router.plan('llama-70b', 'chat', onPrem);
    const azure = plan.candidates.find((c) => c.entry.backendId === 'azure');
    assert.ok(azure !== undefined);
    const tampered: RoutePlan = { ...good, candidates: [...good.candidates, azure] };
    const r2 = await router.run(tampered, onPrem, attempt, new AbortController().signal);
    assert.ok(!r2.ok);
    assert.deepEqual(calls, []);
  });

  it('refuses plans that are not ok', async () => {
    const { router, cons } = setup();
    const plan = router.plan('gpt-4o', 'chat', constraints({ eligibleTiers: ['on-prem'] }));
    const r = await router.run(plan, cons, scripted([]).attempt, new AbortController().signal);
    assert.ok(!r.ok);
    assert.equal(r.error.code, 'internal_error');
  });

  it('non-GatewayError throws become internal_error and do not trip the breaker', async () => {
    const { router, cons, plan } = setup({ breaker: { failureThreshold: 1 } });
    const r = await router.run(plan, cons, () => Promise.reject(new TypeError('bug')), new AbortController().signal);
    assert.ok(!r.ok);
    assert.equal(r.error.code, 'internal_error');
    assert.equal(router.health.breaker('onprem').state(), 'closed');
  });
});

describe('backoff', () => {
  const cfg = { baseMs: 100, maxMs: 1_000, jitter: 0 };
  const table: [number, number][] = [
    [1, 100],
    [2, 200],
    [3, 400],
    [4, 800],
    [5, 1_000],
    [9, 1_000],
  ];
  for (const [n, ms] of table) it(`retry ${n} waits ${ms} ms without jitter`, () => assert.equal(backoffMs(n, cfg, () => 0.5), ms));

  it('jitter scales the delay within [1 - jitter, 1] of the ceiling', () => {
    const j = { ...cfg, jitter: 0.5 };
    assert.equal(backoffMs(2, j, () => 0), 100);
    assert.equal(backoffMs(2, j, () => 0.999999), 199.9999);
    assert.equal(backoffMs(3, { ...cfg, jitter: 1 }, () => 0), 0);
  });
});
