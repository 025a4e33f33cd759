import { TIERS, type Capability, type Tier } from '../domain/tier.js';
import type { CapacityRegistry } from './capacity.js';
import type { CatalogEntry, ModelCatalog, ModelKind } from './catalog.js';
import type { RoutingConfig, SplitConfig } from './config.js';
import { permits, type RouteConstraints } from './constraints.js';
import type { HealthRegistry } from './health.js';
import { blendedPrice, orderCandidates, type RankedCandidate, type ScoredCandidate, type Strategy } from './strategy.js';
import type { Rng } from './time.js';
import { capabilityRank, isVirtualModel, virtualCapability } from './virtual.js';

/** Machine-readable reasons an entry is not in the chain. */
export type RejectReason =
  /** Embedding model asked for chat, or the reverse. */
  | 'wrong_kind'
  /** Virtual model: below the capability asked for. */
  | 'capability_too_low'
  | 'tier_not_eligible'
  | 'region_not_allowed'
  /** Virtual model: another model on the same backend ranks better; one entry per backend. */
  | 'duplicate_backend'
  /** A strict split gives this backend no weight. */
  | 'split_excluded'
  /** Open, or half-open with its probe already out. */
  | 'breaker_open';

export interface Rejection {
  readonly entry: CatalogEntry;
  readonly reason: RejectReason;
  /** breaker_open: milliseconds until a probe may go. */
  readonly retryInMs?: number;
}

/**
 * ok: candidates is non-empty. model_not_found: unknown id, or no model of the
 * virtual capability anywhere (404). wrong_kind: the id exists for the other call
 * kind only (400). not_permitted: served, but only where the data may not go (403
 * model_not_permitted_for_data; servedTiers/servedRegions say where). unavailable:
 * eligible backends exist but none is usable now (503, retryAfterSeconds).
 */
export type PlanVerdict = 'ok' | 'model_not_found' | 'wrong_kind' | 'not_permitted' | 'unavailable';

export interface RoutePlan {
  readonly verdict: PlanVerdict;
  /** The id the client sent. */
  readonly model: string;
  readonly kind: ModelKind;
  /** The capability a virtual id resolved to; undefined for concrete ids. */
  readonly capability: Capability | undefined;
  readonly strategy: Strategy;
  /** Whether a weighted split ordered the head of the chain. */
  readonly split: boolean;
  readonly constraints: RouteConstraints;
  /** The fallback chain, best first. Every entry satisfies the constraints. */
  readonly candidates: readonly RankedCandidate[];
  readonly rejected: readonly Rejection[];
  /** Tiers (in TIERS order) and regions serving the model for this kind, eligible or not. */
  readonly servedTiers: readonly Tier[];
  readonly servedRegions: readonly string[];
  /** unavailable: seconds until the first breaker lets a probe through. */
  readonly retryAfterSeconds: number | undefined;
}

export interface PlanContext {
  readonly catalog: ModelCatalog;
  readonly routing: Pick<RoutingConfig, 'prefer' | 'onPremThreshold' | 'latency'>;
  readonly splits: ReadonlyMap<string, SplitConfig>;
  readonly health: HealthRegistry;
  readonly capacity: CapacityRegistry;
  readonly rng: Rng;
}

/**
 * Candidate selection: resolve the model (concrete or virtual), keep what the
 * constraints permit, drop unhealthy backends, order by strategy. Never substitutes
 * another model for a concrete id; never throws for a request-level problem, so
 * serving and explain share it and the caller maps the verdict to an error.
 */
