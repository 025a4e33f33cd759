import { Redis } from 'ioredis';
import type { Secret } from '../../config/secrets.js';
import { VaultCipher, conversationStoreKey, type VaultKey } from './cipher.js';
import { MappingSession, unavailable } from './session.js';
import { VaultConflictError, type StoredEntry, type Vault, type VaultScope, type VaultSession } from './types.js';

export interface RedisVaultOptions {
  url: string;
  /** Prefix of every key; tests use a unique one per run. */
  keyPrefix: string;
  ttlMs: number;
  keys: readonly VaultKey[];
  password?: Secret | undefined;
  /** Each store operation fails (503) after this long, instead of queueing while Redis is down. */
  timeoutMs: number;
}

/**
 * Conversation mappings in Redis for several gateway instances: one hash per
 * conversation (field = placeholder id, value = key id + ciphertext), with the
 * conversation's TTL on the hash. HSETNX detects concurrent allocation of an id.
 */
export class RedisVault implements Vault {
  readonly kind = 'redis' as const;
  readonly #cipher: VaultCipher;
  readonly #options: RedisVaultOptions;
  #client: Redis | undefined;

  constructor(options: RedisVaultOptions) {
    this.#cipher = new VaultCipher(options.keys);
    this.#options = options;
  }

  async open(scope: VaultScope): Promise<VaultSession> {
    if (scope.conversation === undefined) return new MappingSession(scope, [], undefined);
    const conv = conversationStoreKey(scope.conversation);
    const key = `${this.#options.keyPrefix}${conv}`;
    let hash: Record<string, string>;
    const client = this.#redis();
    try {
      hash = await this.#timed(client.hgetall(key));
    } catch (err) {
      throw unavailable(err);
    }
    const known: StoredEntry[] = Object.entries(hash).map(([id, stored]) => {
      const colon = stored.indexOf(':');
      const value = colon < 0 ? undefined : this.#cipher.decrypt(stored.slice(0, colon), stored.slice(colon + 1), `${conv}\u0000${id}`);
      return { id, value };
    });
    return new MappingSession(scope, known, async (batch) => {
      const multi = client.multi();
      for (const e of batch) {
        const { kid, blob } = this.#cipher.encrypt(e.value, `${conv}\u0000${e.id}`);
        multi.hsetnx(key, e.id, `${kid}:${blob}`);
      }
      // Sliding TTL: a conversation in use keeps its whole mapping alive.
      multi.pexpire(key, this.#options.ttlMs);
      const results = await this.#timed(multi.exec());
      if (results === null) throw new Error('redis transaction aborted');
      for (const [err] of results) if (err !== null) throw err;
      // An id another request stored first: its value may differ, so this request must be redone.
      if (results.slice(0, batch.length).some(([, set]) => set === 0)) throw new VaultConflictError();
    });
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (client !== undefined) client.disconnect();
  }

  /** Connected on first use, so constructing the vault (at startup) does no I/O. */
  #redis(): Redis {
    if (this.#client !== undefined) return this.#client;
    const client = new Redis(this.#options.url, {
      lazyConnect: false,
      ...(this.#options.password === undefined ? {} : { password: this.#options.password.reveal() }),
      connectTimeout: this.#options.timeoutMs,
      maxRetriesPerRequest: 1,
      // Keep reconnecting in the background, but never for long between tries.
      retryStrategy: (times) => Math.min(times * 100, 1_000),
    });
    // Connection errors surface through the commands (as 503); the event only needs a listener.
    client.on('error', () => undefined);
    this.#client = client;
    return client;
  }

  async #timed<T>(p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('redis timeout')), this.#options.timeoutMs);
    });
    try {
      return await Promise.race([p, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
