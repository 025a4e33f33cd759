import pg from 'pg';
import type { ApiKeyRecord } from '../api-key.js';
import { decodeRow, encodeGrant } from './codec.js';
import { KeyStoreError, type KeyStore } from './key-store.js';

interface Row {
  id: string;
  hash: string;
  prefix: string;
  owner: string;
  team: string | null;
  roles: unknown;
  workload: string | null;
  models: unknown;
  tiers: unknown;
  limits: unknown;
  description: string | null;
  rotated_from: string | null;
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
}

const TABLE = /^[a-z_][a-z0-9_]{0,62}$/;

export interface PostgresKeyStoreOptions {
  connectionString: string;
  /** Validated as a plain identifier, since it is interpolated into SQL. */
  table?: string;
  /** Pool size; lookups are single indexed reads. */
  max?: number;
}

/** The store for several instances: every one reads the same table, so a revocation is global at commit. */
export class PostgresKeyStore implements KeyStore {
  readonly #pool: pg.Pool;
  readonly #table: string;

  private constructor(pool: pg.Pool, table: string) {
    this.#pool = pool;
    this.#table = table;
  }

  /** Connects and creates the table if needed. */
  static async open(options: PostgresKeyStoreOptions): Promise<PostgresKeyStore> {
    const table = options.table ?? 'perimeter_api_keys';
    if (!TABLE.test(table)) throw new KeyStoreError('corrupt', `invalid table name "${table}"`);
    const pool = new pg.Pool({ connectionString: options.connectionString, max: options.max ?? 10 });
    // An idle client's error (server restart) must not crash the process; the next query reconnects.
    pool.on('error', () => undefined);
    const store = new PostgresKeyStore(pool, table);
    try {
      await store.#query(`CREATE TABLE IF NOT EXISTS ${table} (
        id text PRIMARY KEY,
        hash text NOT NULL UNIQUE,
        prefix text NOT NULL,
        owner text NOT NULL,
        team text,
        roles jsonb NOT NULL,
        workload text,
        models jsonb NOT NULL,
        tiers jsonb NOT NULL,
        limits jsonb NOT NULL,
        description text,
        rotated_from text,
        created_at timestamptz NOT NULL,
        expires_at timestamptz,
        revoked_at timestamptz
      )`);
    } catch (err) {
      await pool.end();
      throw err;
    }
    return store;
  }

  async insert(record: ApiKeyRecord): Promise<void> {
    const g = encodeGrant(record);
    try {
      await this.#pool.query(
        `INSERT INTO ${this.#table} (id, hash, prefix, owner, team, roles, workload, models, tiers, limits, description, rotated_from, created_at, expires_at, revoked_at)
         VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8::jsonb, $9::jsonb, $10::jsonb, $11, $12, $13, $14, $15)`,
        [
          record.id, record.hash, record.prefix, record.owner, record.team ?? null, g.roles, record.workload ?? null,
          g.models, g.tiers, g.limits, record.description ?? null, record.rotatedFrom ?? null,
          record.createdAt, record.expiresAt ?? null, record.revokedAt ?? null,
        ],
      );
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw new KeyStoreError('duplicate', `key ${record.id} already exists`, { cause: err });
      throw new KeyStoreError('unavailable', 'key store write failed', { cause: err });
    }
  }

  async findByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    const r = await this.#query(`SELECT * FROM ${this.#table} WHERE hash = $1`, [hash]);
    return r.rows[0] === undefined ? undefined : fromRow(r.rows[0]);
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    const r = await this.#query(`SELECT * FROM ${this.#table} WHERE id = $1`, [id]);
    return r.rows[0] === undefined ? undefined : fromRow(r.rows[0]);
  }

  async list(): Promise<ApiKeyRecord[]> {
    const r = await this.#query(`SELECT * FROM ${this.#table} ORDER BY created_at, id`);
    return r.rows.map(fromRow);
  }

  async revoke(id: string, at: Date): Promise<ApiKeyRecord | undefined> {
    // One statement, so two concurrent revocations cannot push the instant later.
    const r = await this.#query(
      `UPDATE ${this.#table} SET revoked_at = CASE WHEN revoked_at IS NULL OR revoked_at > $2 THEN $2 ELSE revoked_at END
       WHERE id = $1 RETURNING *`,
      [id, at],
    );
    return r.rows[0] === undefined ? undefined : fromRow(r.rows[0]);
  }

  /** Test clean-up: drops this store's table. */
  async dropTable(): Promise<void> {
    await this.#query(`DROP TABLE IF EXISTS ${this.#table}`);
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }

  async #query(text: string, values: unknown[] = []): Promise<pg.QueryResult<Row>> {
    try {
      return await this.#pool.query<Row>(text, values);
    } catch (err) {
      throw new KeyStoreError('unavailable', 'key store query failed', { cause: err });
    }
  }
}

function fromRow(row: Row): ApiKeyRecord {
  return decodeRow(row, { createdAt: row.created_at, expiresAt: row.expires_at ?? undefined, revokedAt: row.revoked_at ?? undefined });
}
