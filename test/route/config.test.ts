import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { defaultRouting, routingProblems, routingSchema } from '../../src/route/config.js';
import { demoCatalog } from './support.js';

describe('routing config', () => {
  it('has documented defaults', () => {
    assert.deepEqual(defaultRouting(), {
      prefer: 'cost',
      onPremThreshold: 0.8,
      queue: { maxWaitMs: 2_000, maxLength: 256, retryAfterSeconds: 1 },
      retry: { maxAttempts: 4, attemptsPerBackend: 2, backoff: { baseMs: 100, maxMs: 2_000, jitter: 0.5 } },
      breaker: { failureThreshold: 5, windowMs: 30_000, cooldownMs: 15_000 },
      latency: { ewmaAlpha: 0.3, unknownMs: 0 },
      splits: [],
    });
  });

  it('parses a YAML section with partial overrides', () => {
    const r = routingSchema.parse(
      parse(`
prefer: latency
onPremThreshold: 0.7
queue: { maxWaitMs: 500 }
retry: { maxAttempts: 3 }
splits:
  - model: llama-70b
    weights: { onprem: 90, azure: 10 }
`),
    );
    assert.equal(r.prefer, 'latency');
    assert.equal(r.queue.maxWaitMs, 500);
    assert.equal(r.queue.maxLength, 256);
    assert.equal(r.retry.attemptsPerBackend, 2);
    assert.deepEqual(r.splits, [{ model: 'llama-70b', weights: { onprem: 90, azure: 10 }, strict: false }]);
  });

  const bad: [string, unknown][] = [
    ['unknown key', { nope: 1 }],
    ['threshold above 1', { onPremThreshold: 1.5 }],
    ['threshold zero', { onPremThreshold: 0 }],
    ['negative wait', { queue: { maxWaitMs: -1 } }],
    ['backoff cap below base', { retry: { backoff: { baseMs: 500, maxMs: 100 } } }],
    ['all-zero split', { splits: [{ model: 'm', weights: { a: 0 } }] }],
    ['negative weight', { splits: [{ model: 'm', weights: { a: -1 } }] }],
    ['duplicate split', { splits: [{ model: 'm', weights: { a: 1 } }, { model: 'm', weights: { b: 1 } }] }],
    ['split on a virtual model', { splits: [{ model: 'perimeter/auto', weights: { a: 1 } }] }],
    ['bad prefer', { prefer: 'fast' }],
  ];
  for (const [name, input] of bad) it(`rejects ${name}`, () => assert.equal(routingSchema.safeParse(input).success, false));

  it('cross-checks splits against the catalog', () => {
    const r = routingSchema.parse({
      splits: [
        { model: 'llama-70b', weights: { onprem: 1, openai: 1 } },
        { model: 'ghost', weights: { onprem: 1 } },
      ],
    });
    assert.deepEqual(routingProblems(r, demoCatalog()), [
      'routing.splits[0].weights.openai: backend does not serve "llama-70b"',
      'routing.splits[1].model: no backend serves "ghost"',
    ]);
    assert.deepEqual(routingProblems(defaultRouting(), demoCatalog()), []);
  });
});
