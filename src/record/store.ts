import type { Tier } from '../domain/tier.js';
import { recordJson, type DecisionRecord, type RecordStatus } from './decision-record.js';

/** Filters shared by the UI, the reports and retention. All optional; all ANDed. */
export interface RecordFilter {
  /** Inclusive, epoch ms. */
  readonly since?: number;
  /** Exclusive, epoch ms. */
  readonly until?: number;
  readonly tier?: Tier;
  readonly backend?: string;
  readonly level?: string;
  /** Records whose matched rules include this id. */
  readonly rule?: string;
  readonly team?: string;
  readonly workload?: string;
  readonly status?: RecordStatus;
  readonly requestId?: string;
}

export interface RecordPage {
  /** Newest first. Default 100, at most 1000. */
  readonly limit?: number;
  readonly offset?: number;
}

export const GROUP_KEYS = ['tier', 'backend', 'level', 'team', 'workload', 'model', 'status', 'capability', 'day'] as const;
export type GroupKey = (typeof GROUP_KEYS)[number];

export interface AggregateRow {
  /** One entry per requested group key; null where the record had none. `day` is YYYY-MM-DD (UTC). */
  readonly key: Readonly<Partial<Record<GroupKey, string | null>>>;
  readonly requests: number;
  /** Status other than ok. */
  readonly errors: number;
  readonly rejected: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Requests whose tokens were estimated locally. */
  readonly estimated: number;
  readonly cost: number;
  readonly latencyAvgMs: number;
  readonly latencyMaxMs: number;
  /** Average over requests that had a time to first token; null when none did. */
  readonly ttftAvgMs: number | null;
  readonly overheadAvgMs: number | null;
  /** Earliest and latest record time in the group, epoch ms. */
  readonly firstMs: number;
  readonly lastMs: number;
}

export interface SeriesRow {
  /** Start of the bucket, epoch ms (a multiple of the bucket size). */
  readonly bucketMs: number;
  readonly key: Readonly<Partial<Record<GroupKey, string | null>>>;
  readonly requests: number;
  readonly errors: number;
  readonly cost: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
}

export interface PercentileRow {
  readonly key: Readonly<Partial<Record<GroupKey, string | null>>>;
  readonly requests: number;
  /** Percent (as given) → latency ms of the record at that nearest rank. */
  readonly latencyMs: Readonly<Record<number, number>>;
}

/**
 * Where decision records are kept. SQLite (default, one instance) and Postgres
 * (many instances) implement it, and one contract suite runs against both.
 */
export interface RecordStore {
  readonly kind: 'sqlite' | 'postgres';
  /** Creates or upgrades the schema; idempotent. Call once before anything else. */
  migrate(): Promise<void>;
  /** Idempotent per requestId: a batch retried after a partial failure is not duplicated. */
  append(records: readonly DecisionRecord[]): Promise<void>;
  query(filter: RecordFilter, page?: RecordPage): Promise<DecisionRecord[]>;
  count(filter: RecordFilter): Promise<number>;
  aggregate(filter: RecordFilter, groupBy: readonly GroupKey[]): Promise<AggregateRow[]>;
  /** Counts per time bucket (and group), for charts over time. Empty buckets are absent. */
  series(filter: RecordFilter, bucketMs: number, groupBy: readonly GroupKey[]): Promise<SeriesRow[]>;
  /** Nearest-rank latency percentiles (total ms) per group, e.g. [50, 95]. */
  latencyPercentiles(filter: RecordFilter, groupBy: readonly GroupKey[], percents: readonly number[]): Promise<PercentileRow[]>;
  /** Deletes records older than `beforeMs`; returns how many. */
  purge(beforeMs: number): Promise<number>;
  close(): Promise<void>;
}

export function clampLimit(page: RecordPage | undefined): { limit: number; offset: number } {
  const limit = Math.min(1000, Math.max(1, Math.floor(page?.limit ?? 100)));
  const offset = Math.max(0, Math.floor(page?.offset ?? 0));
  return { limit, offset };
}

/** The indexed columns both stores derive from a record. The full record is kept as JSON beside them. */
export interface RecordRow {
  readonly request_id: string;
  readonly time_ms: number;
  readonly day: string;
  readonly deployment_id: string;
  readonly principal_id: string;
  readonly team: string | null;
  readonly workload: string | null;
  readonly model: string | null;
  readonly backend: string | null;
  readonly tier: string | null;
  readonly level: string | null;
  readonly capability: string | null;
  readonly status: string;
  readonly error_code: string | null;
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly estimated: number;
  readonly cost: number;
  readonly latency_ms: number;
  readonly ttft_ms: number | null;
  readonly overhead_ms: number | null;
  readonly matched_rules: string;
  readonly body: string;
}

