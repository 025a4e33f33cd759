import pg from 'pg';
import { storedText, type AuditEntry, type AuditEvent, type AuditScanFilter, type AuditStore, type ChainHead, type StoredAuditEntry } from '../audit.js';
import type { DecisionRecord } from '../decision-record.js';
import {
  AGGREGATE_SELECT,
  clampLimit,
  percentileSql,
  seriesSql,
  sortAggregates,
  sortPercentiles,
  sortSeries,
  toPercentiles,
  toSeries,
  type PercentileRow,
  type SeriesRow,
  filterSql,
  groupSql,
  ROW_COLUMNS,
  toAggregate,
  toRow,
  type AggregateRow,
  type GroupKey,
  type RecordFilter,
  type RecordPage,
  type RecordStore,
} from '../store.js';

export interface PostgresOptions {
  /** Connection string; resolved from a secret ref by the caller when it holds a password. */
  readonly url: string;
  /** Tables live here; created if missing. Tests use a throwaway schema per run. */
  readonly schema?: string;
  readonly poolSize?: number;
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

function migrations(s: string): Readonly<Record<'records' | 'audit', readonly string[]>> {
  return {
    records: [
      `CREATE TABLE ${s}.decision_records (
         request_id TEXT PRIMARY KEY,
         time_ms BIGINT NOT NULL,
         day TEXT NOT NULL,
         deployment_id TEXT NOT NULL,
         principal_id TEXT NOT NULL,
         team TEXT,
         workload TEXT,
         model TEXT,
         backend TEXT,
         tier TEXT,
         level TEXT,
         capability TEXT,
         status TEXT NOT NULL,
         error_code TEXT,
         input_tokens BIGINT NOT NULL,
         output_tokens BIGINT NOT NULL,
         estimated SMALLINT NOT NULL,
         cost DOUBLE PRECISION NOT NULL,
         latency_ms DOUBLE PRECISION NOT NULL,
         ttft_ms DOUBLE PRECISION,
         overhead_ms DOUBLE PRECISION,
         matched_rules JSONB NOT NULL,
         body TEXT NOT NULL
       )`,
      `CREATE INDEX decision_records_time ON ${s}.decision_records (time_ms)`,
      `CREATE INDEX decision_records_tier_level ON ${s}.decision_records (tier, level, time_ms)`,
      `CREATE INDEX decision_records_team ON ${s}.decision_records (team, time_ms)`,
      `CREATE INDEX decision_records_workload ON ${s}.decision_records (workload, time_ms)`,
      `CREATE INDEX decision_records_rules ON ${s}.decision_records USING GIN (matched_rules)`,
    ],
    audit: [
      `CREATE TABLE ${s}.audit_log (
         position BIGSERIAL PRIMARY KEY,
         seq BIGINT NOT NULL,
         time_ms BIGINT NOT NULL,
         kind TEXT NOT NULL,
         entry TEXT NOT NULL
       )`,
      `CREATE INDEX audit_log_time ON ${s}.audit_log (time_ms)`,
      // Append-only for every role that does not own the table's triggers; verify() is the real check.
      `CREATE FUNCTION ${s}.audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$`,
      `CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON ${s}.audit_log
       FOR EACH ROW EXECUTE FUNCTION ${s}.audit_log_append_only()`,
    ],
  };
}

/** Renumbers `?` placeholders to `$1..$n` (no caller text is ever in the SQL, so no quoting concerns). */
function numbered(sql: string, offset = 0): string {
  let i = offset;
  return sql.replace(/\?/g, () => `$${++i}`);
}

/** Shared pool and migration runner for the record and audit stores. */
export class PostgresDatabase {
  readonly pool: pg.Pool;
  readonly schema: string;
  #refs = 0;

  constructor(options: PostgresOptions) {
    const schema = options.schema ?? 'public';
    if (!IDENT.test(schema)) throw new Error(`postgres schema "${schema}" is not a plain lowercase identifier`);
    this.schema = schema;
    this.pool = new pg.Pool({ connectionString: options.url, max: options.poolSize ?? 4 });
    // An idle client's error (server restart) must not crash the process; the next query reconnects.
    this.pool.on('error', () => undefined);
  }

  retain(): this {
    this.#refs++;
    return this;
  }

