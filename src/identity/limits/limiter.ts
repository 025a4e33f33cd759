import { GatewayError } from '../../domain/errors.js';
import type { Principal } from '../../domain/principal.js';
import { scopeOf } from '../scope.js';
import type { LimitsConfig, LimitValues } from './config.js';
import type { Charge, LimitStore } from './limit-store.js';
import { MemoryLimitStore } from './memory-store.js';

export type SubjectKind = 'key' | 'team' | 'workload';
export type RateMetric = 'requests_per_minute' | 'tokens_per_minute';
export type BudgetMetric = 'spend_per_day' | 'spend_per_month';
type Metric = RateMetric | BudgetMetric;

export interface ReserveInput {
  readonly principal: Principal;
  /** The effective workload (the credential's own, else the header's). */
  readonly workload: string | undefined;
  /** Prompt tokens plus the most the model may answer (max_tokens, else limits.defaultMaxOutputTokens). */
  readonly estimatedTokens: number;
  /** What those tokens would cost at the dearest eligible backend's price. */
  readonly estimatedCostUsd: number;
}

export interface Usage {
  readonly tokens: number;
  readonly costUsd: number;
}

/** Handed back to reconcile. Opaque to callers. */
export interface Reservation {
  readonly charges: readonly (Charge & { readonly metric: Metric })[];
  readonly tokens: number;
  readonly microUsd: number;
  readonly store: LimitStore;
  settled: boolean;
}

export type LimitDecision =
  | { readonly ok: true; readonly reservation: Reservation; readonly degraded: boolean }
  | { readonly ok: false; readonly kind: 'rate_limited'; readonly metric: RateMetric; readonly subject: SubjectKind; readonly retryAfterSeconds: number }
  | { readonly ok: false; readonly kind: 'budget_exceeded'; readonly metric: BudgetMetric; readonly subject: SubjectKind; readonly retryAfterSeconds: number }
  | { readonly ok: false; readonly kind: 'unavailable'; readonly retryAfterSeconds: number };

/** What the limiter reports for logs and metrics. Never contains a credential; subject ids are key ids, team and workload names. */
export type LimitEvent =
  | { readonly type: 'store_unavailable'; readonly action: 'refused' | 'local_fallback'; readonly error: unknown }
  | { readonly type: 'reconcile_failed'; readonly error: unknown }
  | { readonly type: 'store_connection'; readonly state: 'up' | 'down'; readonly error?: unknown };

export interface LimiterOptions {
  /** Per-instance counters used when the shared store fails and the fail mode allows it. */
  fallback?: LimitStore;
  now?: () => number;
  onEvent?: (event: LimitEvent) => void;
}

const MINUTE = 60_000;
const DAY = 86_400_000;
/** Counters outlive their window by this much so a reconcile after a long stream still finds them. */
const GRACE_MS = 15 * MINUTE;

const MICRO = 1_000_000;

/** USD → integer micro-USD, rounded up so a reservation never understates. */
export function toMicroUsd(usd: number): number {
  return usd <= 0 || !Number.isFinite(usd) ? 0 : Math.ceil(usd * MICRO - 1e-6);
}

/** Cost of a call from a per-million-token price. */
export function costUsd(price: { readonly inputPer1M: number; readonly outputPer1M: number }, inputTokens: number, outputTokens: number): number {
  return (inputTokens * price.inputPer1M + outputTokens * price.outputPer1M) / MICRO;
}

interface Window {
  readonly id: string;
  readonly endsAt: number;
}

function minuteWindow(now: number): Window {
  const start = Math.floor(now / MINUTE) * MINUTE;
  return { id: `m${start / MINUTE}`, endsAt: start + MINUTE };
}

function dayWindow(now: number): Window {
  const start = Math.floor(now / DAY) * DAY;
  return { id: `d${new Date(start).toISOString().slice(0, 10)}`, endsAt: start + DAY };
}

function monthWindow(now: number): Window {
  const d = new Date(now);
  const end = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  return { id: `M${d.toISOString().slice(0, 7)}`, endsAt: end };
}

