import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Lease } from '../../src/route/capacity.js';
import type { RouteConstraints } from '../../src/route/constraints.js';
import type { RoutePlan } from '../../src/route/plan.js';
import { seededRng } from '../../src/route/time.js';
import { catalogOf, constraints, demoCatalog, routerOf } from './support.js';

const order = (plan: RoutePlan): string[] => plan.candidates.map((c) => `${c.entry.backendId}:${c.why}`);

function hold(router: ReturnType<typeof routerOf>, backendId: string, n: number): Lease[] {
  const leases: Lease[] = [];
  for (let i = 0; i < n; i++) {
    const l = router.capacity.get(backendId).tryAcquire();
    assert.ok(l !== undefined);
    leases.push(l);
  }
  return leases;
}

describe('cost strategy', () => {
  // onprem has maxConcurrency 4; threshold 0.5 → 2 in flight is "over".
  const cases: { name: string; inFlight: number; c: Partial<RouteConstraints>; expect: string[] }[] = [
    { name: 'idle on-prem goes first', inFlight: 0, c: {}, expect: ['onprem:on_prem_under_threshold', 'azure:tier_order', 'anthropic:tier_order'] },
    { name: 'below threshold still first', inFlight: 1, c: {}, expect: ['onprem:on_prem_under_threshold', 'azure:tier_order', 'anthropic:tier_order'] },
    { name: 'at threshold overflows to the next tiers', inFlight: 2, c: {}, expect: ['azure:tier_order', 'anthropic:tier_order', 'onprem:on_prem_over_threshold'] },
    { name: 'full on-prem goes last', inFlight: 4, c: {}, expect: ['azure:tier_order', 'anthropic:tier_order', 'onprem:at_capacity'] },
    { name: 'over threshold but on-prem is the only tier', inFlight: 3, c: { eligibleTiers: ['on-prem'] }, expect: ['onprem:on_prem_over_threshold'] },
    { name: 'full and only tier: kept, to queue on', inFlight: 4, c: { eligibleTiers: ['on-prem'] }, expect: ['onprem:at_capacity'] },
    { name: 'overflow follows decision order', inFlight: 2, c: { eligibleTiers: ['on-prem', 'public-api', 'private-cloud'] }, expect: ['anthropic:tier_order', 'azure:tier_order', 'onprem:on_prem_over_threshold'] },
    { name: 'on-prem is hoisted even if the decision lists it later', inFlight: 0, c: { eligibleTiers: ['private-cloud', 'on-prem'] }, expect: ['onprem:on_prem_under_threshold', 'azure:tier_order'] },
  ];
  for (const t of cases) {
    it(t.name, () => {
      const router = routerOf(demoCatalog(), { onPremThreshold: 0.5 });
      hold(router, 'onprem', t.inFlight);
      assert.deepEqual(order(router.plan('llama-70b', 'chat', constraints(t.c))), t.expect);
    });
  }

  it('cheapest first within a tier, least loaded first among equal on-prem backends', () => {
    const catalog = catalogOf([
      { id: 'p1', tier: 'on-prem', maxConcurrency: 10, models: [{ id: 'm' }] },
      { id: 'p2', tier: 'on-prem', maxConcurrency: 10, models: [{ id: 'm' }] },
      { id: 'x', tier: 'public-api', models: [{ id: 'm', price: 5 }] },
      { id: 'y', tier: 'public-api', models: [{ id: 'm', price: 3 }] },
    ]);
    const router = routerOf(catalog);
    hold(router, 'p1', 2);
    hold(router, 'p2', 1);
    assert.deepEqual(order(router.plan('m', 'chat', constraints())), [
      'p2:on_prem_under_threshold',
      'p1:on_prem_under_threshold',
      'y:tier_order',
      'x:tier_order',
    ]);
  });
});

