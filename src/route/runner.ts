import { GatewayError, toGatewayError, type ErrorCode } from '../domain/errors.js';
import type { Tier } from '../domain/tier.js';
import type { Lease, CapacityRegistry } from './capacity.js';
import type { CatalogEntry } from './catalog.js';
import type { RoutingConfig } from './config.js';
import { permits, type RouteConstraints } from './constraints.js';
import { countsAgainstBackend, type HealthRegistry } from './health.js';
import type { RoutePlan } from './plan.js';
import type { Clock, Rng, Sleep } from './time.js';

export type AttemptOutcome =
  /** The call resolved: the answer (or, for streams, the upstream's 2xx) is in. */
  | 'ok'
  | 'failed'
  /** The client went away during this call or wait. */
  | 'aborted'
  /** Not called: the breaker opened (or its probe was taken) after planning. */
  | 'skipped_breaker_open'
  /** Not called: no free slot, and later candidates remained to try. */
  | 'skipped_at_capacity'
  /** Not called: queued as the last candidate and no slot freed within the wait. */
  | 'capacity_exhausted'
  /** Not called: outside the constraints. Only a bug upstream of the runner gets here. */
  | 'blocked_ineligible';

export interface AttemptRecord {
  readonly backendId: string;
  readonly tier: Tier;
  readonly region: string;
  readonly model: string;
  /** 1-based count of calls made; 0 for records of candidates that were not called. */
  readonly attemptNo: number;
  readonly outcome: AttemptOutcome;
  readonly errorCode?: ErrorCode;
  /** Duration of the call (time to first byte for streams), or of the queue wait. */
  readonly latencyMs: number;
}

export interface AttemptInfo {
  readonly attemptNo: number;
  readonly signal: AbortSignal;
}

export type Attempt<T> = (candidate: CatalogEntry, info: AttemptInfo) => Promise<T>;

export type RunResult<T> =
  | {
      readonly ok: true;
      readonly value: T;
      readonly entry: CatalogEntry;
      readonly attempts: readonly AttemptRecord[];
      /**
       * The in-flight slot, still held. Release it when the response is finished
       * (stream ended, errored or was abandoned); release is idempotent.
       */
      readonly lease: Lease;
    }
  | { readonly ok: false; readonly error: GatewayError; readonly attempts: readonly AttemptRecord[] };

export interface RunOptions {
  readonly signal: AbortSignal;
  readonly health: HealthRegistry;
  readonly capacity: CapacityRegistry;
  readonly retry: RoutingConfig['retry'];
  /** How long the last candidate in the chain may queue for a slot. */
  readonly queueWaitMs: number;
  /** Retry-After for capacity_exhausted when no queue was involved. */
  readonly retryAfterSeconds: number;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly sleep: Sleep;
}

/** Backoff before retry number `retry` (1-based) on the same backend. */
export function backoffMs(retry: number, backoff: RoutingConfig['retry']['backoff'], rng: Rng): number {
  const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** (retry - 1));
  return ceiling * (1 - backoff.jitter + backoff.jitter * rng());
}

function clientClosed(): GatewayError {
  return new GatewayError('client_closed_request', 'client closed the request');
}

/**
 * Calls `attempt` along the plan's chain: retries a backend with exponential backoff
 * and jitter on retryable errors, then moves to the next candidate (without waiting:
 * another backend owes nothing to this one's backoff). Non-retryable errors end the
 * run at once. Only the plan's candidates are ever called, and each is checked
 * against `constraints` (passed separately from the plan on purpose) immediately
 * before the call. Never throws; every call and skip is in `attempts`.
 */