export function planRoute(model: string, kind: ModelKind, constraints: RouteConstraints, ctx: PlanContext): RoutePlan {
  const rejected: Rejection[] = [];
  const strategy: Strategy = constraints.prefer ?? ctx.routing.prefer;
  // One object shape for every outcome (no spreads): this runs on every request.
  const result = (
    verdict: PlanVerdict,
    capability: Capability | undefined,
    candidates: readonly RankedCandidate[],
    servedTiers: readonly Tier[],
    servedRegions: readonly string[],
    retryAfterSeconds?: number,
  ): RoutePlan => ({
    verdict,
    model,
    kind,
    capability,
    strategy,
    split: candidates.length > 0 && candidates[0]?.why === 'split',
    constraints,
    candidates,
    rejected,
    servedTiers,
    servedRegions,
    retryAfterSeconds,
  });

  // 1. Resolve the id to the entries that could serve it.
  let capability: Capability | undefined;
  const served: CatalogEntry[] = [];
  if (isVirtualModel(model)) {
    if (kind !== 'chat') return result('wrong_kind', undefined, [], [], []);
    capability = virtualCapability(model, constraints.capability);
    const need = capabilityRank(capability);
    for (const e of ctx.catalog.entries) {
      if (e.kind !== 'chat') continue;
      if (capabilityRank(e.capability) < need) rejected.push({ entry: e, reason: 'capability_too_low' });
      else served.push(e);
    }
    if (served.length === 0) return result('model_not_found', capability, [], [], []);
  } else {
    const found = ctx.catalog.find(model);
    if (found === undefined) return result('model_not_found', undefined, [], [], []);
    for (const e of found) {
      if (e.kind === kind) served.push(e);
      else rejected.push({ entry: e, reason: 'wrong_kind' });
    }
    if (served.length === 0) return result('wrong_kind', undefined, [], [], []);
  }

  // 2. The eligible set. Everything after this only narrows it.
  let eligible: CatalogEntry[] = [];
  const servedTiers: Tier[] = [];
  const servedRegions: string[] = [];
  for (const e of served) {
    if (!servedTiers.includes(e.tier)) servedTiers.push(e.tier);
    if (!servedRegions.includes(e.region)) servedRegions.push(e.region);
    if (!constraints.eligibleTiers.includes(e.tier)) rejected.push({ entry: e, reason: 'tier_not_eligible' });
    else if (!permits(constraints, e)) rejected.push({ entry: e, reason: 'region_not_allowed' });
    else eligible.push(e);
  }
  if (servedTiers.length > 1) servedTiers.sort((a, b) => TIERS.indexOf(a) - TIERS.indexOf(b));
  if (eligible.length === 0) return result('not_permitted', capability, [], servedTiers, servedRegions);

  // 3. Virtual models: one entry per backend, the cheapest, least capable that fits,
  // so a dead backend costs one place in the chain, not one per model it serves.
  if (capability !== undefined) eligible = onePerBackend(eligible, rejected);

  // 4. Split configuration for concrete ids.
  const split = capability === undefined ? ctx.splits.get(model) : undefined;
  if (split?.strict === true) {
    eligible = eligible.filter((e) => {
      const keep = (split.weights[e.backendId] ?? 0) > 0;
      if (!keep) rejected.push({ entry: e, reason: 'split_excluded' });
      return keep;
    });
  }

  // 5. Health: breakers. Capacity does not remove anyone; it reorders.
  const scored: ScoredCandidate[] = [];
  let soonestMs = Number.POSITIVE_INFINITY;
  for (const e of eligible) {
    const breaker = ctx.health.breaker(e.backendId);
    if (!breaker.canPass()) {
      const retryInMs = breaker.retryInMs();
      soonestMs = Math.min(soonestMs, retryInMs);
      rejected.push({ entry: e, reason: 'breaker_open', retryInMs });
      continue;
    }
    const cap = ctx.capacity.get(e.backendId);
    scored.push({
      entry: e,
      utilisation: cap.utilisation(),
      full: cap.full(),
      latencyMs: ctx.health.latencyMs(e.backendId),
      weight: split === undefined ? undefined : (split.weights[e.backendId] ?? 0),
    });
  }
  if (scored.length === 0) {
    const retryAfterSeconds = Number.isFinite(soonestMs) ? Math.max(1, Math.ceil(soonestMs / 1000)) : undefined;
    return result('unavailable', capability, [], servedTiers, servedRegions, retryAfterSeconds);
  }

  // 6. Order.
  const candidates = orderCandidates(scored, {
    strategy,
    eligibleTiers: constraints.eligibleTiers,
    onPremThreshold: ctx.routing.onPremThreshold,
    unknownLatencyMs: ctx.routing.latency.unknownMs,
    rng: ctx.rng,
  });
  return result('ok', capability, candidates, servedTiers, servedRegions);
}

function onePerBackend(entries: readonly CatalogEntry[], rejected: Rejection[]): CatalogEntry[] {
  const best = new Map<string, CatalogEntry>();
  for (const e of entries) {
    const cur = best.get(e.backendId);
    if (cur === undefined) best.set(e.backendId, e);
    else if (betterVirtualFit(e, cur)) {
      rejected.push({ entry: cur, reason: 'duplicate_backend' });
      best.set(e.backendId, e);
    } else rejected.push({ entry: e, reason: 'duplicate_backend' });
  }
  return entries.filter((e) => best.get(e.backendId) === e);
}

