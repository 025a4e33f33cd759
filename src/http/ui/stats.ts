import { CAPABILITIES, TIERS, type Tier } from '../../domain/tier.js';
import type { AuditLog } from '../../record/audit.js';
import { blendedPerToken } from '../../record/cost.js';
import type { DecisionRecord } from '../../record/decision-record.js';
import { costReport, residencyReport } from '../../record/report.js';
import type { RecordFilter, RecordStore, SeriesRow } from '../../record/store.js';
import type { DashboardSources } from './sources.js';

/** The periods the UI offers, each with a bucket size that gives 48–90 points per chart. */
export const RANGES = {
  '1h': { ms: 3_600_000, bucketMs: 60_000 },
  '24h': { ms: 86_400_000, bucketMs: 1_800_000 },
  '7d': { ms: 7 * 86_400_000, bucketMs: 3 * 3_600_000 },
  '30d': { ms: 30 * 86_400_000, bucketMs: 12 * 3_600_000 },
  '90d': { ms: 90 * 86_400_000, bucketMs: 86_400_000 },
} as const;
export type RangeName = keyof typeof RANGES;

export interface Window {
  readonly range: RangeName;
  readonly since: number;
  readonly until: number;
  readonly bucketMs: number;
}

export function windowFor(range: RangeName, now: number): Window {
  const r = RANGES[range];
  return { range, since: now - r.ms, until: now, bucketMs: r.bucketMs };
}

/** `served` tiers plus `none`: what a request that reached no tier (refused, failed) is charted as. */
export const SERIES_TIERS = [...TIERS, 'none'] as const;

/** Every bucket start in the window, so charts have an x for empty buckets too. */
function buckets(w: Window): number[] {
  const out: number[] = [];
  // Bounded: at most ms / bucketMs + 1 entries (≤ 91 for the ranges above).
  for (let b = Math.floor(w.since / w.bucketMs) * w.bucketMs; b < w.until; b += w.bucketMs) out.push(b);
  return out;
}

/** Rows of one grouping key spread into one array per key value, aligned with `xs`. */
function spread(rows: readonly SeriesRow[], xs: readonly number[], keyOf: (r: SeriesRow) => string, value: (r: SeriesRow) => number, names: readonly string[]): { name: string; values: number[] }[] {
  const index = new Map(xs.map((x, i) => [x, i] as const));
  const out = new Map<string, number[]>(names.map((n) => [n, xs.map(() => 0)]));
  for (const r of rows) {
    const i = index.get(r.bucketMs);
    if (i === undefined) continue;
    const name = keyOf(r);
    let arr = out.get(name);
    if (arr === undefined) {
      arr = xs.map(() => 0);
      out.set(name, arr);
    }
    arr[i] = (arr[i] ?? 0) + value(r);
  }
  return [...out].map(([name, values]) => ({ name, values }));
}

function period(w: Window): RecordFilter {
  return { since: w.since, until: w.until };
}

