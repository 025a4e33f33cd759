import { TIERS, type Tier } from '../domain/tier.js';
import type { AuditLog, VerifyResult } from './audit.js';
import type { CostConfig } from './config.js';
import type { CostModel } from './cost.js';
import type { AggregateRow, GroupKey, RecordFilter, RecordStore } from './store.js';

const DAY_MS = 24 * 3600 * 1000;

/** `90d`, `12h`, `30m`, `2w` → milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(m|h|d|w)$/.exec(text.trim());
  if (m === null) throw new Error(`expected a duration such as 90d, 24h, 30m or 2w, got "${text}"`);
  const unit = { m: 60_000, h: 3_600_000, d: DAY_MS, w: 7 * DAY_MS }[m[2] as 'm' | 'h' | 'd' | 'w'];
  return Number(m[1]) * unit;
}

export interface Period {
  readonly since: number;
  readonly until: number;
}

// ---------------------------------------------------------------- usage

export interface UsageRow {
  readonly key: Readonly<Partial<Record<GroupKey, string | null>>>;
  readonly requests: number;
  readonly errors: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly estimated: number;
  readonly cost: number;
  readonly latencyAvgMs: number;
  readonly ttftAvgMs: number | null;
  readonly overheadAvgMs: number | null;
}

export interface UsageReport {
  readonly period: Period;
  /** One section per grouping, e.g. tier, team, workload, model. */
  readonly sections: readonly { readonly by: readonly GroupKey[]; readonly rows: readonly UsageRow[] }[];
}

export async function usageReport(store: RecordStore, period: Period, groupings: readonly (readonly GroupKey[])[], filter: RecordFilter = {}): Promise<UsageReport> {
  const sections = [];
  for (const by of groupings) {
    const rows = await store.aggregate({ ...filter, since: period.since, until: period.until }, by);
    sections.push({ by, rows: rows.map(toUsage) });
  }
  return { period, sections };
}

function toUsage(a: AggregateRow): UsageRow {
  return {
    key: a.key,
    requests: a.requests,
    errors: a.errors,
    inputTokens: a.inputTokens,
    outputTokens: a.outputTokens,
    estimated: a.estimated,
    cost: round(a.cost, 6),
    latencyAvgMs: round(a.latencyAvgMs, 1),
    ttftAvgMs: a.ttftAvgMs === null ? null : round(a.ttftAvgMs, 1),
    overheadAvgMs: a.overheadAvgMs === null ? null : round(a.overheadAvgMs, 2),
  };
}

// ---------------------------------------------------------------- cost

export interface TierCost {
  readonly tier: Tier;
  readonly requests: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Cloud: sum of list-price costs. On-prem: the hardware's amortised + operating cost for the period. */
  readonly actualCost: number;
  /** The same tokens at the reference (public-api) price. */
  readonly referenceCost: number;
  readonly onPrem?: readonly { readonly backend: string; readonly utilisation: number; readonly per1MTokens: number | null; readonly cost: number }[];
}

export interface CostReport {
  readonly period: Period;
  readonly referenceLabel: string;
  readonly tiers: readonly TierCost[];
  readonly actualTotal: number;
  readonly referenceTotal: number;
  /** reference − actual: positive is a saving, negative is the cost of compliance. */
  readonly saving: number;
}

export async function costReport(store: RecordStore, model: CostModel, period: Period): Promise<CostReport> {
  const rows = await store.aggregate({ since: period.since, until: period.until, status: 'ok' }, ['tier', 'backend']);
  const periodMs = period.until - period.since;
  const tiers: TierCost[] = [];
  for (const tier of TIERS) {
    const mine = rows.filter((r) => r.key.tier === tier);
    let actual = 0;
    let reference = 0;
    let requests = 0;
    let input = 0;
    let output = 0;
    const onPrem: { backend: string; utilisation: number; per1MTokens: number | null; cost: number }[] = [];
    for (const r of mine) {
      requests += r.requests;
      input += r.inputTokens;
      output += r.outputTokens;
      reference += model.referenceCost(r.inputTokens, r.outputTokens);
      if (tier === 'on-prem') {
        const backend = r.key.backend ?? '';
        const p = model.onPremPeriod(backend, periodMs, r.inputTokens, r.outputTokens);
        if (p !== undefined) {
          actual += p.cost;
          onPrem.push({ backend, utilisation: round(p.utilisation, 4), per1MTokens: p.per1MTokens === null ? null : round(p.per1MTokens, 4), cost: round(p.cost, 2) });
        }
      } else {
        actual += r.cost;
      }
    }
    tiers.push({
      tier,
      requests,
      inputTokens: input,
      outputTokens: output,
      actualCost: round(actual, 4),
      referenceCost: round(reference, 4),
      ...(tier === 'on-prem' ? { onPrem } : {}),
    });
  }
  const actualTotal = round(tiers.reduce((s, t) => s + t.actualCost, 0), 4);
  const referenceTotal = round(tiers.reduce((s, t) => s + t.referenceCost, 0), 4);
  return { period, referenceLabel: model.reference.label, tiers, actualTotal, referenceTotal, saving: round(referenceTotal - actualTotal, 4) };
}

