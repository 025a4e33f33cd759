import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ModelKind } from '../../src/route/catalog.js';
import type { RouteConstraints } from '../../src/route/constraints.js';
import { explainPlan, refusal, type RoutePlan } from '../../src/route/plan.js';
import { catalogOf, constraints, demoCatalog, FakeTime, routerOf } from './support.js';

const chain = (plan: RoutePlan): string[] => plan.candidates.map((c) => `${c.entry.backendId}/${c.entry.id}`);
const reasons = (plan: RoutePlan): string[] => plan.rejected.map((r) => `${r.entry.backendId}/${r.entry.id}:${r.reason}`).sort();

describe('candidate selection', () => {
  const cases: {
    name: string;
    model: string;
    kind?: ModelKind;
    c: Partial<RouteConstraints>;
    verdict: RoutePlan['verdict'];
    chain?: string[];
    rejected?: string[];
    served?: string[];
  }[] = [
    {
      name: 'concrete model, all tiers: on-prem first, then tiers in decision order',
      model: 'llama-70b',
      c: {},
      verdict: 'ok',
      chain: ['onprem/llama-70b', 'azure/llama-70b', 'anthropic/llama-70b'],
      rejected: [],
    },
    {
      name: 'decision order decides overflow order',
      model: 'llama-70b',
      c: { eligibleTiers: ['on-prem', 'public-api', 'private-cloud'] },
      verdict: 'ok',
      chain: ['onprem/llama-70b', 'anthropic/llama-70b', 'azure/llama-70b'],
    },
    {
      name: 'ineligible tiers are rejected with a reason',
      model: 'llama-70b',
      c: { eligibleTiers: ['on-prem'] },
      verdict: 'ok',
      chain: ['onprem/llama-70b'],
      rejected: ['anthropic/llama-70b:tier_not_eligible', 'azure/llama-70b:tier_not_eligible'],
    },
    {
      name: 'regions narrow the eligible tiers further',
      model: 'llama-70b',
      c: { regions: ['eu-west'] },
      verdict: 'ok',
      chain: ['azure/llama-70b'],
      rejected: ['anthropic/llama-70b:region_not_allowed', 'onprem/llama-70b:region_not_allowed'],
    },
    {
      name: 'cloud-only model with on-prem-only data: not permitted, never substituted',
      model: 'gpt-4o',
      c: { eligibleTiers: ['on-prem'] },
      verdict: 'not_permitted',
      chain: [],
      served: ['private-cloud', 'public-api'],
      rejected: ['azure/gpt-4o:tier_not_eligible', 'openai/gpt-4o:tier_not_eligible'],
    },
    { name: 'empty eligible set fails closed', model: 'llama-8b', c: { eligibleTiers: [] }, verdict: 'not_permitted', chain: [] },
    { name: 'empty region list fails closed', model: 'llama-8b', c: { regions: [] }, verdict: 'not_permitted', chain: [] },
    { name: 'unknown model', model: 'nope', c: {}, verdict: 'model_not_found', chain: [] },
    { name: 'embedding model asked for chat', model: 'bge', c: {}, verdict: 'wrong_kind', rejected: ['onprem/bge:wrong_kind'] },
    { name: 'chat model asked for embeddings', model: 'llama-8b', kind: 'embedding', c: {}, verdict: 'wrong_kind' },
    { name: 'embedding model for embeddings', model: 'bge', kind: 'embedding', c: { eligibleTiers: ['on-prem'] }, verdict: 'ok', chain: ['onprem/bge'] },
    {
      name: 'perimeter/mid: at least mid, one per backend, on-prem then cheapest per tier',
      model: 'perimeter/mid',
      c: {},
      verdict: 'ok',
      chain: ['onprem/llama-70b', 'azure/llama-70b', 'anthropic/llama-70b', 'openai/gpt-mini'],
      rejected: [
        'anthropic/claude:duplicate_backend',
        'azure/gpt-4o:duplicate_backend',
        'onprem/llama-8b:capability_too_low',
        'openai/gpt-4o:duplicate_backend',
      ],
    },
    {
      name: 'perimeter/basic prefers the least capable fit on a backend',
      model: 'perimeter/basic',
      c: { eligibleTiers: ['on-prem'] },
      verdict: 'ok',
      chain: ['onprem/llama-8b'],
    },
    {
      name: 'perimeter/frontier stays within eligible tiers',
      model: 'perimeter/frontier',
      c: { eligibleTiers: ['on-prem', 'private-cloud'] },
      verdict: 'ok',
      chain: ['azure/gpt-4o'],
    },
    {
      name: 'perimeter/frontier in public: cheapest frontier first',
      model: 'perimeter/frontier',
      c: { eligibleTiers: ['public-api'] },
      verdict: 'ok',
      chain: ['openai/gpt-4o', 'anthropic/claude'],
    },
    {
      name: 'perimeter/auto uses the decision capability; no downgrade when only lower is eligible',
      model: 'perimeter/auto',
      c: { eligibleTiers: ['on-prem'], capability: 'frontier' },
      verdict: 'not_permitted',
      chain: [],
      served: ['private-cloud', 'public-api'],
    },
    { name: 'perimeter/auto basic on-prem', model: 'perimeter/auto', c: { eligibleTiers: ['on-prem'], capability: 'basic' }, verdict: 'ok', chain: ['onprem/llama-8b'] },
    { name: 'virtual models are chat only', model: 'perimeter/auto', kind: 'embedding', c: {}, verdict: 'wrong_kind' },
  ];

  for (const t of cases) {
    it(t.name, () => {
      const router = routerOf(demoCatalog());
      const c = constraints(t.c);
      const plan = router.plan(t.model, t.kind ?? 'chat', c);
      assert.equal(plan.verdict, t.verdict);
      if (t.chain !== undefined) assert.deepEqual(chain(plan), t.chain);
      if (t.rejected !== undefined) assert.deepEqual(reasons(plan), t.rejected);
      if (t.served !== undefined) assert.deepEqual(plan.servedTiers, t.served);
      for (const cand of plan.candidates) {
        assert.ok(c.eligibleTiers.includes(cand.entry.tier));
        if (!t.model.startsWith('perimeter/')) assert.equal(cand.entry.id, t.model);
      }
    });
  }

  it('virtual model with no model of that capability anywhere is model_not_found', () => {
    const router = routerOf(catalogOf([{ id: 'a', tier: 'on-prem', models: [{ id: 'small' }] }]));
    const plan = router.plan('perimeter/frontier', 'chat', constraints());
    assert.equal(plan.verdict, 'model_not_found');
    assert.equal(refusal(plan)?.code, 'model_not_found');
  });

  it('open breakers are rejected; all open → unavailable with retryAfter', () => {
    const time = new FakeTime();
    const router = routerOf(demoCatalog(), { breaker: { failureThreshold: 1, cooldownMs: 4_500 } }, time);
    router.health.recordFailure('onprem');
    let plan = router.plan('llama-70b', 'chat', constraints());
    assert.deepEqual(chain(plan), ['azure/llama-70b', 'anthropic/llama-70b']);
    assert.deepEqual(
      plan.rejected.map((r) => [r.entry.backendId, r.reason, r.retryInMs]),
      [['onprem', 'breaker_open', 4_500]],
    );
    time.advance(1_000);
    router.health.recordFailure('azure');
    router.health.recordFailure('anthropic');
    plan = router.plan('llama-70b', 'chat', constraints());
    assert.equal(plan.verdict, 'unavailable');
    assert.equal(plan.retryAfterSeconds, 4); // onprem: 3.5 s left, rounded up
    const r = refusal(plan);
    assert.equal(r?.code, 'upstream_unavailable');
    assert.equal(r?.retryAfter, 4);
  });

  it('refusal messages name the tiers or regions that do serve the model', () => {
    const router = routerOf(demoCatalog());
    const byTier = refusal(router.plan('gpt-4o', 'chat', constraints({ eligibleTiers: ['on-prem'] })));
    assert.equal(byTier?.code, 'model_not_permitted_for_data');
    assert.deepEqual(byTier?.servedTiers, ['private-cloud', 'public-api']);
    assert.match(byTier?.message ?? '', /served only in tiers private-cloud, public-api.*on-prem/);
    const byRegion = refusal(router.plan('llama-70b', 'chat', constraints({ regions: ['ap-south'] })));
    assert.match(byRegion?.message ?? '', /served only in regions eu-central, eu-west, us-east.*ap-south/);
    assert.equal(refusal(router.plan('llama-8b', 'chat', constraints())), undefined);
    assert.equal(refusal(router.plan('bge', 'chat', constraints()))?.code, 'invalid_request');
  });

  it('explains a plan as plain JSON with every candidate and rejection', () => {
    const router = routerOf(demoCatalog());
    const x = explainPlan(router.plan('llama-70b', 'chat', constraints({ eligibleTiers: ['on-prem', 'public-api'] })));
    assert.deepEqual(JSON.parse(JSON.stringify(x)), {
      verdict: 'ok',
      model: 'llama-70b',
      strategy: 'cost',
      split: false,
      eligibleTiers: ['on-prem', 'public-api'],
      candidates: [
        { backendId: 'onprem', model: 'llama-70b', tier: 'on-prem', region: 'eu-central', why: 'on_prem_under_threshold', utilisation: 0 },
        { backendId: 'anthropic', model: 'llama-70b', tier: 'public-api', region: 'us-east', why: 'tier_order', utilisation: 0 },
      ],
      rejected: [{ backendId: 'azure', model: 'llama-70b', tier: 'private-cloud', region: 'eu-west', reason: 'tier_not_eligible' }],
    });
  });
});
