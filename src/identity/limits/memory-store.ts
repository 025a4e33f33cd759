import type { Adjustment, Charge, LimitStore, ReserveOutcome } from './limit-store.js';

interface Counter {
  value: number;
  expiresAt: number;
}

/** Expired counters are dropped in a sweep once the map grows past this, so memory stays bounded. */
const SWEEP_AT = 10_000;

/**
 * One process's counters. Correct for a single instance (JS runs each reserve to
 * completion, so check-then-add cannot interleave), and the fallback when Redis is down.
 */
export class MemoryLimitStore implements LimitStore {
  readonly #counters = new Map<string, Counter>();
  readonly #now: () => number;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  #value(key: string, now: number): number {
    const c = this.#counters.get(key);
    if (c === undefined) return 0;
    if (c.expiresAt <= now) {
      this.#counters.delete(key);
      return 0;
    }
    return c.value;
  }

  #add(key: string, delta: number, ttlMs: number, now: number): void {
    const current = this.#value(key, now);
    const c = this.#counters.get(key);
    if (c === undefined) {
      if (delta > 0) this.#counters.set(key, { value: delta, expiresAt: now + ttlMs });
      return;
    }
    c.value = Math.max(0, current + delta);
  }

  async reserve(charges: readonly Charge[]): Promise<ReserveOutcome> {
    const now = this.#now();
    if (this.#counters.size > SWEEP_AT) this.#sweep(now);
    for (let i = 0; i < charges.length; i++) {
      const c = charges[i]!;
      if (c.amount > 0 && this.#value(c.key, now) + c.amount > c.limit) return { ok: false, index: i };
    }
    for (const c of charges) if (c.amount !== 0) this.#add(c.key, c.amount, c.ttlMs, now);
    return { ok: true };
  }

  async adjust(adjustments: readonly Adjustment[]): Promise<void> {
    const now = this.#now();
    for (const a of adjustments) if (a.delta !== 0) this.#add(a.key, a.delta, a.ttlMs, now);
  }

  async peek(keys: readonly string[]): Promise<number[]> {
    const now = this.#now();
    return keys.map((k) => this.#value(k, now));
  }

  async close(): Promise<void> {
    this.#counters.clear();
  }

  #sweep(now: number): void {
    for (const [k, c] of this.#counters) if (c.expiresAt <= now) this.#counters.delete(k);
  }
}
