import type { Tier } from '../domain/tier.js';
import type { CatalogEntry } from './catalog.js';
import type { Rng } from './time.js';
import { capabilityRank } from './virtual.js';

export type Strategy = 'cost' | 'latency';

/** Why a candidate sits where it does in the chain; for explain output. */
export type OrderReason =
  /** Drawn by the weighted split. */
  | 'split'
  /** Cost: on-prem below the utilisation threshold. */
  | 'on_prem_under_threshold'
  /** Cost: a non-on-prem tier, in the decision's tier order, cheapest first. */
  | 'tier_order'
  /** Cost: on-prem at or above the threshold, used once other tiers are exhausted. */
  | 'on_prem_over_threshold'
  /** Latency: ordered by moving-average time to first byte. */
  | 'latency'
  /** No free slot right now; tried last, and queued on if it is the very last. */
  | 'at_capacity';

/** A candidate with the live readings the strategies order by. */
export interface ScoredCandidate {
  readonly entry: CatalogEntry;
  readonly utilisation: number;
  readonly full: boolean;
  /** Observed EWMA, undefined when never observed. */
  readonly latencyMs: number | undefined;
  /** Split weight for this backend, undefined when no split applies. */
  readonly weight: number | undefined;
}

export interface RankedCandidate extends ScoredCandidate {
  readonly why: OrderReason;
}

export interface OrderOptions {
  readonly strategy: Strategy;
  readonly eligibleTiers: readonly Tier[];
  readonly onPremThreshold: number;
  /** Latency assumed for never-observed backends. */
  readonly unknownLatencyMs: number;
  /** Consumed only when some candidate has a positive weight. */
  readonly rng: Rng;
}

/** Price per 1M tokens, input and output together: a blend is enough to rank backends. */
export function blendedPrice(e: CatalogEntry): number {
  return e.price.inputPer1M + e.price.outputPer1M;
}

/**
 * Orders eligible, healthy candidates. Backends with no free slot always go last
 * (whatever the strategy), so the runner only queues when nothing else is left.
 * Before that: a weighted split draws its backends first (weighted order without
 * replacement); the rest follow the strategy. Every comparison ends on config
 * order, so equal inputs always give the same chain.
 */
export function orderCandidates(scored: readonly ScoredCandidate[], options: OrderOptions): RankedCandidate[] {
  const free: ScoredCandidate[] = [];
  const full: ScoredCandidate[] = [];
  const weighted: ScoredCandidate[] = [];
  for (const c of scored) {
    if (c.full) full.push(c);
    else if (c.weight !== undefined && c.weight > 0) weighted.push(c);
    else free.push(c);
  }
  const out: RankedCandidate[] = [];
  for (const c of weightedOrder(weighted, options.rng)) out.push(ranked(c, 'split'));
  const rest = options.strategy === 'latency' ? byLatency(free, options) : byCost(free, options);
  for (const c of rest) out.push(c);
  for (const c of byLatencyOrCostKey(full, options)) out.push(ranked(c, 'at_capacity'));
  return out;
}

// An explicit literal, not a spread: spreads are several times slower on this per-request path.
function ranked(c: ScoredCandidate, why: OrderReason): RankedCandidate {
  return { entry: c.entry, utilisation: c.utilisation, full: c.full, latencyMs: c.latencyMs, weight: c.weight, why };
}

function tierIndex(tiers: readonly Tier[], t: Tier): number {
  const i = tiers.indexOf(t);
  return i < 0 ? tiers.length : i;
}

function byCost(list: readonly ScoredCandidate[], o: OrderOptions): RankedCandidate[] {
  const keyed = list.map((c) => {
    const onPrem = c.entry.tier === 'on-prem';
    const group = onPrem ? (c.utilisation < o.onPremThreshold ? 0 : 2) : 1;
    const why: OrderReason = group === 0 ? 'on_prem_under_threshold' : group === 1 ? 'tier_order' : 'on_prem_over_threshold';
    return { c, group, why, tier: tierIndex(o.eligibleTiers, c.entry.tier), price: blendedPrice(c.entry) };
  });
  keyed.sort(
    (a, b) =>
      a.group - b.group ||
      a.tier - b.tier ||
      a.price - b.price ||
      a.c.utilisation - b.c.utilisation ||
      capabilityRank(a.c.entry.capability) - capabilityRank(b.c.entry.capability) ||
      a.c.entry.order - b.c.entry.order,
  );
  return keyed.map((k) => ranked(k.c, k.why));
}

function byLatency(list: readonly ScoredCandidate[], o: OrderOptions): RankedCandidate[] {
  const keyed = list.map((c) => ({ c, ms: c.latencyMs ?? o.unknownLatencyMs, tier: tierIndex(o.eligibleTiers, c.entry.tier) }));
  keyed.sort((a, b) => a.ms - b.ms || a.tier - b.tier || a.c.entry.order - b.c.entry.order);
  return keyed.map((k) => ranked(k.c, 'latency'));
}

// Full backends: whichever frees first is unknowable, so the least loaded goes first.
function byLatencyOrCostKey(list: readonly ScoredCandidate[], o: OrderOptions): ScoredCandidate[] {
  return [...list].sort(
    (a, b) =>
      a.utilisation - b.utilisation ||
      tierIndex(o.eligibleTiers, a.entry.tier) - tierIndex(o.eligibleTiers, b.entry.tier) ||
      a.entry.order - b.entry.order,
  );
}

/** Weighted order without replacement: the first pick follows the weights exactly. */
function weightedOrder(list: readonly ScoredCandidate[], rng: Rng): ScoredCandidate[] {
  const pool = [...list];
  const out: ScoredCandidate[] = [];
  let total = pool.reduce((s, c) => s + (c.weight ?? 0), 0);
  while (pool.length > 0) {
    let r = rng() * total;
    let i = 0;
    for (; i < pool.length - 1; i++) {
      r -= pool[i]?.weight ?? 0;
      if (r < 0) break;
    }
    const [picked] = pool.splice(i, 1);
    if (picked === undefined) break;
    out.push(picked);
    total -= picked.weight ?? 0;
  }
  return out;
}
