import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { GatewayError, type ErrorCode } from '../../src/domain/errors.js';
import { CAPABILITIES, TIERS, type Tier } from '../../src/domain/tier.js';
import type { Lease } from '../../src/route/capacity.js';
import type { CatalogEntry } from '../../src/route/catalog.js';
import { permits, type RouteConstraints } from '../../src/route/constraints.js';
import type { RoutePlan } from '../../src/route/plan.js';
import { seededRng } from '../../src/route/time.js';
import { capabilityRank, isVirtualModel } from '../../src/route/virtual.js';
import { catalogOf, FakeTime, routerOf, type BackendSpec } from './support.js';

const REGIONS = ['eu', 'us', 'ap'] as const;
const MODEL_IDS = ['m1', 'm2', 'm3'] as const;
const REQUESTED = [...MODEL_IDS, 'ghost', 'perimeter/auto', 'perimeter/basic', 'perimeter/mid', 'perimeter/frontier'] as const;
const RETRYABLE: ErrorCode[] = ['upstream_error', 'upstream_unavailable', 'upstream_timeout', 'rate_limited'];

const modelArb = fc.record({
  id: fc.constantFrom(...MODEL_IDS),
  kind: fc.constantFrom('chat' as const, 'chat' as const, 'embedding' as const),
  capability: fc.constantFrom(...CAPABILITIES),
  price: fc.integer({ min: 0, max: 20 }),
});

const backendArb = fc.record({
  tier: fc.constantFrom(...TIERS),
  region: fc.constantFrom(...REGIONS),
  maxConcurrency: fc.integer({ min: 1, max: 3 }),
  models: fc.uniqueArray(modelArb, { minLength: 1, maxLength: 3, selector: (m) => m.id }),
  // Injected state.
  breakerOpen: fc.boolean(),
  inFlight: fc.integer({ min: 0, max: 3 }),
  latencyMs: fc.option(fc.integer({ min: 1, max: 2_000 }), { nil: undefined }),
});

const constraintsArb: fc.Arbitrary<RouteConstraints> = fc.record({
  eligibleTiers: fc.shuffledSubarray([...TIERS]),
  regions: fc.option(fc.subarray([...REGIONS]), { nil: undefined }),
  prefer: fc.constantFrom('latency' as const, 'cost' as const, undefined),
  capability: fc.constantFrom(...CAPABILITIES),
});

type Step = 'ok' | 'hold' | 'fatal' | 'abort' | ErrorCode;
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom<Step>('ok', 'hold') },
  { weight: 5, arbitrary: fc.constantFrom<Step>(...RETRYABLE) },
  { weight: 1, arbitrary: fc.constantFrom<Step>('fatal', 'abort') },
);

const requestArb = fc.record({
  model: fc.constantFrom(...REQUESTED),
  constraints: constraintsArb,
  script: fc.array(stepArb, { maxLength: 12 }),
});

const routingArb = fc.record({
  prefer: fc.constantFrom('cost' as const, 'latency' as const),
  onPremThreshold: fc.constantFrom(0.3, 0.5, 0.8, 1),
  retry: fc.record({ maxAttempts: fc.integer({ min: 1, max: 6 }), attemptsPerBackend: fc.integer({ min: 1, max: 3 }) }),
  breaker: fc.record({ failureThreshold: fc.integer({ min: 1, max: 3 }), cooldownMs: fc.integer({ min: 1, max: 5_000 }) }),
  splitWeights: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 6, maxLength: 6 }),
  splitStrict: fc.boolean(),
});

const scenarioArb = fc.record({
  backends: fc.array(backendArb, { minLength: 1, maxLength: 6 }),
  routing: routingArb,
  requests: fc.array(requestArb, { minLength: 1, maxLength: 8 }),
  seed: fc.integer(),
});

type Scenario = typeof scenarioArb extends fc.Arbitrary<infer S> ? S : never;

function build(s: Scenario) {
  const specs: BackendSpec[] = s.backends.map((b, i) => ({ id: `b${i}`, tier: b.tier, region: b.region, maxConcurrency: b.maxConcurrency, models: b.models }));
  const catalog = catalogOf(specs);
  const weights: Record<string, number> = {};
  s.backends.forEach((_, i) => {
    const w = s.routing.splitWeights[i] ?? 0;
    if (w > 0) weights[`b${i}`] = w;
  });
  const splits = Object.keys(weights).length > 0 ? [{ model: 'm1', weights, strict: s.routing.splitStrict }] : [];
  const time = new FakeTime();
  const router = routerOf(
    catalog,
    {
      prefer: s.routing.prefer,
      onPremThreshold: s.routing.onPremThreshold,
      // Zero wait: a full last candidate is refused at once, so no run can hang on the fake clock.
      queue: { maxWaitMs: 0 },
      retry: s.routing.retry,
      breaker: s.routing.breaker,
      splits,
    },
    time,
    seededRng(s.seed),
  );
  const held: Lease[] = [];
  s.backends.forEach((b, i) => {
    const id = `b${i}`;
    if (b.breakerOpen) for (let k = 0; k < s.routing.breaker.failureThreshold; k++) router.health.recordFailure(id);
    for (let k = 0; k < b.inFlight; k++) {
      const l = router.capacity.get(id).tryAcquire();
      if (l !== undefined) held.push(l);
    }
    if (b.latencyMs !== undefined) router.health.recordSuccess(id, b.latencyMs);
  });
  return { catalog, router, time, held };
}

