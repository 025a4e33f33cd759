import type { GatewayError } from '../domain/errors.js';
import type { RoutingConfig } from './config.js';
import type { Clock } from './time.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerSettings {
  readonly failureThreshold: number;
  readonly windowMs: number;
  readonly cooldownMs: number;
}

/**
 * One backend's circuit breaker. Closed: counts failures; `failureThreshold` of them
 * within `windowMs` open it. Open: refuses for `cooldownMs`. Then half-open: lets a
 * single probe through; its success closes the breaker, its failure reopens it for
 * another cooldown. State moves lazily on reads, so no timers are needed.
 */
export class CircuitBreaker {
  readonly #settings: BreakerSettings;
  readonly #clock: Clock;
  // Ring of the last failureThreshold failure times: the breaker opens when the ring
  // is full and its oldest entry is still inside the window. O(1) per failure.
  readonly #ring: number[];
  #ringNext = 0;
  #ringCount = 0;
  #openUntil = 0;
  #open = false;
  #probeSince: number | undefined;

  constructor(settings: BreakerSettings, clock: Clock) {
    this.#settings = settings;
    this.#clock = clock;
    this.#ring = new Array<number>(settings.failureThreshold).fill(0);
  }

  state(): BreakerState {
    if (!this.#open) return 'closed';
    return this.#clock() < this.#openUntil ? 'open' : 'half-open';
  }

  /** Whether a call could go through now, without claiming the half-open probe. */
  canPass(): boolean {
    const state = this.state();
    if (state === 'closed') return true;
    if (state === 'open') return false;
    return !this.#probeBusy();
  }

  /** Like canPass, but claims the probe when half-open. Pair with exactly one record*. */
  tryPass(): boolean {
    const state = this.state();
    if (state === 'closed') return true;
    if (state === 'open' || this.#probeBusy()) return false;
    this.#probeSince = this.#clock();
    return true;
  }

  recordSuccess(): void {
    if (!this.#open) return;
    // Only a success seen once the cooldown is over counts as a probe result; a slow
    // call that started before the breaker opened proves little.
    if (this.state() === 'half-open') this.#close();
  }

  recordFailure(): void {
    const now = this.#clock();
    if (this.#open) {
      if (this.state() === 'half-open') this.#trip(now);
      return;
    }
    const n = this.#settings.failureThreshold;
    this.#ring[this.#ringNext] = now;
    this.#ringNext = (this.#ringNext + 1) % n;
    if (this.#ringCount < n) this.#ringCount++;
    // After the write, #ringNext points at the oldest of the last n failures.
    if (this.#ringCount === n && now - (this.#ring[this.#ringNext] ?? 0) <= this.#settings.windowMs) this.#trip(now);
  }

  /** The call ended without telling anything about the backend (client left, no slot): frees the probe. */
  recordNeutral(): void {
    this.#probeSince = undefined;
  }

  /** Milliseconds until a probe may go through; 0 when not open. */
  retryInMs(): number {
    return this.#open ? Math.max(0, this.#openUntil - this.#clock()) : 0;
  }

  #probeBusy(): boolean {
    // A probe whose outcome was never reported stops blocking after one cooldown.
    return this.#probeSince !== undefined && this.#clock() - this.#probeSince < this.#settings.cooldownMs;
  }

  #trip(now: number): void {
    this.#open = true;
    this.#openUntil = now + this.#settings.cooldownMs;
    this.#probeSince = undefined;
  }

  #close(): void {
    this.#open = false;
    this.#probeSince = undefined;
    this.#ringCount = 0;
    this.#ringNext = 0;
  }
}

/**
 * Failures that say something about the backend's health. Client mistakes
 * (invalid_request), model mismatches and client aborts do not open a breaker.
 */
export function countsAgainstBackend(err: GatewayError): boolean {
  switch (err.code) {
    case 'upstream_error':
    case 'upstream_unavailable':
    case 'upstream_timeout':
    case 'rate_limited':
      return true;
    default:
      return false;
  }
}

interface BackendHealth {
  readonly breaker: CircuitBreaker;
  latencyMs: number | undefined;
}

export interface HealthSnapshot {
  readonly backendId: string;
  readonly breaker: BreakerState;
  readonly latencyMs: number | undefined;
  readonly retryInMs: number;
}

/** Breakers and moving-average latency (time to first byte) per backend. */
export class HealthRegistry {
  readonly #byId = new Map<string, BackendHealth>();
  readonly #breaker: BreakerSettings;
  readonly #alpha: number;
  readonly #clock: Clock;

  constructor(settings: Pick<RoutingConfig, 'breaker' | 'latency'>, clock: Clock) {
    this.#breaker = settings.breaker;
    this.#alpha = settings.latency.ewmaAlpha;
    this.#clock = clock;
  }

  breaker(backendId: string): CircuitBreaker {
    return this.#get(backendId).breaker;
  }

  /** EWMA of observed time to first byte; undefined until the first success. */
  latencyMs(backendId: string): number | undefined {
    return this.#byId.get(backendId)?.latencyMs;
  }

  recordSuccess(backendId: string, latencyMs: number): void {
    const h = this.#get(backendId);
    h.latencyMs = h.latencyMs === undefined ? latencyMs : h.latencyMs + this.#alpha * (latencyMs - h.latencyMs);
    h.breaker.recordSuccess();
  }

  /** Also for failures after the first byte (mid-stream), which the lead's code sees. */
  recordFailure(backendId: string): void {
    this.#get(backendId).breaker.recordFailure();
  }

  recordNeutral(backendId: string): void {
    this.#byId.get(backendId)?.breaker.recordNeutral();
  }

  snapshot(): HealthSnapshot[] {
    return [...this.#byId].map(([backendId, h]) => ({
      backendId,
      breaker: h.breaker.state(),
      latencyMs: h.latencyMs,
      retryInMs: h.breaker.retryInMs(),
    }));
  }

  #get(backendId: string): BackendHealth {
    let h = this.#byId.get(backendId);
    if (h === undefined) {
      h = { breaker: new CircuitBreaker(this.#breaker, this.#clock), latencyMs: undefined };
      this.#byId.set(backendId, h);
    }
    return h;
  }
}