export function toRow(r: DecisionRecord): RecordRow {
  return {
    request_id: r.requestId,
    time_ms: r.timeMs,
    day: r.time.slice(0, 10),
    deployment_id: r.deploymentId,
    principal_id: r.principal.id,
    team: r.principal.team,
    workload: r.workload,
    // Reports group by what served the request; refused ones by what was asked for.
    model: r.served.model ?? r.requestedModel,
    backend: r.served.backend,
    tier: r.served.tier,
    level: r.classification.level,
    capability: r.policy.capability,
    status: r.status,
    error_code: r.errorCode,
    input_tokens: r.tokens.input,
    output_tokens: r.tokens.output,
    estimated: r.tokens.estimated ? 1 : 0,
    cost: r.cost.amount,
    latency_ms: r.latency.totalMs,
    ttft_ms: r.latency.ttftMs,
    overhead_ms: r.latency.overheadMs,
    matched_rules: JSON.stringify(r.policy.matchedRules),
    body: recordJson(r),
  };
}

export const ROW_COLUMNS: readonly (keyof RecordRow)[] = [
  'request_id', 'time_ms', 'day', 'deployment_id', 'principal_id', 'team', 'workload', 'model', 'backend', 'tier', 'level',
  'capability', 'status', 'error_code', 'input_tokens', 'output_tokens', 'estimated', 'cost', 'latency_ms', 'ttft_ms',
  'overhead_ms', 'matched_rules', 'body',
];

/** Group key → column. Fixed, so no caller text ever becomes SQL. */
export const GROUP_COLUMN: Readonly<Record<GroupKey, string>> = {
  tier: 'tier',
  backend: 'backend',
  level: 'level',
  team: 'team',
  workload: 'workload',
  model: 'model',
  status: 'status',
  capability: 'capability',
  day: 'day',
};

/** A filter as SQL: `where` uses `?` placeholders; stores renumber them for Postgres. */
export function filterSql(filter: RecordFilter, ruleClause: string): { where: string; params: (string | number)[] } {
  const parts: string[] = [];
  const params: (string | number)[] = [];
  const eq = (column: string, value: string | undefined): void => {
    if (value === undefined) return;
    parts.push(`${column} = ?`);
    params.push(value);
  };
  if (filter.since !== undefined) {
    parts.push('time_ms >= ?');
    params.push(filter.since);
  }
  if (filter.until !== undefined) {
    parts.push('time_ms < ?');
    params.push(filter.until);
  }
  eq('tier', filter.tier);
  eq('backend', filter.backend);
  eq('level', filter.level);
  eq('team', filter.team);
  eq('workload', filter.workload);
  eq('status', filter.status);
  eq('request_id', filter.requestId);
  if (filter.rule !== undefined) {
    parts.push(ruleClause);
    params.push(filter.rule);
  }
  return { where: parts.length === 0 ? '' : `WHERE ${parts.join(' AND ')}`, params };
}

/** Aggregate SELECT list shared by both stores (standard SQL). */
export const AGGREGATE_SELECT = `COUNT(*) AS requests,
  SUM(CASE WHEN status <> 'ok' THEN 1 ELSE 0 END) AS errors,
  SUM(CASE WHEN status = 'rejected' THEN 1 ELSE 0 END) AS rejected,
  SUM(input_tokens) AS input_tokens,
  SUM(output_tokens) AS output_tokens,
  SUM(estimated) AS estimated,
  SUM(cost) AS cost,
  AVG(latency_ms) AS latency_avg,
  MAX(latency_ms) AS latency_max,
  AVG(ttft_ms) AS ttft_avg,
  AVG(overhead_ms) AS overhead_avg,
  MIN(time_ms) AS first_ms,
  MAX(time_ms) AS last_ms`;

export function toAggregate(row: Record<string, unknown>, groupBy: readonly GroupKey[]): AggregateRow {
  const key: Partial<Record<GroupKey, string | null>> = {};
  groupBy.forEach((g, i) => {
    const v = row[`g${i}`];
    key[g] = v === null || v === undefined ? null : String(v);
  });
  const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
  const opt = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
  return {
    key,
    requests: num(row.requests),
    errors: num(row.errors),
    rejected: num(row.rejected),
    inputTokens: num(row.input_tokens),
    outputTokens: num(row.output_tokens),
    estimated: num(row.estimated),
    cost: num(row.cost),
    latencyAvgMs: num(row.latency_avg),
    latencyMaxMs: num(row.latency_max),
    ttftAvgMs: opt(row.ttft_avg),
    overheadAvgMs: opt(row.overhead_avg),
    firstMs: num(row.first_ms),
    lastMs: num(row.last_ms),
  };
}

export function groupSql(groupBy: readonly GroupKey[]): { select: string; group: string } {
  if (groupBy.length === 0) return { select: '', group: '' };
  const cols = groupBy.map((g) => GROUP_COLUMN[g]);
  return {
    select: `${cols.map((c, i) => `${c} AS g${i}`).join(', ')}, `,
    group: `GROUP BY ${cols.join(', ')}`,
  };
}

/**
 * Orders aggregate rows by their keys, code point order with nulls last. Done here,
 * not in SQL, because SQLite and Postgres disagree on NULL placement and collation.
 */
export function sortAggregates(rows: AggregateRow[], groupBy: readonly GroupKey[]): AggregateRow[] {
  return rows.sort((a, b) => {
    for (const g of groupBy) {
      const x = a.key[g] ?? null;
      const y = b.key[g] ?? null;
      if (x === y) continue;
      if (x === null) return 1;
      if (y === null) return -1;
      return x < y ? -1 : 1;
    }
    return 0;
  });
}

