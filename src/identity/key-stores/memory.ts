import type { ApiKeyRecord } from '../api-key.js';
import { earlierRevocation, KeyStoreError, type KeyStore } from './key-store.js';

/** Per-process store: tests, the demo, and keys defined in the config (hashed at load). */
export class MemoryKeyStore implements KeyStore {
  readonly #byId = new Map<string, ApiKeyRecord>();
  readonly #idByHash = new Map<string, string>();

  async insert(record: ApiKeyRecord): Promise<void> {
    if (this.#byId.has(record.id) || this.#idByHash.has(record.hash)) {
      throw new KeyStoreError('duplicate', `key ${record.id} already exists`);
    }
    this.#byId.set(record.id, freeze(record));
    this.#idByHash.set(record.hash, record.id);
  }

  async findByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    const id = this.#idByHash.get(hash);
    return id === undefined ? undefined : this.#byId.get(id);
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    return this.#byId.get(id);
  }

  async list(): Promise<ApiKeyRecord[]> {
    return [...this.#byId.values()].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.id.localeCompare(b.id));
  }

  async revoke(id: string, at: Date): Promise<ApiKeyRecord | undefined> {
    const current = this.#byId.get(id);
    if (current === undefined) return undefined;
    const next = freeze({ ...current, revokedAt: new Date(earlierRevocation(current.revokedAt, at)) });
    this.#byId.set(id, next);
    return next;
  }

  async close(): Promise<void> {}
}

function freeze(r: ApiKeyRecord): ApiKeyRecord {
  return Object.freeze({
    ...r,
    roles: Object.freeze([...r.roles]),
    models: Object.freeze([...r.models]),
    tiers: Object.freeze([...r.tiers]),
    limits: Object.freeze({ ...r.limits }),
  });
}