/** Field-by-field: a more specific setting replaces a default only where it says something. */
function merge(base: LimitValues, over: LimitValues | undefined): LimitValues {
  if (over === undefined) return base;
  const out: { -readonly [K in keyof LimitValues]: LimitValues[K] } = { ...base };
  for (const [k, v] of Object.entries(over) as [keyof LimitValues, number | undefined][]) if (v !== undefined) out[k] = v;
  return out;
}

/**
 * Requests/min, tokens/min, spend/day and spend/month per key, team and workload.
 * Before the call `reserve` charges the estimate to every applicable counter at once
 * (all or nothing); after it `reconcile` replaces the estimate with real usage. Fixed
 * windows on UTC boundaries; instances are assumed to keep NTP time.
 */
export class Limiter {
  readonly #config: LimitsConfig;
  readonly #store: LimitStore;
  readonly #fallback: LimitStore;
  readonly #now: () => number;
  readonly #onEvent: (event: LimitEvent) => void;
  readonly #prefix: string;

  constructor(config: LimitsConfig, store: LimitStore, options: LimiterOptions = {}) {
    this.#config = config;
    this.#store = store;
    this.#now = options.now ?? Date.now;
    this.#fallback = options.fallback ?? new MemoryLimitStore({ now: this.#now });
    this.#onEvent = options.onEvent ?? (() => undefined);
    this.#prefix = config.store === 'redis' ? config.redis.keyPrefix : '';
  }

  /** The caps that apply to a request, per subject; undefined subject = that subject is absent. */
  limitsFor(principal: Principal, workload: string | undefined): { key: LimitValues; team: LimitValues | undefined; workload: LimitValues | undefined } {
    const c = this.#config;
    return {
      key: merge(c.defaults.key, scopeOf(principal)?.limits),
      team: principal.team === undefined ? undefined : merge(c.defaults.team, c.teams[principal.team]),
      workload: workload === undefined ? undefined : merge(c.defaults.workload, c.workloads[workload]),
    };
  }

