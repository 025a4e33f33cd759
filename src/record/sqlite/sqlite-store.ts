import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
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

type Db = Database.Database;

/** Ordered migrations per component; a version table records which have run. */
const MIGRATIONS: Readonly<Record<'records' | 'audit', readonly string[]>> = {
  records: [
    `CREATE TABLE decision_records (
       request_id TEXT PRIMARY KEY,
       time_ms INTEGER NOT NULL,
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
       input_tokens INTEGER NOT NULL,
       output_tokens INTEGER NOT NULL,
       estimated INTEGER NOT NULL,
       cost REAL NOT NULL,
       latency_ms REAL NOT NULL,
       ttft_ms REAL,
       overhead_ms REAL,
       matched_rules TEXT NOT NULL,
       body TEXT NOT NULL
     ) STRICT`,
    `CREATE INDEX decision_records_time ON decision_records (time_ms)`,
    `CREATE INDEX decision_records_tier_level ON decision_records (tier, level, time_ms)`,
    `CREATE INDEX decision_records_team ON decision_records (team, time_ms)`,
    `CREATE INDEX decision_records_workload ON decision_records (workload, time_ms)`,
  ],
  audit: [
    // position is the storage order verify walks; seq is the chain's own numbering.
    `CREATE TABLE audit_log (
       position INTEGER PRIMARY KEY AUTOINCREMENT,
       seq INTEGER NOT NULL,
       time_ms INTEGER NOT NULL,
       kind TEXT NOT NULL,
       entry TEXT NOT NULL
     ) STRICT`,
    `CREATE INDEX audit_log_time ON audit_log (time_ms)`,
    // Append-only at the database level too: an honest process cannot rewrite history by
    // mistake. (Someone with file access can drop the triggers; verify() is what catches that.)
    `CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END`,
    `CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END`,
  ],
};

/**
 * Opens (creating if needed) a SQLite database in WAL mode: readers (reports, UI)
 * do not block the batch writer, and a crash loses at most the last transaction.
 */
export function openSqlite(path: string): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  return db;
}

function migrate(db: Db, component: 'records' | 'audit'): void {
  db.exec(`CREATE TABLE IF NOT EXISTS perimeter_schema_migrations (
    component TEXT NOT NULL,
    version INTEGER NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (component, version)
  )`);
  const steps = MIGRATIONS[component];
  const run = db.transaction(() => {
    const row = db.prepare('SELECT MAX(version) AS v FROM perimeter_schema_migrations WHERE component = ?').get(component) as { v: number | null };
    const current = row.v ?? 0;
    for (let v = current + 1; v <= steps.length; v++) {
      db.exec(steps[v - 1] as string);
      db.prepare('INSERT INTO perimeter_schema_migrations (component, version, applied_at) VALUES (?, ?, ?)').run(component, v, new Date().toISOString());
    }
  });
  run.immediate();
}

/** One database shared by the record and audit stores; closed when the last user releases it. */
export class SharedSqlite {
  readonly db: Db;
  #refs = 0;
  constructor(pathOrDb: string | Db) {
    this.db = typeof pathOrDb === 'string' ? openSqlite(pathOrDb) : pathOrDb;
  }
  retain(): this {
    this.#refs++;
    return this;
  }
  release(): void {
    this.#refs--;
    if (this.#refs <= 0 && this.db.open) this.db.close();
  }
}

/** The version each component's schema is at; for tests and `perimeter validate`. */
export function sqliteSchemaVersion(db: Db, component: 'records' | 'audit'): number {
  const row = db.prepare('SELECT MAX(version) AS v FROM perimeter_schema_migrations WHERE component = ?').get(component) as { v: number | null } | undefined;
  return row?.v ?? 0;
}

export class SqliteRecordStore implements RecordStore {
  readonly kind = 'sqlite' as const;
  readonly db: Db;
  readonly #shared: SharedSqlite;
  #insert: Database.Statement | undefined;

  /** A path opens the database; a SharedSqlite shares it with the audit store. */
  constructor(pathOrShared: string | SharedSqlite) {
    this.#shared = (typeof pathOrShared === 'string' ? new SharedSqlite(pathOrShared) : pathOrShared).retain();
    this.db = this.#shared.db;
  }

  async migrate(): Promise<void> {
    migrate(this.db, 'records');
    this.#insert = this.db.prepare(
      `INSERT INTO decision_records (${ROW_COLUMNS.join(', ')}) VALUES (${ROW_COLUMNS.map((c) => `@${c}`).join(', ')})
       ON CONFLICT (request_id) DO NOTHING`,
    );
  }

  async append(records: readonly DecisionRecord[]): Promise<void> {
    const insert = this.#insert;
    if (insert === undefined) throw new Error('SqliteRecordStore: call migrate() first');
    this.db.transaction(() => {
      for (const r of records) insert.run(toRow(r));
    })();
  }

