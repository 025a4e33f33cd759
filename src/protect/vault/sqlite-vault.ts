import Database from 'better-sqlite3';
import { VaultCipher, conversationStoreKey, type VaultKey } from './cipher.js';
import { MappingSession, unavailable } from './session.js';
import { VaultConflictError, type StoredEntry, type Vault, type VaultScope, type VaultSession } from './types.js';

export interface SqliteVaultOptions {
  /** Database file; created when missing. */
  path: string;
  ttlMs: number;
  keys: readonly VaultKey[];
  now?: () => number;
}

/**
 * Conversation mappings in a SQLite file, values AES-256-GCM encrypted. One row per
 * placeholder; the primary key (conversation, placeholder) is what detects two
 * concurrent requests allocating the same id.
 */
export class SqliteVault implements Vault {
  readonly kind = 'sqlite' as const;
  readonly #cipher: VaultCipher;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #path: string;
  #db: Database.Database | undefined;

  constructor(options: SqliteVaultOptions) {
    this.#cipher = new VaultCipher(options.keys);
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
    this.#path = options.path;
  }

  async open(scope: VaultScope): Promise<VaultSession> {
    if (scope.conversation === undefined) return new MappingSession(scope, [], undefined);
    const conv = conversationStoreKey(scope.conversation);
    let rows: Array<{ placeholder: string; kid: string; blob: string }>;
    try {
      const db = this.#database();
      const now = this.#now();
      db.prepare('DELETE FROM perimeter_vault WHERE conversation = ? AND expires_at <= ?').run(conv, now);
      rows = db.prepare('SELECT placeholder, kid, blob FROM perimeter_vault WHERE conversation = ?').all(conv) as typeof rows;
    } catch (err) {
      throw unavailable(err);
    }
    const known: StoredEntry[] = rows.map((r) => ({ id: r.placeholder, value: this.#cipher.decrypt(r.kid, r.blob, aad(conv, r.placeholder)) }));
    return new MappingSession(scope, known, async (batch) => {
      const db = this.#database();
      const expires = this.#now() + this.#ttlMs;
      const insert = db.prepare('INSERT INTO perimeter_vault (conversation, placeholder, kid, blob, expires_at) VALUES (?, ?, ?, ?, ?)');
      const write = db.transaction(() => {
        for (const e of batch) {
          const { kid, blob } = this.#cipher.encrypt(e.value, aad(conv, e.id));
          try {
            insert.run(conv, e.id, kid, blob, expires);
          } catch (err) {
            if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new VaultConflictError();
            throw err;
          }
        }
        // Sliding TTL: a conversation in use keeps its whole mapping alive.
        db.prepare('UPDATE perimeter_vault SET expires_at = ? WHERE conversation = ?').run(expires, conv);
      });
      write();
    });
  }

  /** Removes every expired row; call from a timer if the file should not grow with abandoned conversations. */
  purgeExpired(): number {
    try {
      return this.#database().prepare('DELETE FROM perimeter_vault WHERE expires_at <= ?').run(this.#now()).changes;
    } catch (err) {
      throw unavailable(err);
    }
  }

  async close(): Promise<void> {
    this.#db?.close();
    this.#db = undefined;
  }

  /** Opened on first use, so constructing the vault (at startup) does no I/O. */
  #database(): Database.Database {
    if (this.#db !== undefined) return this.#db;
    const db = new Database(this.#path, { timeout: 2_000 });
    db.pragma('journal_mode = WAL');
    db.exec(`CREATE TABLE IF NOT EXISTS perimeter_vault (
      conversation TEXT NOT NULL,
      placeholder TEXT NOT NULL,
      kid TEXT NOT NULL,
      blob TEXT NOT NULL,
      expires_at INTEGER NOT NULL,
      PRIMARY KEY (conversation, placeholder)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS perimeter_vault_expiry ON perimeter_vault (expires_at);`);
    this.#db = db;
    return db;
  }
}

function aad(conversation: string, id: string): string {
  return `${conversation}\u0000${id}`;
}
