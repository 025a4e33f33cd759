import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewayError } from '../../src/domain/errors.js';
import { BackendCapacity, type Lease } from '../../src/route/capacity.js';
import { FakeTime, flush } from './support.js';

const SETTINGS = { maxWaitMs: 2_000, maxLength: 2, retryAfterSeconds: 3 };

function cap(limit: number | undefined, time = new FakeTime()): BackendCapacity {
  return new BackendCapacity('b', limit, SETTINGS, time);
}

function take(c: BackendCapacity): Lease {
  const l = c.tryAcquire();
  assert.ok(l !== undefined);
  return l;
}

describe('capacity', () => {
  it('counts in-flight up to the limit and reports utilisation', () => {
    const c = cap(4);
    const a = take(c);
    take(c);
    take(c);
    assert.equal(c.utilisation(), 0.75);
    assert.equal(c.full(), false);
    take(c);
    assert.equal(c.full(), true);
    assert.equal(c.tryAcquire(), undefined);
    a.release();
    assert.equal(c.inFlight, 3);
  });

  it('release is idempotent', () => {
    const c = cap(2);
    const a = take(c);
    take(c);
    a.release();
    a.release();
    a.release();
    assert.equal(c.inFlight, 1);
  });

  it('unlimited backends are counted but never full', () => {
    const c = cap(undefined);
    for (let i = 0; i < 1000; i++) take(c);
    assert.equal(c.inFlight, 1000);
    assert.equal(c.utilisation(), 0);
    assert.equal(c.full(), false);
  });

  it('waiters are served FIFO and newcomers cannot overtake them', async () => {
    const time = new FakeTime();
    const c = cap(1, time);
    const held = take(c);
    const order: string[] = [];
    const first = c.acquire(new AbortController().signal).then((l) => (order.push('first'), l));
    const second = c.acquire(new AbortController().signal).then((l) => (order.push('second'), l));
    assert.equal(c.queued, 2);
    held.release();
    assert.equal(c.tryAcquire(), undefined, 'the slot went to the head waiter');
    const l1 = await first;
    await flush();
    assert.deepEqual(order, ['first']);
    l1.release();
    const l2 = await second;
    assert.deepEqual(order, ['first', 'second']);
    assert.equal(c.inFlight, 1);
    l2.release();
    assert.equal(c.inFlight, 0);
    assert.equal(time.pending, 0, 'no timers left behind');
  });

  it('times out with a retryable capacity_exhausted carrying Retry-After', async () => {
    const time = new FakeTime();
    const c = cap(1, time);
    take(c);
    const waiting = c.acquire(new AbortController().signal);
    time.advance(1_999);
    assert.equal(c.queued, 1);
    time.advance(1);
    await assert.rejects(waiting, (err: unknown) => {
      assert.ok(err instanceof GatewayError);
      assert.equal(err.code, 'capacity_exhausted');
      assert.equal(err.status, 503);
      assert.equal(err.retryable, true);
      assert.equal(err.retryAfter, 3);
      return true;
    });
    assert.equal(c.queued, 0);
    assert.equal(c.inFlight, 1);
  });

  it('abort while queued rejects with the reason, leaves no waiter, timer or slot behind', async () => {
    const time = new FakeTime();
    const c = cap(1, time);
    const held = take(c);
    const ac = new AbortController();
    const waiting = c.acquire(ac.signal);
    ac.abort(new Error('client gone'));
    await assert.rejects(waiting, /client gone/);
    assert.equal(c.queued, 0);
    assert.equal(time.pending, 0);
    held.release();
    assert.equal(c.inFlight, 0, 'the freed slot was not handed to the aborted waiter');
  });

  it('an already aborted signal never queues', async () => {
    const c = cap(1);
    take(c);
    await assert.rejects(c.acquire(AbortSignal.abort(new Error('gone'))), /gone/);
    assert.equal(c.queued, 0);
  });

  it('a full queue or zero wait refuses at once', async () => {
    const c = cap(1);
    take(c);
    void c.acquire(new AbortController().signal).catch(() => undefined);
    void c.acquire(new AbortController().signal).catch(() => undefined);
    await assert.rejects(c.acquire(new AbortController().signal), { code: 'capacity_exhausted' });
    await assert.rejects(c.acquire(new AbortController().signal, 0), { code: 'capacity_exhausted' });
    assert.equal(c.queued, 2);
  });

  it('a slot granted just before an abort is still released exactly once', async () => {
    const c = cap(1);
    const held = take(c);
    const ac = new AbortController();
    const waiting = c.acquire(ac.signal);
    held.release();
    ac.abort();
    const lease = await waiting;
    assert.equal(c.inFlight, 1);
    lease.release();
    lease.release();
    assert.equal(c.inFlight, 0);
  });
});