describe('latency strategy', () => {
  it('orders by EWMA time to first byte; unknown uses the configured default', () => {
    const router = routerOf(demoCatalog(), { latency: { unknownMs: 1_000 } });
    router.health.recordSuccess('onprem', 200);
    router.health.recordSuccess('azure', 50);
    const plan = router.plan('llama-70b', 'chat', constraints({ prefer: 'latency' }));
    assert.equal(plan.strategy, 'latency');
    assert.deepEqual(order(plan), ['azure:latency', 'onprem:latency', 'anthropic:latency']);
  });

  it('optimistic default: never-seen backends first, ties by decision tier order then config order', () => {
    const router = routerOf(demoCatalog(), { prefer: 'latency' });
    router.health.recordSuccess('onprem', 30);
    const plan = router.plan('perimeter/frontier', 'chat', constraints({ eligibleTiers: ['public-api', 'private-cloud'] }));
    assert.deepEqual(order(plan), ['openai:latency', 'anthropic:latency', 'azure:latency']);
  });

  it('the moving average follows recent samples', () => {
    const router = routerOf(demoCatalog(), { latency: { ewmaAlpha: 0.5 } });
    router.health.recordSuccess('onprem', 100);
    router.health.recordSuccess('azure', 300);
    assert.equal(order(router.plan('llama-70b', 'chat', constraints({ prefer: 'latency', eligibleTiers: ['on-prem', 'private-cloud'] })))[0], 'onprem:latency');
    router.health.recordSuccess('onprem', 900); // 500
    router.health.recordSuccess('onprem', 900); // 700
    assert.equal(router.health.latencyMs('onprem'), 700);
    assert.equal(order(router.plan('llama-70b', 'chat', constraints({ prefer: 'latency', eligibleTiers: ['on-prem', 'private-cloud'] })))[0], 'azure:latency');
  });

  it('full backends go last whatever their latency', () => {
    const router = routerOf(demoCatalog(), { prefer: 'latency' });
    router.health.recordSuccess('onprem', 1);
    router.health.recordSuccess('azure', 500);
    router.health.recordSuccess('anthropic', 600);
    hold(router, 'onprem', 4);
    assert.deepEqual(order(router.plan('llama-70b', 'chat', constraints())), ['azure:latency', 'anthropic:latency', 'onprem:at_capacity']);
  });
});

describe('weighted split', () => {
  const catalog = (): ReturnType<typeof catalogOf> =>
    catalogOf([
      { id: 'blue', tier: 'on-prem', maxConcurrency: 100, models: [{ id: 'm' }] },
      { id: 'green', tier: 'on-prem', maxConcurrency: 100, models: [{ id: 'm' }] },
      { id: 'cloud', tier: 'public-api', models: [{ id: 'm', price: 1 }] },
    ]);

  const firstPicks = (router: ReturnType<typeof routerOf>, c: RouteConstraints, n: number): Map<string, number> => {
    const counts = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const first = router.plan('m', 'chat', c).candidates[0]?.entry.backendId ?? 'none';
      counts.set(first, (counts.get(first) ?? 0) + 1);
    }
    return counts;
  };

  it('distributes first picks by weight (seeded RNG, 10k draws)', () => {
    const router = routerOf(catalog(), { splits: [{ model: 'm', weights: { blue: 90, green: 10 } }] }, undefined, seededRng(42));
    const counts = firstPicks(router, constraints(), 10_000);
    const blue = (counts.get('blue') ?? 0) / 10_000;
    assert.ok(blue > 0.88 && blue < 0.92, `blue share ${blue}`);
    assert.equal((counts.get('blue') ?? 0) + (counts.get('green') ?? 0), 10_000);
  });

  it('is deterministic for a given seed', () => {
    const picks = (): string[] => {
      const router = routerOf(catalog(), { splits: [{ model: 'm', weights: { blue: 50, green: 50 } }] }, undefined, seededRng(7));
      return Array.from({ length: 20 }, () => router.plan('m', 'chat', constraints()).candidates.map((c) => c.entry.backendId).join(','));
    };
    assert.deepEqual(picks(), picks());
  });

  it('unweighted backends follow as fallback; strict splits drop them', () => {
    const loose = routerOf(catalog(), { splits: [{ model: 'm', weights: { blue: 1 } }] });
    assert.deepEqual(order(loose.plan('m', 'chat', constraints())), ['blue:split', 'green:on_prem_under_threshold', 'cloud:tier_order']);
    const strict = routerOf(catalog(), { splits: [{ model: 'm', weights: { blue: 1, cloud: 0 }, strict: true }] });
    const plan = strict.plan('m', 'chat', constraints());
    assert.deepEqual(order(plan), ['blue:split']);
    assert.deepEqual(plan.rejected.map((r) => `${r.entry.backendId}:${r.reason}`).sort(), ['cloud:split_excluded', 'green:split_excluded']);
  });

  it('never leaves the eligible set: weights of ineligible backends are ignored', () => {
    const router = routerOf(catalog(), { splits: [{ model: 'm', weights: { cloud: 99, green: 1 } }] }, undefined, seededRng(3));
    const counts = firstPicks(router, constraints({ eligibleTiers: ['on-prem'] }), 500);
    assert.deepEqual([...counts.keys()], ['green']);
  });

  it('virtual models are not split', () => {
    const router = routerOf(catalog(), { splits: [{ model: 'm', weights: { green: 1 } }] });
    assert.equal(router.plan('perimeter/basic', 'chat', constraints()).split, false);
  });
});