  async release(): Promise<void> {
    this.#refs--;
    if (this.#refs <= 0) await this.pool.end();
  }

  async migrate(component: 'records' | 'audit'): Promise<void> {
    const s = this.schema;
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // Several instances may start at once; one migrates, the others wait and find it done.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`perimeter-migrate:${s}`]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${s}.perimeter_schema_migrations (
        component TEXT NOT NULL, version INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (component, version))`);
      const res = await client.query<{ v: number | null }>(`SELECT MAX(version) AS v FROM ${s}.perimeter_schema_migrations WHERE component = $1`, [component]);
      const steps = migrations(s)[component];
      for (let v = (res.rows[0]?.v ?? 0) + 1; v <= steps.length; v++) {
        await client.query(steps[v - 1] as string);
        await client.query(`INSERT INTO ${s}.perimeter_schema_migrations (component, version) VALUES ($1, $2)`, [component, v]);
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async schemaVersion(component: 'records' | 'audit'): Promise<number> {
    const res = await this.pool.query<{ v: number | null }>(`SELECT MAX(version) AS v FROM ${this.schema}.perimeter_schema_migrations WHERE component = $1`, [component]);
    return res.rows[0]?.v ?? 0;
  }
}

// Containment rather than jsonb's `?` operator, which would clash with the placeholders.
const RULE_CLAUSE = 'matched_rules @> jsonb_build_array(?::text)';

export class PostgresRecordStore implements RecordStore {
  readonly kind = 'postgres' as const;
  readonly database: PostgresDatabase;

  constructor(db: PostgresDatabase | PostgresOptions) {
    this.database = (db instanceof PostgresDatabase ? db : new PostgresDatabase(db)).retain();
  }

  async migrate(): Promise<void> {
    await this.database.migrate('records');
  }

  async append(records: readonly DecisionRecord[]): Promise<void> {
    if (records.length === 0) return;
    const cols = ROW_COLUMNS;
    const params: unknown[] = [];
    const tuples: string[] = [];
    for (const r of records) {
      const row = toRow(r);
      const start = params.length;
      for (const c of cols) params.push(row[c]);
      tuples.push(`(${cols.map((c, i) => (c === 'matched_rules' ? `$${start + i + 1}::jsonb` : `$${start + i + 1}`)).join(', ')})`);
    }
    // One statement per batch: one round trip, atomic, and idempotent on retry.
    await this.database.pool.query(
      `INSERT INTO ${this.database.schema}.decision_records (${cols.join(', ')}) VALUES ${tuples.join(', ')} ON CONFLICT (request_id) DO NOTHING`,
      params,
    );
  }

  async query(filter: RecordFilter, page?: RecordPage): Promise<DecisionRecord[]> {
    const { where, params } = this.#filter(filter);
    const { limit, offset } = clampLimit(page);
    const res = await this.database.pool.query<{ body: string }>(
      numbered(`SELECT body FROM ${this.database.schema}.decision_records ${where} ORDER BY time_ms DESC, request_id DESC LIMIT ? OFFSET ?`),
      [...params, limit, offset],
    );
    return res.rows.map((r) => JSON.parse(r.body) as DecisionRecord);
  }

  async count(filter: RecordFilter): Promise<number> {
    const { where, params } = this.#filter(filter);
    const res = await this.database.pool.query<{ n: string }>(numbered(`SELECT COUNT(*) AS n FROM ${this.database.schema}.decision_records ${where}`), params);
    return Number(res.rows[0]?.n ?? 0);
  }

  async aggregate(filter: RecordFilter, groupBy: readonly GroupKey[]): Promise<AggregateRow[]> {
    const { where, params } = this.#filter(filter);
    const g = groupSql(groupBy);
    const res = await this.database.pool.query<Record<string, unknown>>(
      numbered(`SELECT ${g.select}${AGGREGATE_SELECT} FROM ${this.database.schema}.decision_records ${where} ${g.group}`),
      params,
    );
    return sortAggregates(res.rows.filter((r) => Number(r.requests) > 0).map((r) => toAggregate(r, groupBy)), groupBy);
  }

  async series(filter: RecordFilter, bucketMs: number, groupBy: readonly GroupKey[]): Promise<SeriesRow[]> {
    const { where, params } = this.#filter(filter);
    const res = await this.database.pool.query<Record<string, unknown>>(numbered(seriesSql(`${this.database.schema}.decision_records`, where, bucketMs, groupBy)), params);
    return sortSeries(res.rows.map((r) => toSeries(r, groupBy)), groupBy);
  }

  async latencyPercentiles(filter: RecordFilter, groupBy: readonly GroupKey[], percents: readonly number[]): Promise<PercentileRow[]> {
    const { where, params } = this.#filter(filter);
    const res = await this.database.pool.query<Record<string, unknown>>(numbered(percentileSql(`${this.database.schema}.decision_records`, where, groupBy, percents)), params);
    return sortPercentiles(res.rows.filter((r) => Number(r.requests ?? 0) > 0).map((r) => toPercentiles(r, groupBy, percents)), groupBy);
  }

  async purge(beforeMs: number): Promise<number> {
    const res = await this.database.pool.query(`DELETE FROM ${this.database.schema}.decision_records WHERE time_ms < $1`, [beforeMs]);
    return res.rowCount ?? 0;
  }

  async close(): Promise<void> {
    await this.database.release();
  }

  #filter(filter: RecordFilter): { where: string; params: (string | number)[] } {
    return filterSql(filter, RULE_CLAUSE);
  }
}

export class PostgresAuditStore implements AuditStore {
  readonly kind = 'postgres' as const;
  readonly database: PostgresDatabase;

  constructor(db: PostgresDatabase | PostgresOptions) {
    this.database = (db instanceof PostgresDatabase ? db : new PostgresDatabase(db)).retain();
  }

  async migrate(): Promise<void> {
    await this.database.migrate('audit');
  }

  async appendChained(events: readonly AuditEvent[], seal: (event: AuditEvent, prev: ChainHead | undefined) => AuditEntry): Promise<AuditEntry[]> {
    const s = this.database.schema;
    const client = await this.database.pool.connect();
    try {
      await client.query('BEGIN');
      // Every instance sharing this database serialises on one lock per chain.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`perimeter-audit:${s}`]);
      const res = await client.query<{ entry: string }>(`SELECT entry FROM ${s}.audit_log ORDER BY position DESC LIMIT 1`);
      let prev = headOf(res.rows[0]?.entry);
      const out: AuditEntry[] = [];
      for (const event of events) {
        const entry = seal(event, prev);
        out.push(entry);
        prev = { seq: entry.seq, hash: entry.hash };
      }
      if (out.length > 0) {
        const params: unknown[] = [];
        const tuples = out.map((e) => {
          params.push(e.seq, e.timeMs, e.kind, storedText(e));
          const n = params.length;
          return `($${n - 3}, $${n - 2}, $${n - 1}, $${n})`;
        });
        await client.query(`INSERT INTO ${s}.audit_log (seq, time_ms, kind, entry) VALUES ${tuples.join(', ')}`, params);
      }
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async scan(afterPosition: number, limit: number, filter: AuditScanFilter = {}): Promise<StoredAuditEntry[]> {
    const parts = ['position > ?'];
    const params: (string | number)[] = [afterPosition];
    if (filter.since !== undefined) {
      parts.push('time_ms >= ?');
      params.push(filter.since);
    }
    if (filter.until !== undefined) {
      parts.push('time_ms < ?');
      params.push(filter.until);
    }
    if (filter.kind !== undefined) {
      parts.push('kind = ?');
      params.push(filter.kind);
    }
    const res = await this.database.pool.query<{ position: string; entry: string }>(
      numbered(`SELECT position, entry FROM ${this.database.schema}.audit_log WHERE ${parts.join(' AND ')} ORDER BY position LIMIT ?`),
      [...params, limit],
    );
    return res.rows.map((r) => ({ position: Number(r.position), entry: parseOrNull(r.entry) }));
  }

  async close(): Promise<void> {
    await this.database.release();
  }
}

function headOf(text: string | undefined): ChainHead | undefined {
  if (text === undefined) return undefined;
  const e = parseOrNull(text);
  if (e === null || typeof e !== 'object') return undefined;
  const { seq, hash } = e as { seq?: unknown; hash?: unknown };
  return typeof seq === 'number' && typeof hash === 'string' ? { seq, hash } : undefined;
}

function parseOrNull(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}