// ---------------------------------------------------------------- tiers

export interface TierMatrixRow {
  readonly workload: string | null;
  readonly level: string | null;
  readonly capability: string | null;
  readonly tier: string | null;
  readonly requests: number;
}

export interface ConsolidationAdvice {
  readonly workload: string | null;
  readonly tier: Tier;
  readonly requestsPerDay: number;
  readonly advice: string;
}

export interface TiersReport {
  readonly period: Period;
  readonly matrix: readonly TierMatrixRow[];
  readonly advice: readonly ConsolidationAdvice[];
  readonly thresholds: CostConfig['consolidation'];
}

export async function tiersReport(store: RecordStore, period: Period, thresholds: CostConfig['consolidation']): Promise<TiersReport> {
  const filter = { since: period.since, until: period.until, status: 'ok' as const };
  const matrix = (await store.aggregate(filter, ['workload', 'level', 'capability', 'tier'])).map((r) => ({
    workload: r.key.workload ?? null,
    level: r.key.level ?? null,
    capability: r.key.capability ?? null,
    tier: r.key.tier ?? null,
    requests: r.requests,
  }));
  const days = Math.max(1, (period.until - period.since) / DAY_MS);
  const advice: ConsolidationAdvice[] = [];
  for (const r of await store.aggregate(filter, ['workload', 'tier'])) {
    const tier = r.key.tier as Tier | null | undefined;
    const perDay = round(r.requests / days, 2);
    const workload = r.key.workload ?? null;
    const name = workload ?? '(no workload)';
    if (tier === 'on-prem' && perDay < thresholds.onPremMinRequestsPerDay) {
      advice.push({ workload, tier, requestsPerDay: perDay, advice: `${name}: ${perDay} requests/day on-prem, under ${thresholds.onPremMinRequestsPerDay}; consider private-cloud` });
    }
    if (tier === 'private-cloud' && perDay > thresholds.privateCloudMaxRequestsPerDay) {
      advice.push({ workload, tier, requestsPerDay: perDay, advice: `${name}: ${perDay} requests/day on private-cloud, over ${thresholds.privateCloudMaxRequestsPerDay}; evaluate on-prem` });
    }
  }
  return { period, matrix, advice, thresholds };
}

// ---------------------------------------------------------------- residency

export interface ResidencyReport {
  readonly period: Period;
  readonly chain: VerifyResult;
  /** level → tier → requests served. Every configured level and tier appears, zeros included. */
  readonly served: Readonly<Record<string, Readonly<Record<Tier, number>>>>;
  /** Decisions that served nothing (refused or failed), by level. */
  readonly notServed: Readonly<Record<string, number>>;
  readonly lines: readonly string[];
}

/**
 * Counts, from the audit trail and only after verifying it, how many requests of
 * each level each tier served. Answering from the trail (rather than the record
 * store, which has retention and no chain) is what makes the number evidence.
 */
export async function residencyReport(audit: AuditLog, period: Period, levels: readonly string[]): Promise<ResidencyReport> {
  const chain = await audit.verify();
  const served: Record<string, Record<Tier, number>> = {};
  const notServed: Record<string, number> = {};
  const row = (level: string): Record<Tier, number> => (served[level] ??= { 'on-prem': 0, 'private-cloud': 0, 'public-api': 0 });
  for (const l of levels) row(l);
  if (chain.ok) {
    for await (const e of audit.entries({ kind: 'decision', since: period.since, until: period.until })) {
      const level = typeof e.data.level === 'string' ? e.data.level : '(unclassified)';
      const tier = e.data.tier;
      if (e.data.status === 'ok' && typeof tier === 'string' && (TIERS as readonly string[]).includes(tier)) row(level)[tier as Tier]++;
      else notServed[level] = (notServed[level] ?? 0) + 1;
    }
  }
  const lines: string[] = [];
  if (chain.ok) {
    lines.push(`audit chain verified: ${chain.entries} entries${chain.head === undefined ? '' : `, head seq ${chain.head.seq} ${chain.head.hash.slice(0, 16)}`}`);
    lines.push(`period: ${new Date(period.since).toISOString()} .. ${new Date(period.until).toISOString()}`);
    for (const [level, tiers] of Object.entries(served)) for (const t of TIERS) lines.push(`${level} requests served by ${t}: ${tiers[t]}`);
    for (const [level, n] of Object.entries(notServed)) lines.push(`${level} requests not served (refused or failed): ${n}`);
  } else {
    lines.push(`audit chain NOT verified: ${chain.message}`, 'no residency figures are given from a broken chain');
  }
  return { period, chain, served, notServed, lines };
}

// ---------------------------------------------------------------- rendering

/** A plain aligned text table. */
export function renderTable(headers: readonly string[], rows: readonly (readonly (string | number | null)[])[]): string {
  const cells = rows.map((r) => r.map((c) => (c === null ? '-' : typeof c === 'number' ? formatNumber(c) : c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string =>
    r
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(Math.abs(n) < 1 ? 4 : 2);
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
