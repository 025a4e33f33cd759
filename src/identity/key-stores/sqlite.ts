import Database from 'better-sqlite3';
import type { ApiKeyRecord } from '../api-key.js';
import { decodeRow, encodeGrant } from './codec.js';
import { earlierRevocation, KeyStoreError, type KeyStore } from './key-store.js';

interface Row {
  id: string;
  hash: string;
  prefix: string;
  owner: string;
  team: string | null;
  roles: string;
  workload: string | null;
  models: string;
  tiers: string;
  limits: string;
  description: string | null;
  rotated_from: string | null;
  created_ms: number;
  expires_ms: number | null;
  revoked_ms: number | null;
}

/**
 * A single-file store for one instance, or several on one host: SQLite's WAL mode
 * lets other processes see a revocation as soon as it commits.
 */
export class SqliteKeyStore implements KeyStore {
  readonly #db: Database.Database;
  readonly #insert: Database.Statement;
  readonly #byHash: Database.Statement<[string], Row>;
  readonly #byId: Database.Statement<[string], Row>;
  readonly #all: Database.Statement<[], Row>;
  readonly #revoke: Database.Statement<[number, string, number]>;

  constructor(path: string) {
    this.#db = new Database(path);
    this.#db.pragma('journal_mode = WAL');
    // Another process may hold the write lock briefly (key creation); wait instead of failing.
    this.#db.pragma('busy_timeout = 2000');
    this.#db.exec(`CREATE TABLE IF NOT EXISTS api_keys (
      id TEXT PRIMARY KEY,
      hash TEXT NOT NULL UNIQUE,
      prefix TEXT NOT NULL,
      owner TEXT NOT NULL,
      team TEXT,
      roles TEXT NOT NULL,
      workload TEXT,
      models TEXT NOT NULL,
      tiers TEXT NOT NULL,
      limits TEXT NOT NULL,
      description TEXT,
      rotated_from TEXT,
      created_ms INTEGER NOT NULL,
      expires_ms INTEGER,
      revoked_ms INTEGER
    ) STRICT`);
    this.#insert = this.#db.prepare(`INSERT INTO api_keys
      (id, hash, prefix, owner, team, roles, workload, models, tiers, limits, description, rotated_from, created_ms, expires_ms, revoked_ms)
      VALUES (@id, @hash, @prefix, @owner, @team, @roles, @workload, @models, @tiers, @limits, @description, @rotated_from, @created_ms, @expires_ms, @revoked_ms)`);
    this.#byHash = this.#db.prepare('SELECT * FROM api_keys WHERE hash = ?');
    this.#byId = this.#db.prepare('SELECT * FROM api_keys WHERE id = ?');
    this.#all = this.#db.prepare('SELECT * FROM api_keys ORDER BY created_ms, id');
    this.#revoke = this.#db.prepare('UPDATE api_keys SET revoked_ms = ? WHERE id = ? AND (revoked_ms IS NULL OR revoked_ms > ?)');
  }

  async insert(record: ApiKeyRecord): Promise<void> {
    try {
      this.#insert.run({
        id: record.id,
        hash: record.hash,
        prefix: record.prefix,
        owner: record.owner,
        team: record.team ?? null,
        workload: record.workload ?? null,
        description: record.description ?? null,
        rotated_from: record.rotatedFrom ?? null,
        created_ms: record.createdAt.getTime(),
        expires_ms: record.expiresAt?.getTime() ?? null,
        revoked_ms: record.revokedAt?.getTime() ?? null,
        ...encodeGrant(record),
      });
    } catch (err) {
      if ((err as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT') === true) {
        throw new KeyStoreError('duplicate', `key ${record.id} already exists`, { cause: err });
      }
      throw new KeyStoreError('unavailable', 'key store write failed', { cause: err });
    }
  }

  async findByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    const row = this.#byHash.get(hash);
    return row === undefined ? undefined : fromRow(row);
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    const row = this.#byId.get(id);
    return row === undefined ? undefined : fromRow(row);
  }

  async list(): Promise<ApiKeyRecord[]> {
    return this.#all.all().map(fromRow);
  }

  async revoke(id: string, at: Date): Promise<ApiKeyRecord | undefined> {
    const ms = earlierRevocation(undefined, at).getTime();
    this.#revoke.run(ms, id, ms);
    return this.get(id);
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}

function fromRow(row: Row): ApiKeyRecord {
  return decodeRow(row, {
    createdAt: new Date(row.created_ms),
    expiresAt: row.expires_ms === null ? undefined : new Date(row.expires_ms),
    revokedAt: row.revoked_ms === null ? undefined : new Date(row.revoked_ms),
  });
}
