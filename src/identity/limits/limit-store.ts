/**
 * Counters behind the limiter. Amounts are integers (requests, tokens, micro-USD)
 * so Redis can add them atomically with INCRBY.
 */
export interface Charge {
  readonly key: string;
  readonly amount: number;
  readonly limit: number;
  /** Lifetime of the counter from its first charge; it outlives its window so a late reconcile still lands. */
  readonly ttlMs: number;
}

export interface Adjustment {
  readonly key: string;
  /** May be negative (the estimate was too high); a counter never drops below zero. */
  readonly delta: number;
  readonly ttlMs: number;
}

/** index: the first charge that would have gone over its limit. */
export type ReserveOutcome = { readonly ok: true } | { readonly ok: false; readonly index: number };

export interface LimitStore {
  /**
   * All or nothing, atomically: when every counter plus its amount stays within its
   * limit, all are added; otherwise none is. A zero amount never refuses.
   */
  reserve(charges: readonly Charge[]): Promise<ReserveOutcome>;
  /** Unconditional corrections after the call (reconcile). A missing counter is not recreated by a negative delta. */
  adjust(adjustments: readonly Adjustment[]): Promise<void>;
  /** Current values (0 when absent), for admin views and tests. */
  peek(keys: readonly string[]): Promise<number[]>;
  close(): Promise<void>;
}

export class LimitStoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LimitStoreError';
  }
}