function betterVirtualFit(a: CatalogEntry, b: CatalogEntry): boolean {
  return (blendedPrice(a) - blendedPrice(b) || capabilityRank(a.capability) - capabilityRank(b.capability) || a.order - b.order) < 0;
}

/** What the caller should answer for a plan that is not ok. Plain data: codes as strings. */
export interface Refusal {
  readonly code: 'model_not_found' | 'invalid_request' | 'model_not_permitted_for_data' | 'upstream_unavailable';
  readonly message: string;
  readonly retryAfter: number | undefined;
  /** model_not_permitted_for_data: the tiers that do serve the model. */
  readonly servedTiers: readonly Tier[];
}

/**
 * The error to answer with, or undefined for an ok plan. The lead adds the data
 * level and the deciding rule to model_not_permitted_for_data messages.
 */
export function refusal(plan: RoutePlan): Refusal | undefined {
  const what = plan.capability === undefined ? `The model '${plan.model}'` : `No ${plan.capability}-capable model (${plan.model})`;
  const eligible = plan.constraints.eligibleTiers.length === 0 ? 'none' : plan.constraints.eligibleTiers.join(', ');
  const base = { retryAfter: undefined, servedTiers: plan.servedTiers };
  switch (plan.verdict) {
    case 'ok':
      return undefined;
    case 'model_not_found':
      return plan.capability === undefined
        ? { ...base, code: 'model_not_found', message: `${what} does not exist or you do not have access to it.` }
        : { ...base, code: 'model_not_found', message: `${what} is configured.` };
    case 'wrong_kind':
      return {
        ...base,
        code: 'invalid_request',
        message: `The model '${plan.model}' does not support ${plan.kind === 'chat' ? 'chat completions' : 'embeddings'}.`,
      };
    case 'not_permitted': {
      const regions = plan.constraints.regions;
      const tierOk = plan.servedTiers.some((t) => plan.constraints.eligibleTiers.includes(t));
      const where = tierOk && regions !== undefined
        ? `is served only in regions ${plan.servedRegions.join(', ')}; this request's data may only go to ${regions.length === 0 ? 'no region' : regions.join(', ')}`
        : `is served only in tiers ${plan.servedTiers.join(', ')}; this request's data may only go to: ${eligible}`;
      return { ...base, code: 'model_not_permitted_for_data', message: `${what} ${where}.` };
    }
    case 'unavailable':
      return {
        ...base,
        code: 'upstream_unavailable',
        message: `No eligible backend for '${plan.model}' is available right now.`,
        retryAfter: plan.retryAfterSeconds,
      };
  }
}

export interface PlanExplanation {
  readonly verdict: PlanVerdict;
  readonly model: string;
  readonly capability: Capability | undefined;
  readonly strategy: Strategy;
  readonly split: boolean;
  readonly eligibleTiers: readonly Tier[];
  readonly regions: readonly string[] | undefined;
  readonly candidates: readonly {
    readonly backendId: string;
    readonly model: string;
    readonly tier: Tier;
    readonly region: string;
    readonly why: RankedCandidate['why'];
    readonly utilisation: number;
    readonly latencyMs: number | undefined;
    readonly weight: number | undefined;
  }[];
  readonly rejected: readonly {
    readonly backendId: string;
    readonly model: string;
    readonly tier: Tier;
    readonly region: string;
    readonly reason: RejectReason;
    readonly retryInMs: number | undefined;
  }[];
}

/** A JSON-ready view of a plan for explain output and decision records. Not for the hot path. */
export function explainPlan(plan: RoutePlan): PlanExplanation {
  return {
    verdict: plan.verdict,
    model: plan.model,
    capability: plan.capability,
    strategy: plan.strategy,
    split: plan.split,
    eligibleTiers: plan.constraints.eligibleTiers,
    regions: plan.constraints.regions,
    candidates: plan.candidates.map((c) => ({
      backendId: c.entry.backendId,
      model: c.entry.id,
      tier: c.entry.tier,
      region: c.entry.region,
      why: c.why,
      utilisation: c.utilisation,
      latencyMs: c.latencyMs,
      weight: c.weight,
    })),
    rejected: plan.rejected.map((r) => ({
      backendId: r.entry.backendId,
      model: r.entry.id,
      tier: r.entry.tier,
      region: r.entry.region,
      reason: r.reason,
      retryInMs: r.retryInMs,
    })),
  };
}
