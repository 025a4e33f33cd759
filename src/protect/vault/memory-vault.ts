import { conversationStoreKey } from './cipher.js';
import { MappingSession } from './session.js';
import type { StoredEntry, Vault, VaultScope, VaultSession } from './types.js';
import { VaultConflictError } from './types.js';

export interface MemoryVaultOptions {
  /** How long a conversation's mapping lives after its last write. */
  ttlMs: number;
  /** Bound on conversations kept; the least recently written are dropped first. */
  maxConversations?: number;
  /** Injectable clock for TTL tests. */
  now?: () => number;
}

/**
 * The default vault. Without a conversation a session is per request and nothing
 * outlives it. With one, mappings are kept in this process (plain, in memory: the same
 * place the request itself is) until the TTL passes — fine for one instance; use
 * SQLite or Redis when several instances serve one conversation.
 */
export class MemoryVault implements Vault {
  readonly kind = 'memory' as const;
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;
  readonly #conversations = new Map<string, { entries: Map<string, string>; expiresAt: number }>();

  constructor(options: MemoryVaultOptions) {
    this.#ttlMs = options.ttlMs;
    this.#max = options.maxConversations ?? 100_000;
    this.#now = options.now ?? Date.now;
  }

  async open(scope: VaultScope): Promise<VaultSession> {
    if (scope.conversation === undefined) return new MappingSession(scope, [], undefined);
    const key = conversationStoreKey(scope.conversation);
    const known: StoredEntry[] = [];
    const conv = this.#live(key);
    if (conv !== undefined) for (const [id, value] of conv.entries) known.push({ id, value });
    return new MappingSession(scope, known, async (batch) => {
      const now = this.#now();
      let c = this.#live(key);
      if (c === undefined) c = { entries: new Map(), expiresAt: 0 };
      // Check all first, so a conflicting batch writes nothing.
      for (const e of batch) if (c.entries.has(e.id) && c.entries.get(e.id) !== e.value) throw new VaultConflictError();
      for (const e of batch) c.entries.set(e.id, e.value);
      c.expiresAt = now + this.#ttlMs;
      this.#conversations.delete(key);
      this.#conversations.set(key, c);
      while (this.#conversations.size > this.#max) {
        const oldest = this.#conversations.keys().next().value;
        if (oldest === undefined) break;
        this.#conversations.delete(oldest);
      }
    });
  }

  async close(): Promise<void> {
    this.#conversations.clear();
  }

  #live(key: string): { entries: Map<string, string>; expiresAt: number } | undefined {
    const c = this.#conversations.get(key);
    if (c === undefined) return undefined;
    if (c.expiresAt <= this.#now()) {
      this.#conversations.delete(key);
      return undefined;
    }
    return c;
  }
}