  async reserve(input: ReserveInput): Promise<LimitDecision> {
    const now = this.#now();
    const tokens = Math.max(0, Math.ceil(input.estimatedTokens));
    const microUsd = toMicroUsd(input.estimatedCostUsd);
    const charges = this.#charges(input, now, tokens, microUsd);
    // No limit applies to this caller: nothing to count, and no store round trip to pay.
    if (charges.length === 0) return { ok: true, degraded: false, reservation: { charges, tokens, microUsd, store: this.#store, settled: false } };
    let store = this.#store;
    let degraded = false;
    let outcome;
    try {
      outcome = await store.reserve(charges);
    } catch (error) {
      const hasBudget = charges.some((c) => c.metric === 'spend_per_day' || c.metric === 'spend_per_month');
      const hasRate = charges.some((c) => c.metric === 'requests_per_minute' || c.metric === 'tokens_per_minute');
      const closed = (hasBudget && this.#config.failMode.budgets === 'closed') || (hasRate && this.#config.failMode.rates === 'closed');
      this.#onEvent({ type: 'store_unavailable', action: closed ? 'refused' : 'local_fallback', error });
      if (closed) return { ok: false, kind: 'unavailable', retryAfterSeconds: 1 };
      store = this.#fallback;
      degraded = true;
      outcome = await store.reserve(charges);
    }
    if (outcome.ok) return { ok: true, degraded, reservation: { charges, tokens, microUsd, store, settled: false } };
    const hit = charges[outcome.index]!;
    const retryAfterSeconds = Math.max(1, Math.ceil((windowEnd(hit.metric, now) - now) / 1000));
    if (hit.metric === 'spend_per_day' || hit.metric === 'spend_per_month') {
      return { ok: false, kind: 'budget_exceeded', metric: hit.metric, subject: hit.subject, retryAfterSeconds };
    }
    return { ok: false, kind: 'rate_limited', metric: hit.metric, subject: hit.subject, retryAfterSeconds };
  }

  /**
   * Replaces the estimate with what the call really used. Always charges: usage
   * over the estimate is recorded even past the cap (the tokens were spent), and the
   * next reservation is refused. Idempotent per reservation. Never throws.
   */
  async reconcile(reservation: Reservation, actual: Usage): Promise<void> {
    if (reservation.settled) return;
    reservation.settled = true;
    const tokenDelta = Math.max(0, Math.ceil(actual.tokens)) - reservation.tokens;
    const microDelta = toMicroUsd(actual.costUsd) - reservation.microUsd;
    const adjustments = reservation.charges
      .map((c) => ({
        key: c.key,
        ttlMs: c.ttlMs,
        delta: c.metric === 'tokens_per_minute' ? tokenDelta : c.metric === 'requests_per_minute' ? 0 : microDelta,
      }))
      .filter((a) => a.delta !== 0);
    if (adjustments.length === 0) return;
    try {
      await reservation.store.adjust(adjustments);
    } catch (error) {
      this.#onEvent({ type: 'reconcile_failed', error });
    }
  }

  /** The call never ran or produced nothing billable: give back tokens and spend; the request still counts. */
  async release(reservation: Reservation): Promise<void> {
    await this.reconcile(reservation, { tokens: 0, costUsd: 0 });
  }

  #charges(input: ReserveInput, now: number, tokens: number, microUsd: number): (Charge & { metric: Metric; subject: SubjectKind })[] {
    const limits = this.limitsFor(input.principal, input.workload);
    const p = input.principal;
    const subjects: [SubjectKind, string, LimitValues | undefined][] = [
      // Keys and SSO users are both "key" subjects; the prefix keeps a key id and a token subject apart.
      ['key', `${p.kind}/${p.id}`, limits.key],
      ['team', p.team ?? '', limits.team],
      ['workload', input.workload ?? '', limits.workload],
    ];
    // Windows are made on first use: the day and month ones format dates, and most callers have no budget.
    let m: Window | undefined;
    let d: Window | undefined;
    let mo: Window | undefined;
    const minute = (): Window => (m ??= minuteWindow(now));
    const day = (): Window => (d ??= dayWindow(now));
    const month = (): Window => (mo ??= monthWindow(now));
    const out: (Charge & { metric: Metric; subject: SubjectKind })[] = [];
    for (const [subject, id, values] of subjects) {
      if (values === undefined) continue;
      const base = `${this.#prefix}${subject}:${encodeURIComponent(id)}:`;
      const add = (metric: Metric, limit: number | undefined, amount: number, window: () => Window): void => {
        if (limit === undefined) return;
        const w = window();
        out.push({ key: `${base}${metric}:${w.id}`, metric, subject, amount, limit, ttlMs: w.endsAt - now + GRACE_MS });
      };
      add('requests_per_minute', values.requestsPerMinute, 1, minute);
      add('tokens_per_minute', values.tokensPerMinute, tokens, minute);
      add('spend_per_day', values.spendPerDayUsd === undefined ? undefined : toMicroUsd(values.spendPerDayUsd), microUsd, day);
      add('spend_per_month', values.spendPerMonthUsd === undefined ? undefined : toMicroUsd(values.spendPerMonthUsd), microUsd, month);
    }
    return out;
  }
}

function windowEnd(metric: Metric, now: number): number {
  if (metric === 'spend_per_day') return dayWindow(now).endsAt;
  if (metric === 'spend_per_month') return monthWindow(now).endsAt;
  return minuteWindow(now).endsAt;
}

const METRIC_TEXT: Record<Metric, string> = {
  requests_per_minute: 'requests per minute',
  tokens_per_minute: 'tokens per minute',
  spend_per_day: 'daily spend',
  spend_per_month: 'monthly spend',
};

/**
 * The refusal as a GatewayError. Budgets answer `rate_limited` (429) until the
 * `budget_exceeded` code exists in domain/errors.ts; the lead swaps the code then.
 * A store outage under fail-closed answers 503 with Retry-After.
 */
export function limitError(decision: Exclude<LimitDecision, { ok: true }>): GatewayError {
  const retryAfter = decision.retryAfterSeconds;
  switch (decision.kind) {
    case 'rate_limited':
      return new GatewayError('rate_limited', `Rate limit reached: ${METRIC_TEXT[decision.metric]} for this ${decision.subject}.`, { retryAfter });
    case 'budget_exceeded':
      return new GatewayError('budget_exceeded', `Budget exhausted: ${METRIC_TEXT[decision.metric]} for this ${decision.subject}.`, { retryAfter });
    case 'unavailable':
      return new GatewayError('limits_unavailable', 'Usage limits cannot be checked right now.', { retryAfter, retryable: false });
  }
}
