import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewayError, type ErrorCode } from '../../src/domain/errors.js';
import { CircuitBreaker, countsAgainstBackend } from '../../src/route/health.js';
import { FakeTime } from './support.js';

function breaker(time: FakeTime): CircuitBreaker {
  return new CircuitBreaker({ failureThreshold: 3, windowMs: 1_000, cooldownMs: 5_000 }, time.clock);
}

describe('circuit breaker', () => {
  it('opens on N failures within the window, not on failures spread wider', () => {
    const time = new FakeTime();
    const b = breaker(time);
    for (const t of [0, 500, 1_600, 1_700]) {
      time.now = t;
      b.recordFailure();
      assert.equal(b.state(), 'closed', `after failure at ${t}`);
    }
    time.now = 1_800; // 1600, 1700, 1800 are within 1000 ms
    b.recordFailure();
    assert.equal(b.state(), 'open');
    assert.equal(b.canPass(), false);
    assert.equal(b.tryPass(), false);
    assert.equal(b.retryInMs(), 5_000);
  });

  it('open → half-open after the cooldown → one probe → success closes', () => {
    const time = new FakeTime();
    const b = breaker(time);
    for (let i = 0; i < 3; i++) b.recordFailure();
    time.advance(4_999);
    assert.equal(b.state(), 'open');
    time.advance(1);
    assert.equal(b.state(), 'half-open');
    assert.equal(b.canPass(), true);
    assert.equal(b.tryPass(), true);
    assert.equal(b.canPass(), false, 'probe is out');
    assert.equal(b.tryPass(), false, 'only one probe');
    b.recordSuccess();
    assert.equal(b.state(), 'closed');
    assert.equal(b.tryPass(), true);
    // The failure history was reset: it takes N fresh failures to open again.
    b.recordFailure();
    b.recordFailure();
    assert.equal(b.state(), 'closed');
  });

  it('half-open probe failure reopens for a fresh cooldown', () => {
    const time = new FakeTime();
    const b = breaker(time);
    for (let i = 0; i < 3; i++) b.recordFailure();
    time.advance(5_000);
    assert.equal(b.tryPass(), true);
    time.advance(300);
    b.recordFailure();
    assert.equal(b.state(), 'open');
    assert.equal(b.retryInMs(), 5_000);
    time.advance(5_000);
    assert.equal(b.state(), 'half-open');
  });

  it('a neutral outcome frees the probe; a lost probe stops blocking after one cooldown', () => {
    const time = new FakeTime();
    const b = breaker(time);
    for (let i = 0; i < 3; i++) b.recordFailure();
    time.advance(5_000);
    assert.equal(b.tryPass(), true);
    b.recordNeutral();
    assert.equal(b.tryPass(), true);
    assert.equal(b.tryPass(), false);
    time.advance(5_000);
    assert.equal(b.tryPass(), true, 'stale probe no longer blocks');
  });

  it('success or failure reported while open (calls that began earlier) changes nothing', () => {
    const time = new FakeTime();
    const b = breaker(time);
    for (let i = 0; i < 3; i++) b.recordFailure();
    time.advance(100);
    b.recordSuccess();
    b.recordFailure();
    assert.equal(b.state(), 'open');
    assert.equal(b.retryInMs(), 4_900);
  });
});

describe('what counts against a backend', () => {
  const table: [ErrorCode, boolean][] = [
    ['upstream_error', true],
    ['upstream_unavailable', true],
    ['upstream_timeout', true],
    ['rate_limited', true],
    ['invalid_request', false],
    ['model_not_found', false],
    ['client_closed_request', false],
    ['internal_error', false],
  ];
  for (const [code, counts] of table) {
    it(`${code} → ${counts}`, () => assert.equal(countsAgainstBackend(new GatewayError(code, 'x')), counts));
  }
});
