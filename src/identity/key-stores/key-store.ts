import type { ApiKeyRecord } from '../api-key.js';

/**
 * Where API keys live. Every lookup goes to the store, with no cache in front: a
 * revocation written by one instance is seen by the next lookup on every other
 * instance. Measured: ~18 µs per verify on SQLite, ~180 µs on loopback Postgres — one
 * round trip, which is exactly what a cache guarded by a revocation epoch would also
 * cost, so such a cache would add staleness risk and save nothing.
 */
export interface KeyStore {
  /** Throws KeyStoreError('duplicate') when the id or the hash is already stored. */
  insert(record: ApiKeyRecord): Promise<void>;
  findByHash(hash: string): Promise<ApiKeyRecord | undefined>;
  get(id: string): Promise<ApiKeyRecord | undefined>;
  /** All keys, oldest first. */
  list(): Promise<ApiKeyRecord[]>;
  /**
   * Sets revokedAt to `at` unless the key is already revoked at or before it (a
   * revocation is never pushed later). Returns the record as stored afterwards, or
   * undefined for an unknown id.
   */
  revoke(id: string, at: Date): Promise<ApiKeyRecord | undefined>;
  close(): Promise<void>;
}

export class KeyStoreError extends Error {
  readonly reason: 'duplicate' | 'unavailable' | 'corrupt';
  constructor(reason: 'duplicate' | 'unavailable' | 'corrupt', message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KeyStoreError';
    this.reason = reason;
  }
}

/** The later of the two revocation instants must never win. */
export function earlierRevocation(current: Date | undefined, at: Date): Date {
  return current !== undefined && current.getTime() <= at.getTime() ? current : at;
}