export async function runWithFallback<T>(
  plan: RoutePlan,
  constraints: RouteConstraints,
  attempt: Attempt<T>,
  options: RunOptions,
): Promise<RunResult<T>> {
  const attempts: AttemptRecord[] = [];
  const { signal, health, capacity, retry, clock } = options;
  const chain = plan.candidates;

  // First line: a chain with anything outside the constraints is a bug in whatever
  // built it. Refuse the whole request rather than try the permitted part.
  if (plan.verdict !== 'ok' || chain.length === 0 || chain.some((c) => !permits(constraints, c.entry))) {
    return { ok: false, error: new GatewayError('internal_error', 'routing plan is empty or outside the eligible set'), attempts };
  }

  let calls = 0;
  let lastError: GatewayError | undefined;
  let breakerSkipMs = Number.POSITIVE_INFINITY;
  let capacitySkipped = false;
  const record = (e: CatalogEntry, attemptNo: number, outcome: AttemptOutcome, latencyMs: number, errorCode?: ErrorCode): void => {
    const r: AttemptRecord = { backendId: e.backendId, tier: e.tier, region: e.region, model: e.id, attemptNo, outcome, latencyMs };
    attempts.push(errorCode === undefined ? r : { ...r, errorCode });
  };
  const aborted = (): RunResult<T> => ({ ok: false, error: clientClosed(), attempts });

  for (let i = 0; i < chain.length && calls < retry.maxAttempts; i++) {
    const entry = chain[i]?.entry;
    if (entry === undefined) continue;
    const isLast = i === chain.length - 1;
    const breaker = health.breaker(entry.backendId);
    const slots = capacity.get(entry.backendId);

    for (let onBackend = 1; onBackend <= retry.attemptsPerBackend && calls < retry.maxAttempts; onBackend++) {
      if (signal.aborted) return aborted();
      if (!breaker.tryPass()) {
        breakerSkipMs = Math.min(breakerSkipMs, breaker.retryInMs());
        record(entry, 0, 'skipped_breaker_open', 0);
        break;
      }

      let lease = slots.tryAcquire();
      if (lease === undefined) {
        if (!isLast) {
          breaker.recordNeutral();
          capacitySkipped = true;
          record(entry, 0, 'skipped_at_capacity', 0);
          break;
        }
        const queuedAt = clock();
        try {
          lease = await slots.acquire(signal, options.queueWaitMs);
        } catch (err) {
          breaker.recordNeutral();
          if (signal.aborted) {
            record(entry, 0, 'aborted', clock() - queuedAt);
            return aborted();
          }
          lastError = toGatewayError(err);
          record(entry, 0, 'capacity_exhausted', clock() - queuedAt, lastError.code);
          break;
        }
        if (signal.aborted) {
          lease.release();
          breaker.recordNeutral();
          return aborted();
        }
      }

      // Second line: the very last moment before data leaves, after any waiting.
      if (!permits(constraints, entry)) {
        lease.release();
        breaker.recordNeutral();
        record(entry, 0, 'blocked_ineligible', 0);
        break;
      }

      const attemptNo = ++calls;
      const started = clock();
      try {
        const value = await attempt(entry, { attemptNo, signal });
        const latencyMs = clock() - started;
        health.recordSuccess(entry.backendId, latencyMs);
        record(entry, attemptNo, 'ok', latencyMs);
        return { ok: true, value, entry, attempts, lease };
      } catch (thrown) {
        const latencyMs = clock() - started;
        lease.release();
        const err = toGatewayError(thrown);
        if (signal.aborted || err.code === 'client_closed_request') {
          health.recordNeutral(entry.backendId);
          record(entry, attemptNo, 'aborted', latencyMs, err.code);
          return aborted();
        }
        if (countsAgainstBackend(err)) health.recordFailure(entry.backendId);
        else health.recordNeutral(entry.backendId);
        record(entry, attemptNo, 'failed', latencyMs, err.code);
        lastError = err;
        if (!err.retryable) return { ok: false, error: err, attempts };
      }

      // Retry this backend? Only if another try here is allowed and worth waiting for.
      if (onBackend >= retry.attemptsPerBackend || calls >= retry.maxAttempts || !breaker.canPass()) break;
      let delay = backoffMs(onBackend, retry.backoff, options.rng);
      const hinted = lastError.retryAfter === undefined ? 0 : lastError.retryAfter * 1000;
      // A backend asking for more patience than our backoff allows is better skipped.
      if (hinted > retry.backoff.maxMs) break;
      delay = Math.max(delay, hinted);
      try {
        await options.sleep(delay, signal);
      } catch {
        return aborted();
      }
    }
  }

  if (signal.aborted) return aborted();
  if (lastError !== undefined) return { ok: false, error: lastError, attempts };
  if (capacitySkipped) {
    const error = new GatewayError('capacity_exhausted', `no eligible backend for '${plan.model}' has free capacity`, {
      retryable: true,
      retryAfter: options.retryAfterSeconds,
    });
    return { ok: false, error, attempts };
  }
  const retryAfter = Number.isFinite(breakerSkipMs) ? Math.max(1, Math.ceil(breakerSkipMs / 1000)) : undefined;
  return {
    ok: false,
    error: new GatewayError('upstream_unavailable', `no eligible backend for '${plan.model}' is available right now`, { retryable: true, retryAfter }),
    attempts,
  };
}
