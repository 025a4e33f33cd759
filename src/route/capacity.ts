import { GatewayError } from '../domain/errors.js';
import type { Timers } from './time.js';

/** A held in-flight slot. release() is idempotent, so every exit path may call it. */
export interface Lease {
  readonly backendId: string;
  release(): void;
}

export interface QueueSettings {
  readonly maxWaitMs: number;
  readonly maxLength: number;
  readonly retryAfterSeconds: number;
}

interface Waiter {
  readonly resolve: (lease: Lease) => void;
  readonly reject: (err: unknown) => void;
  readonly signal: AbortSignal;
  readonly onAbort: () => void;
  timer: unknown;
}

/**
 * In-flight accounting for one backend, with a FIFO queue for callers willing to
 * wait. Backends without maxConcurrency have an infinite limit but are still counted
 * so utilisation and metrics read the same everywhere.
 */
export class BackendCapacity {
  readonly backendId: string;
  readonly limit: number;
  readonly #settings: QueueSettings;
  readonly #timers: Timers;
  #inFlight = 0;
  // A Set keeps insertion order (FIFO) and removes aborted waiters in O(1).
  readonly #waiters = new Set<Waiter>();

  constructor(backendId: string, limit: number | undefined, settings: QueueSettings, timers: Timers) {
    this.backendId = backendId;
    this.limit = limit ?? Number.POSITIVE_INFINITY;
    this.#settings = settings;
    this.#timers = timers;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get queued(): number {
    return this.#waiters.size;
  }

  /** in-flight / limit; 0 for unlimited backends. Above 1 never happens. */
  utilisation(): number {
    return this.limit === Number.POSITIVE_INFINITY ? 0 : this.#inFlight / this.limit;
  }

  full(): boolean {
    return this.#inFlight >= this.limit;
  }

  /** A slot now, or undefined. Never jumps ahead of queued waiters. */
  tryAcquire(): Lease | undefined {
    if (this.#inFlight >= this.limit || this.#waiters.size > 0) return undefined;
    this.#inFlight++;
    return this.#lease();
  }

  /**
   * A slot now or within maxWaitMs, in arrival order. Rejects with capacity_exhausted
   * (retryable, with retryAfter) on timeout or a full queue, and with the signal's
   * reason when it aborts.
   */
  acquire(signal: AbortSignal, maxWaitMs: number = this.#settings.maxWaitMs): Promise<Lease> {
    const now = this.tryAcquire();
    if (now !== undefined) return Promise.resolve(now);
    if (signal.aborted) return Promise.reject(signal.reason);
    if (maxWaitMs <= 0 || this.#waiters.size >= this.#settings.maxLength) return Promise.reject(this.#exhausted());
    return new Promise<Lease>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          if (!this.#waiters.delete(waiter)) return;
          this.#timers.clear(waiter.timer);
          reject(signal.reason);
        },
        timer: undefined,
      };
      waiter.timer = this.#timers.set(() => {
        if (!this.#waiters.delete(waiter)) return;
        signal.removeEventListener('abort', waiter.onAbort);
        reject(this.#exhausted());
      }, maxWaitMs);
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.#waiters.add(waiter);
    });
  }

  #lease(): Lease {
    let held = true;
    return {
      backendId: this.backendId,
      release: () => {
        if (!held) return;
        held = false;
        this.#handOver();
      },
    };
  }

  // A freed slot goes straight to the head waiter, so a newcomer's tryAcquire cannot
  // overtake someone who has been queueing.
  #handOver(): void {
    for (const waiter of this.#waiters) {
      this.#waiters.delete(waiter);
      this.#timers.clear(waiter.timer);
      waiter.signal.removeEventListener('abort', waiter.onAbort);
      waiter.resolve(this.#lease());
      return;
    }
    this.#inFlight--;
  }

  #exhausted(): GatewayError {
    return new GatewayError('capacity_exhausted', `backend ${this.backendId} has no free capacity`, {
      retryable: true,
      retryAfter: this.#settings.retryAfterSeconds,
    });
  }
}

export interface CapacitySnapshot {
  readonly backendId: string;
  readonly inFlight: number;
  readonly limit: number | undefined;
  readonly utilisation: number;
  readonly queued: number;
}

/** One BackendCapacity per backend in the catalog. */
export class CapacityRegistry {
  readonly #byId = new Map<string, BackendCapacity>();

  constructor(backends: Iterable<{ readonly backendId: string; readonly maxConcurrency: number | undefined }>, settings: QueueSettings, timers: Timers) {
    for (const b of backends) {
      if (!this.#byId.has(b.backendId)) this.#byId.set(b.backendId, new BackendCapacity(b.backendId, b.maxConcurrency, settings, timers));
    }
  }

  /** Throws for an unknown backend: capacity must never be silently unlimited by a typo. */
  get(backendId: string): BackendCapacity {
    const c = this.#byId.get(backendId);
    if (c === undefined) throw new Error(`no capacity tracker for backend "${backendId}"`);
    return c;
  }

  snapshot(): CapacitySnapshot[] {
    return [...this.#byId.values()].map((c) => ({
      backendId: c.backendId,
      inFlight: c.inFlight,
      limit: c.limit === Number.POSITIVE_INFINITY ? undefined : c.limit,
      utilisation: c.utilisation(),
      queued: c.queued,
    }));
  }
}
