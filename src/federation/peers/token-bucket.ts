/**
 * A token bucket per peer: `burst` calls back to back, then `requestsPerMinute`
 * spread evenly. In memory, per process: a peer's budget is a promise this listener
 * makes, not a shared quota, so it needs no store that could fail.
 */
export class TokenBucket {
  readonly #capacity: number;
  readonly #perMs: number;
  readonly #now: () => number;
  #tokens: number;
  #at: number;

  constructor(options: { requestsPerMinute: number; burst: number; now?: () => number }) {
    this.#capacity = options.burst;
    this.#perMs = options.requestsPerMinute / 60_000;
    this.#now = options.now ?? Date.now;
    this.#tokens = options.burst;
    this.#at = this.#now();
  }

  /** Takes one token; when there is none, says how many whole seconds until there is. */
  take(): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const now = this.#now();
    // A clock that steps back must not mint tokens.
    this.#tokens = Math.min(this.#capacity, this.#tokens + Math.max(0, now - this.#at) * this.#perMs);
    this.#at = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - this.#tokens) / this.#perMs / 1000)) };
  }
}
