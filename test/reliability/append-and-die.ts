import Database from 'better-sqlite3';
import { AuditLog } from '../../src/record/audit.js';
import { SharedSqlite, SqliteAuditStore } from '../../src/record/sqlite/sqlite-store.js';

/**
 * Run as a child process by crash.test.ts: appends one audit entry to the database
 * named by PERIMETER_APPEND_AND_DIE_DB, prints it, and dies by SIGKILL, so its
 * transaction is the last one in the WAL and nothing checkpoints it.
 */
async function appendAndDie(path: string, deploymentId: string): Promise<void> {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('wal_autocheckpoint = 0');
  const store = new SqliteAuditStore(new SharedSqlite(db));
  const log = new AuditLog(store, { deploymentId });
  const [entry] = await log.append({ kind: 'admin', action: 'torn.probe', actor: 'crash-test', subject: 'last-transaction' });
  process.stdout.write(`${JSON.stringify({ seq: entry?.seq, hash: entry?.hash })}\n`, () => process.kill(process.pid, 'SIGKILL'));
}

const path = process.env.PERIMETER_APPEND_AND_DIE_DB;
if (path !== undefined) void appendAndDie(path, process.env.PERIMETER_APPEND_AND_DIE_DEPLOYMENT ?? 'default');