/** Bucket sizes are whole milliseconds between one second and a year, so they can be inlined as SQL literals. */
export function clampBucket(bucketMs: number): number {
  if (!Number.isFinite(bucketMs)) return 60_000;
  return Math.min(366 * 24 * 3600 * 1000, Math.max(1000, Math.floor(bucketMs)));
}

/**
 * SELECT for `series`: integer division puts each record in its bucket (both SQLite
 * INTEGER and Postgres BIGINT divide as integers). The bucket is a clamped number,
 * never caller text, so inlining it is safe and lets the planner see a constant.
 */
export function seriesSql(table: string, where: string, bucketMs: number, groupBy: readonly GroupKey[]): string {
  const b = clampBucket(bucketMs);
  const cols = groupBy.map((g) => GROUP_COLUMN[g]);
  const select = cols.map((c, i) => `${c} AS g${i}, `).join('');
  return `SELECT (time_ms / ${b}) * ${b} AS bucket, ${select}COUNT(*) AS requests,
    SUM(CASE WHEN status <> 'ok' THEN 1 ELSE 0 END) AS errors, SUM(cost) AS cost,
    SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens
    FROM ${table} ${where} GROUP BY ${[`(time_ms / ${b}) * ${b}`, ...cols].join(', ')}`;
}

export function toSeries(row: Record<string, unknown>, groupBy: readonly GroupKey[]): SeriesRow {
  const key: Partial<Record<GroupKey, string | null>> = {};
  groupBy.forEach((g, i) => {
    const v = row[`g${i}`];
    key[g] = v === null || v === undefined ? null : String(v);
  });
  const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
  return {
    bucketMs: num(row.bucket),
    key,
    requests: num(row.requests),
    errors: num(row.errors),
    cost: num(row.cost),
    inputTokens: num(row.input_tokens),
    outputTokens: num(row.output_tokens),
  };
}

export function sortSeries(rows: SeriesRow[], groupBy: readonly GroupKey[]): SeriesRow[] {
  // Within a bucket, the same key order as aggregates (code points, nulls last), for the same reason.
  return rows.sort((a, b) => a.bucketMs - b.bucketMs || compareKeys(a.key, b.key, groupBy));
}

function compareKeys(a: SeriesRow['key'], b: SeriesRow['key'], groupBy: readonly GroupKey[]): number {
  for (const g of groupBy) {
    const x = a[g] ?? null;
    const y = b[g] ?? null;
    if (x === y) continue;
    if (x === null) return 1;
    if (y === null) return -1;
    return x < y ? -1 : 1;
  }
  return 0;
}

/** Whole percents 1..100 only: they are inlined into SQL. */
export function clampPercents(percents: readonly number[]): number[] {
  return [...new Set(percents.map((p) => Math.min(100, Math.max(1, Math.round(p)))))];
}

/**
 * Nearest-rank percentiles in standard SQL (window functions, which SQLite 3.25+ and
 * Postgres both have): the p-th percentile is the smallest value whose rank r in its
 * group of n satisfies r / n >= p / 100, i.e. r * 100 >= p * n, all in integers.
 */
export function percentileSql(table: string, where: string, groupBy: readonly GroupKey[], percents: readonly number[]): string {
  const cols = groupBy.map((g) => GROUP_COLUMN[g]);
  const partition = cols.length === 0 ? '' : `PARTITION BY ${cols.join(', ')} `;
  const inner = `SELECT ${cols.map((c, i) => `${c} AS g${i}, `).join('')}latency_ms,
      ROW_NUMBER() OVER (${partition}ORDER BY latency_ms) AS rn,
      COUNT(*) OVER (${cols.length === 0 ? '' : `PARTITION BY ${cols.join(', ')}`}) AS n
    FROM ${table} ${where}`;
  const gs = cols.map((_c, i) => `g${i}`);
  const picks = clampPercents(percents).map((p) => `MIN(CASE WHEN rn * 100 >= ${p} * n THEN latency_ms END) AS p${p}`);
  return `SELECT ${gs.map((g) => `${g}, `).join('')}MAX(n) AS requests, ${picks.join(', ')} FROM (${inner}) ranked${gs.length === 0 ? '' : ` GROUP BY ${gs.join(', ')}`}`;
}

export function toPercentiles(row: Record<string, unknown>, groupBy: readonly GroupKey[], percents: readonly number[]): PercentileRow {
  const key: Partial<Record<GroupKey, string | null>> = {};
  groupBy.forEach((g, i) => {
    const v = row[`g${i}`];
    key[g] = v === null || v === undefined ? null : String(v);
  });
  const latencyMs: Record<number, number> = {};
  for (const p of clampPercents(percents)) latencyMs[p] = Number(row[`p${p}`] ?? 0);
  return { key, requests: Number(row.requests ?? 0), latencyMs };
}

export function sortPercentiles(rows: PercentileRow[], groupBy: readonly GroupKey[]): PercentileRow[] {
  return rows.sort((a, b) => compareKeys(a.key, b.key, groupBy));
}