function rate(part: number, whole: number): number {
  return whole === 0 ? 0 : round(part / whole, 4);
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

// ---------------------------------------------------------------- overview

export async function overview(src: DashboardSources, store: RecordStore, w: Window): Promise<object> {
  const f = period(w);
  const xs = buckets(w);
  const [series, total, byLevel, latency] = await Promise.all([
    store.series(f, w.bucketMs, ['tier']),
    store.aggregate(f, []),
    store.aggregate(f, ['level']),
    store.latencyPercentiles({ ...f, status: 'ok' }, ['tier'], [50, 95]),
  ]);
  const t = total[0];
  const requests = t?.requests ?? 0;
  const levels = src.levels.map((level) => ({ level, requests: byLevel.find((r) => r.key.level === level)?.requests ?? 0 }));
  const unclassified = byLevel.filter((r) => !src.levels.includes(r.key.level ?? '')).reduce((s, r) => s + r.requests, 0);
  if (unclassified > 0) levels.push({ level: '(unclassified)', requests: unclassified });
  const errorsPerBucket = spread(series, xs, () => 'errors', (r) => r.errors, ['errors'])[0]?.values ?? [];
  const requestsPerBucket = spread(series, xs, () => 'all', (r) => r.requests, ['all'])[0]?.values ?? [];
  const capacity = src.capacity();
  const onPremBackends = src.backends.filter((b) => b.tier === 'on-prem');
  return {
    totals: {
      requests,
      errors: t?.errors ?? 0,
      rejected: t?.rejected ?? 0,
      errorRate: rate(t?.errors ?? 0, requests),
      cost: round(t?.cost ?? 0, 6),
    },
    series: {
      buckets: xs,
      tiers: spread(series, xs, (r) => r.key.tier ?? 'none', (r) => r.requests, SERIES_TIERS),
      requests: requestsPerBucket,
      errorRate: requestsPerBucket.map((n, i) => rate(errorsPerBucket[i] ?? 0, n)),
    },
    levels,
    latency: TIERS.map((tier) => {
      const p = latency.find((r) => r.key.tier === tier);
      return { tier, requests: p?.requests ?? 0, p50Ms: p === undefined ? null : round(p.latencyMs[50] ?? 0, 1), p95Ms: p === undefined ? null : round(p.latencyMs[95] ?? 0, 1) };
    }),
    onPrem: {
      threshold: src.onPremThreshold,
      backends: onPremBackends.map((b) => {
        const c = capacity.find((x) => x.backendId === b.id);
        return { backend: b.id, inFlight: c?.inFlight ?? 0, limit: c?.limit ?? null, utilisation: round(c?.utilisation ?? 0, 4) };
      }),
    },
  };
}

// ---------------------------------------------------------------- cost

export async function cost(src: DashboardSources, store: RecordStore, w: Window): Promise<object> {
  const f = { ...period(w), status: 'ok' as const };
  const xs = buckets(w);
  const [report, byTier, byTeam, teamTotals] = await Promise.all([
    costReport(store, src.cost, { since: w.since, until: w.until }),
    store.series(f, w.bucketMs, ['tier']),
    store.series(f, w.bucketMs, ['team']),
    store.aggregate(f, ['team']),
  ]);
  // The chart shows the eight costliest teams; a long tail would be unreadable as lines.
  const teams = [...teamTotals].sort((a, b) => b.cost - a.cost).slice(0, 8).map((r) => r.key.team ?? '(no team)');
  const blended = src.backends
    .filter((b) => b.tier === 'on-prem')
    .map((b) => {
      const rate = src.cost.onPremRate(b.id);
      const measured = report.tiers.find((t) => t.tier === 'on-prem')?.onPrem?.find((o) => o.backend === b.id);
      return {
        backend: b.id,
        configured: rate === undefined ? null : { expectedUtilisation: rate.expectedUtilisation, per1MTokens: round(blendedPerToken(rate, rate.expectedUtilisation) * 1e6, 4) },
        measured: measured === undefined ? null : { utilisation: measured.utilisation, per1MTokens: measured.per1MTokens, periodCost: measured.cost },
      };
    });
  return {
    currency: 'USD',
    referenceLabel: report.referenceLabel,
    actualTotal: report.actualTotal,
    referenceTotal: report.referenceTotal,
    saving: report.saving,
    tiers: report.tiers.map((t) => ({ tier: t.tier, requests: t.requests, inputTokens: t.inputTokens, outputTokens: t.outputTokens, actualCost: t.actualCost, referenceCost: t.referenceCost })),
    teams: teamTotals.map((r) => ({ team: r.key.team ?? '(no team)', requests: r.requests, cost: round(r.cost, 6) })).sort((a, b) => b.cost - a.cost),
    series: {
      buckets: xs,
      tiers: spread(byTier, xs, (r) => r.key.tier ?? 'none', (r) => r.cost, TIERS),
      teams: spread(byTeam.filter((r) => teams.includes(r.key.team ?? '(no team)')), xs, (r) => r.key.team ?? '(no team)', (r) => r.cost, teams),
    },
    blended,
  };
}

// ---------------------------------------------------------------- residency

export async function residency(src: DashboardSources, store: RecordStore | undefined, audit: AuditLog | undefined, w: Window): Promise<object> {
  const levels = src.levels;
  const top = levels[levels.length - 1] ?? 'regulated';
  // The record store's view, always shown beside the audit trail's so a gap between them is visible.
  const storeServed: Record<string, Record<Tier, number>> = {};
  for (const l of levels) storeServed[l] = { 'on-prem': 0, 'private-cloud': 0, 'public-api': 0 };
  if (store !== undefined) {
    for (const r of await store.aggregate({ ...period(w), status: 'ok' }, ['level', 'tier'])) {
      const level = r.key.level ?? '(unclassified)';
      const tier = r.key.tier as Tier | null | undefined;
      if (tier === null || tier === undefined) continue;
      (storeServed[level] ??= { 'on-prem': 0, 'private-cloud': 0, 'public-api': 0 })[tier] += r.requests;
    }
  }
  if (audit === undefined) {
    return { source: 'records', chain: null, levels, tiers: TIERS, served: storeServed, storeServed, notServed: {}, critical: { level: top, tier: 'public-api', count: storeServed[top]?.['public-api'] ?? 0 } };
  }
  const report = await residencyReport(audit, { since: w.since, until: w.until }, levels);
  const chain = report.chain.ok
    ? { ok: true, entries: report.chain.entries, head: report.chain.head === undefined ? null : { seq: report.chain.head.seq, hash: report.chain.head.hash } }
    : { ok: false, message: report.chain.message };
  return {
    source: 'audit',
    chain,
    levels,
    tiers: TIERS,
    // From a broken chain no figures are given (the report's rule); the UI shows the failure instead.
    served: report.chain.ok ? report.served : null,
    storeServed,
    notServed: report.notServed,
    critical: { level: top, tier: 'public-api', count: report.chain.ok ? (report.served[top]?.['public-api'] ?? 0) : null },
  };
}

// ---------------------------------------------------------------- backends

/** Attempts are read from at most this many recent records, so the page stays fast on a large store. */
export const ATTEMPT_SAMPLE = 5000;

export async function backends(src: DashboardSources, store: RecordStore | undefined, w: Window): Promise<object> {
  const health = src.health();
  const capacity = src.capacity();
  const attempts = new Map<string, { attempts: number; failures: number; latencies: number[] }>();
  let sampled = 0;
  let complete = true;
  let tiers: object[] = [];
  if (store !== undefined) {
    const f = period(w);
    // Bounded: ATTEMPT_SAMPLE / 1000 pages at most.
    for (let offset = 0; offset < ATTEMPT_SAMPLE; offset += 1000) {
      const page = await store.query(f, { limit: 1000, offset });
      for (const r of page) {
        for (const a of r.attempts) {
          const s = attempts.get(a.backend) ?? { attempts: 0, failures: 0, latencies: [] };
          s.attempts++;
          if (a.outcome !== 'ok') s.failures++;
          else s.latencies.push(a.latencyMs);
          attempts.set(a.backend, s);
        }
      }
      sampled += page.length;
      if (page.length < 1000) break;
      if (offset + 1000 >= ATTEMPT_SAMPLE) complete = false;
    }
    const [agg, pct] = await Promise.all([store.aggregate(f, ['tier']), store.latencyPercentiles({ ...f, status: 'ok' }, ['tier'], [50, 95])]);
    tiers = TIERS.map((tier) => {
      const a = agg.find((r) => r.key.tier === tier);
      const p = pct.find((r) => r.key.tier === tier);
      return {
        tier,
        requests: a?.requests ?? 0,
        errors: a?.errors ?? 0,
        errorRate: rate(a?.errors ?? 0, a?.requests ?? 0),
        p50Ms: p === undefined ? null : round(p.latencyMs[50] ?? 0, 1),
        p95Ms: p === undefined ? null : round(p.latencyMs[95] ?? 0, 1),
      };
    });
  }
  return {
    sampled,
    complete,
    tiers,
    backends: src.backends.map((b) => {
      const h = health.find((x) => x.backendId === b.id);
      const c = capacity.find((x) => x.backendId === b.id);
      const s = attempts.get(b.id);
      const sorted = [...(s?.latencies ?? [])].sort((x, y) => x - y);
      return {
        id: b.id,
        tier: b.tier,
        region: b.region,
        // A backend never called has no breaker yet: it is closed.
        breaker: h?.breaker ?? 'closed',
        retryInMs: h?.retryInMs ?? 0,
        latencyEwmaMs: h?.latencyMs === undefined ? null : round(h.latencyMs, 1),
        inFlight: c?.inFlight ?? 0,
        limit: c?.limit ?? null,
        attempts: s?.attempts ?? 0,
        failures: s?.failures ?? 0,
        errorRate: rate(s?.failures ?? 0, s?.attempts ?? 0),
        p50Ms: nearestRank(sorted, 50),
        p95Ms: nearestRank(sorted, 95),
      };
    }),
  };
}

/** The same nearest-rank definition the stores use, over an ascending array. */
export function nearestRank(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return round(sorted[rank - 1] ?? 0, 1);
}

// ---------------------------------------------------------------- policy

export async function policy(src: DashboardSources, store: RecordStore | undefined, w: Window): Promise<object> {
  const p = src.policy.policy;
  const matrix = src.levels.map((level) => {
    const row = Object.hasOwn(p.matrix, level) ? p.matrix[level] : undefined;
    return {
      level,
      cells: CAPABILITIES.map((capability) => {
        const cell = row?.[capability] ?? row?.any;
        // Uncovered pairs fall to the policy default, which the engine applies the same way.
        return { capability, tiers: cell === undefined ? p.default : cell, source: cell === undefined ? 'default' : row?.[capability] !== undefined ? capability : 'any' };
      }),
    };
  });
  const hits = store === undefined ? [] : await Promise.all(p.rules.map((r) => store.count({ ...period(w), rule: r.id })));
  return {
    version: src.policy.version,
    levels: src.levels,
    capabilities: CAPABILITIES,
    matrix,
    default: p.default,
    workloads: Object.entries(p.workloads).map(([name, wl]) => ({ name, capability: wl.capability ?? null, description: wl.description ?? null, overridesMatrix: wl.matrix !== undefined })),
    rules: p.rules.map((r, i) => ({ id: r.id, when: r.when, unless: r.unless ?? null, effects: r.effects, hits: store === undefined ? null : (hits[i] ?? 0) })),
  };
}

// ---------------------------------------------------------------- decisions

/** One table row. Only ids, closed-set values and numbers: the record holds nothing else. */
export function summary(r: DecisionRecord): object {
  return {
    requestId: r.requestId,
    time: r.time,
    tier: r.served.tier,
    backend: r.served.backend,
    model: r.served.model ?? r.requestedModel,
    level: r.classification.level,
    capability: r.policy.capability,
    rules: r.policy.matchedRules,
    team: r.principal.team,
    workload: r.workload,
    status: r.status,
    errorCode: r.errorCode,
    latencyMs: Math.round(r.latency.totalMs),
    cost: r.cost.amount,
  };
}

/**
 * A record's explanation. Eligible tiers, matched rules and attempts are as recorded.
 * Why each other tier was excluded is not recorded, so it is re-derived by running the
 * current policy on the record's inputs, and shown only when that run reproduces the
 * recorded decision exactly (same version, eligible tiers and rules); otherwise the
 * page says the reason is unavailable rather than guess.
 */
export function explanation(src: DashboardSources, r: DecisionRecord): object {
  let excluded: { tier: Tier; by: string | null }[] = TIERS.filter((t) => !r.policy.eligibleTiers.includes(t)).map((tier) => ({ tier, by: null }));
  let reasons: string[] = [];
  let derived: 'reproduced' | 'policy-changed' | 'not-reproducible' | 'not-classified' = 'not-classified';
  if (r.classification.level !== null && r.policy.version !== null) {
    if (r.policy.version !== src.policy.version) derived = 'policy-changed';
    else {
      const d = src.policy.decide({
        level: r.classification.level,
        entities: r.classification.findings,
        principal: { id: r.principal.id, kind: r.principal.kind, team: r.principal.team ?? undefined, roles: [], groups: [], workload: undefined, attributes: {} },
        workload: r.workload ?? undefined,
        model: r.requestedModel ?? '',
        capability: r.policy.capability ?? undefined,
      });
      const same = JSON.stringify(d.eligibleTiers) === JSON.stringify(r.policy.eligibleTiers) && JSON.stringify(d.matchedRules) === JSON.stringify(r.policy.matchedRules);
      if (same) {
        derived = 'reproduced';
        excluded = excluded.map((e) => ({ tier: e.tier, by: d.excludedBy[e.tier] ?? null }));
        reasons = d.reasons;
      } else derived = 'not-reproducible';
    }
  }
  return {
    ...summary(r),
    requestedModel: r.requestedModel,
    operation: r.operation,
    stream: r.stream,
    region: r.served.region,
    principal: { id: r.principal.id, kind: r.principal.kind, team: r.principal.team },
    httpStatus: r.httpStatus,
    findings: r.classification.findings,
    policy: { version: r.policy.version, capability: r.policy.capability, matchedRules: r.policy.matchedRules, eligibleTiers: r.policy.eligibleTiers },
    excluded,
    reasons,
    derived,
    effects: r.effects,
    attempts: r.attempts,
    fallbacks: r.fallbacks,
    breakers: r.breakers,
    injection: r.injection ?? null,
    tokens: r.tokens,
    latency: r.latency,
    costDetail: r.cost,
  };
}