function stepError(step: Step): GatewayError | undefined {
  if (step === 'ok' || step === 'hold' || step === 'abort') return undefined;
  if (step === 'fatal') return new GatewayError('invalid_request', 'no');
  return new GatewayError(step, step, { retryable: true });
}

/** Checks a plan's own promises: eligible candidates, no substitution, a full account of what was left out. */
function checkPlan(plan: RoutePlan, model: string, c: RouteConstraints, served: readonly CatalogEntry[]): void {
  for (const cand of plan.candidates) {
    assert.ok(permits(c, cand.entry), `plan candidate ${cand.entry.backendId} (${cand.entry.tier}/${cand.entry.region}) outside the eligible set`);
    if (isVirtualModel(model)) assert.ok(capabilityRank(cand.entry.capability) >= capabilityRank(plan.capability ?? 'basic'));
    else assert.equal(cand.entry.id, model, 'another model was substituted');
  }
  if (plan.verdict === 'ok') assert.ok(plan.candidates.length > 0);
  else assert.equal(plan.candidates.length, 0);
  // Every entry serving the id is accounted for exactly once: chosen or rejected with a reason.
  if (!isVirtualModel(model) && plan.verdict !== 'model_not_found') {
    const seen = [...plan.candidates.map((x) => x.entry), ...plan.rejected.map((x) => x.entry)];
    assert.equal(seen.length, served.length);
    assert.equal(new Set(seen).size, served.length);
  }
  if (plan.verdict === 'not_permitted') assert.ok(!served.some((e) => e.kind === 'chat' && permits(c, e)));
}

describe('property: the router never leaves the eligible set', () => {
  it('over random catalogs, constraints, breakers, saturation and injected failures', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (s) => {
        const { catalog, router, time, held } = build(s);
        for (const req of s.requests) {
          const c = req.constraints;
          const plan = router.plan(req.model, 'chat', c);
          checkPlan(plan, req.model, c, catalog.find(req.model) ?? []);
          if (plan.verdict !== 'ok') continue;
          const ac = new AbortController();
          const script = [...req.script];
          const called: CatalogEntry[] = [];
          const r = await router.run(plan, c, (entry) => {
            called.push(entry);
            // The property itself: checked at the moment data would leave.
            assert.ok(permits(c, entry), `attempt on ${entry.backendId} (${entry.tier}/${entry.region}) with eligible ${c.eligibleTiers.join(',')} regions ${c.regions?.join(',') ?? '*'}`);
            assert.ok(plan.candidates.some((x) => x.entry === entry), 'attempt on a backend outside the plan');
            time.advance(7);
            const step = script.shift() ?? 'ok';
            if (step === 'abort') {
              ac.abort();
              return Promise.reject(new GatewayError('client_closed_request', 'gone'));
            }
            const err = stepError(step);
            return err === undefined ? Promise.resolve(step) : Promise.reject(err);
          }, ac.signal);
          assert.ok(called.length <= s.routing.retry.maxAttempts);
          assert.equal(r.attempts.filter((a) => a.attemptNo > 0).length, called.length);
          for (const a of r.attempts) assert.ok(permits(c, { tier: a.tier as Tier, region: a.region }));
          if (r.ok) {
            if (r.value === 'hold') held.push(r.lease);
            else r.lease.release();
          }
          time.advance(1_000);
        }
        // No slot leaked: only the leases the scenario chose to hold are in flight.
        const inFlight = router.capacity.snapshot().reduce((n, x) => n + x.inFlight, 0);
        assert.equal(inFlight, held.length);
        for (const l of held) l.release();
        assert.equal(router.capacity.snapshot().reduce((n, x) => n + x.inFlight, 0), 0);
      }),
      { numRuns: 400 },
    );
  });

  it('a tampered plan with out-of-set candidates never reaches attempt', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), async (s, picks) => {
        const { catalog, router } = build(s);
        for (const req of s.requests) {
          const c = req.constraints;
          const plan = router.plan(req.model, 'chat', c);
          const extra = picks
            .map((p) => catalog.entries[p % catalog.entries.length])
            .filter((e): e is CatalogEntry => e !== undefined)
            .map((entry) => ({ entry, why: 'tier_order' as const, utilisation: 0, full: false, latencyMs: undefined, weight: undefined }));
          const tampered: RoutePlan = { ...plan, verdict: 'ok', candidates: [...extra, ...plan.candidates] };
          const anyOutside = tampered.candidates.some((x) => !permits(c, x.entry));
          let calls = 0;
          const r = await router.run(tampered, c, (entry) => {
            calls++;
            assert.ok(permits(c, entry));
            return Promise.resolve(1);
          }, new AbortController().signal);
          if (anyOutside) {
            assert.equal(calls, 0);
            assert.ok(!r.ok && r.error.code === 'internal_error');
          }
          if (r.ok) r.lease.release();
        }
      }),
      { numRuns: 300 },
    );
  });
});