  async query(filter: RecordFilter, page?: RecordPage): Promise<DecisionRecord[]> {
    const { where, params } = filterSql(filter, RULE_CLAUSE);
    const { limit, offset } = clampLimit(page);
    const rows = this.db
      .prepare(`SELECT body FROM decision_records ${where} ORDER BY time_ms DESC, request_id DESC LIMIT ? OFFSET ?`)
      .all(...params, limit, offset) as { body: string }[];
    return rows.map((r) => JSON.parse(r.body) as DecisionRecord);
  }

  async count(filter: RecordFilter): Promise<number> {
    const { where, params } = filterSql(filter, RULE_CLAUSE);
    const row = this.db.prepare(`SELECT COUNT(*) AS n FROM decision_records ${where}`).get(...params) as { n: number };
    return row.n;
  }

  async aggregate(filter: RecordFilter, groupBy: readonly GroupKey[]): Promise<AggregateRow[]> {
    const { where, params } = filterSql(filter, RULE_CLAUSE);
    const g = groupSql(groupBy);
    const rows = this.db.prepare(`SELECT ${g.select}${AGGREGATE_SELECT} FROM decision_records ${where} ${g.group}`).all(...params) as Record<string, unknown>[];
    return sortAggregates(rows.filter((r) => Number(r.requests) > 0).map((r) => toAggregate(r, groupBy)), groupBy);
  }

  async series(filter: RecordFilter, bucketMs: number, groupBy: readonly GroupKey[]): Promise<SeriesRow[]> {
    const { where, params } = filterSql(filter, RULE_CLAUSE);
    const rows = this.db.prepare(seriesSql('decision_records', where, bucketMs, groupBy)).all(...params) as Record<string, unknown>[];
    return sortSeries(rows.map((r) => toSeries(r, groupBy)), groupBy);
  }

  async latencyPercentiles(filter: RecordFilter, groupBy: readonly GroupKey[], percents: readonly number[]): Promise<PercentileRow[]> {
    const { where, params } = filterSql(filter, RULE_CLAUSE);
    const rows = this.db.prepare(percentileSql('decision_records', where, groupBy, percents)).all(...params) as Record<string, unknown>[];
    return sortPercentiles(rows.filter((r) => Number(r.requests ?? 0) > 0).map((r) => toPercentiles(r, groupBy, percents)), groupBy);
  }

  async purge(beforeMs: number): Promise<number> {
    return this.db.prepare('DELETE FROM decision_records WHERE time_ms < ?').run(beforeMs).changes;
  }

  async close(): Promise<void> {
    this.#shared.release();
  }
}

const RULE_CLAUSE = 'EXISTS (SELECT 1 FROM json_each(matched_rules) WHERE json_each.value = ?)';

export class SqliteAuditStore implements AuditStore {
  readonly kind = 'sqlite' as const;
  readonly db: Db;
  readonly #shared: SharedSqlite;

  constructor(pathOrShared: string | SharedSqlite) {
    this.#shared = (typeof pathOrShared === 'string' ? new SharedSqlite(pathOrShared) : pathOrShared).retain();
    this.db = this.#shared.db;
  }

  async migrate(): Promise<void> {
    migrate(this.db, 'audit');
  }

  async appendChained(events: readonly AuditEvent[], seal: (event: AuditEvent, prev: ChainHead | undefined) => AuditEntry): Promise<AuditEntry[]> {
    const last = this.db.prepare('SELECT entry FROM audit_log ORDER BY position DESC LIMIT 1');
    const insert = this.db.prepare('INSERT INTO audit_log (seq, time_ms, kind, entry) VALUES (?, ?, ?, ?)');
    const tx = this.db.transaction(() => {
      const row = last.get() as { entry: string } | undefined;
      let prev = row === undefined ? undefined : headOf(row.entry);
      const out: AuditEntry[] = [];
      for (const event of events) {
        const entry = seal(event, prev);
        insert.run(entry.seq, entry.timeMs, entry.kind, storedText(entry));
        prev = { seq: entry.seq, hash: entry.hash };
        out.push(entry);
      }
      return out;
    });
    // IMMEDIATE takes the write lock before reading the head, so two processes cannot both extend it.
    return tx.immediate();
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
    const rows = this.db
      .prepare(`SELECT position, entry FROM audit_log WHERE ${parts.join(' AND ')} ORDER BY position LIMIT ?`)
      .all(...params, limit) as { position: number; entry: string }[];
    return rows.map((r) => ({ position: r.position, entry: parseOrNull(r.entry) }));
  }

  async close(): Promise<void> {
    this.#shared.release();
  }
}

export function headOf(text: string): ChainHead | undefined {
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
