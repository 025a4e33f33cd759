import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { AuditLog, type AuditStore } from '../../src/record/audit.js';
import { PostgresAuditStore, PostgresDatabase, PostgresRecordStore } from '../../src/record/postgres/postgres-store.js';
import { SharedSqlite, SqliteAuditStore, SqliteRecordStore, sqliteSchemaVersion } from '../../src/record/sqlite/sqlite-store.js';
import type { RecordStore } from '../../src/record/store.js';
import { dropSchema, PG_URL, sampleRecord, tempDir, uniqueSchema } from './support.js';

/** Runs raw SQL against the store's database, as someone with direct access would (tampering tests). */
type RawSql = (sql: string) => Promise<void>;

interface Harness {
  readonly name: string;
  open(): Promise<{ records: RecordStore; audit: AuditStore; raw: RawSql; version: (c: 'records' | 'audit') => Promise<number> }>;
  cleanup(): Promise<void>;
}

function sqliteHarness(): Harness {
  const tmp = tempDir();
  let n = 0;
  return {
    name: 'sqlite',
    async open() {
      const shared = new SharedSqlite(`${tmp.dir}/db-${n++}.sqlite`);
      const db = shared.db;
      return {
        records: new SqliteRecordStore(shared),
        audit: new SqliteAuditStore(shared),
        raw: async (sql) => {
          db.exec(sql);
        },
        version: async (c) => sqliteSchemaVersion(db, c),
      };
    },
    async cleanup() {
      tmp.cleanup();
    },
  };
}

function postgresHarness(): Harness {
  const schemas: string[] = [];
  return {
    name: 'postgres',
    async open() {
      const schema = uniqueSchema('perimeter_contract');
      schemas.push(schema);
      const db = new PostgresDatabase({ url: PG_URL, schema, poolSize: 2 });
      return {
        records: new PostgresRecordStore(db),
        audit: new PostgresAuditStore(db),
        raw: async (sql) => {
          const c = new pg.Client({ connectionString: PG_URL });
          await c.connect();
          try {
            await c.query(`SET search_path TO ${schema}`);
            await c.query(sql);
          } finally {
            await c.end();
          }
        },
        version: (c) => db.schemaVersion(c),
      };
    },
    async cleanup() {
      for (const s of schemas) await dropSchema(s);
    },
  };
}

const T0 = Date.parse('2025-03-01T12:00:00.000Z');

for (const harness of [sqliteHarness(), postgresHarness()]) {
  describe(`record store contract: ${harness.name}`, () => {
    let h: Awaited<ReturnType<Harness['open']>>;
    before(async () => {
      h = await harness.open();
      await h.records.migrate();
      await h.records.migrate(); // idempotent
      await h.audit.migrate();
      await h.records.append([
        sampleRecord(1, { tier: 'on-prem', level: 'regulated', team: 'care', workload: 'support-bot', rules: ['secrets-stay-on-prem'] }),
        sampleRecord(2, { tier: 'on-prem', level: 'confidential', team: 'care', workload: 'support-bot' }),
        sampleRecord(3, { tier: 'private-cloud', level: 'confidential', team: 'payments', workload: 'research', capability: 'frontier', rules: ['eu-only', 'secrets-stay-on-prem'] }),
        sampleRecord(4, { tier: 'public-api', level: 'public', team: 'payments', input: 1000, output: 500 }),
        sampleRecord(5, { level: 'regulated', status: 'rejected', team: 'care', rules: ['deny-x'] }),
        sampleRecord(6, { tier: 'public-api', level: 'internal', status: 'failed', timeMs: T0 + 86_400_000 * 3 }),
      ]);
    });
    after(async () => {
      await h.records.close();
      await h.audit.close();
      await harness.cleanup();
    });

    it('records its schema version', async () => {
      assert.equal(await h.version('records'), h.records.kind === 'sqlite' ? 5 : 6);
      assert.ok((await h.version('audit')) >= 4);
    });

    it('round-trips a record exactly', async () => {
      const original = sampleRecord(3, { tier: 'private-cloud', level: 'confidential', team: 'payments', workload: 'research', capability: 'frontier', rules: ['eu-only', 'secrets-stay-on-prem'] });
      const [back] = await h.records.query({ requestId: 'req-3' });
      assert.deepEqual(back, original);
    });

    it('is idempotent per request id', async () => {
      await h.records.append([sampleRecord(1, { tier: 'on-prem' })]);
      assert.equal(await h.records.count({}), 6);
    });

    it('filters by time, tier, level, rule, team, workload and status', async () => {
      const ids = async (f: Parameters<RecordStore['query']>[0]): Promise<string[]> => (await h.records.query(f)).map((r) => r.requestId).sort();
      assert.deepEqual(await ids({ since: T0 + 2000, until: T0 + 4500 }), ['req-2', 'req-3', 'req-4']);
      assert.deepEqual(await ids({ tier: 'on-prem' }), ['req-1', 'req-2']);
      assert.deepEqual(await ids({ level: 'regulated' }), ['req-1', 'req-5']);
      assert.deepEqual(await ids({ rule: 'secrets-stay-on-prem' }), ['req-1', 'req-3']);
      assert.deepEqual(await ids({ rule: 'secrets' }), [], 'rule ids match whole, not by prefix');
      assert.deepEqual(await ids({ team: 'care', level: 'regulated' }), ['req-1', 'req-5']);
      assert.deepEqual(await ids({ workload: 'research' }), ['req-3']);
      assert.deepEqual(await ids({ status: 'rejected' }), ['req-5']);
      assert.equal(await h.records.count({ status: 'failed' }), 1);
    });

    it('pages newest first', async () => {
      const page1 = await h.records.query({}, { limit: 2 });
      const page2 = await h.records.query({}, { limit: 2, offset: 2 });
      assert.deepEqual(page1.map((r) => r.requestId), ['req-6', 'req-5']);
      assert.deepEqual(page2.map((r) => r.requestId), ['req-4', 'req-3']);
    });

    it('aggregates by any grouping with the same numbers', async () => {
      const byTier = await h.records.aggregate({}, ['tier']);
      const onPrem = byTier.find((r) => r.key.tier === 'on-prem');
      assert.ok(onPrem);
      assert.equal(onPrem.requests, 2);
      assert.equal(onPrem.inputTokens, 200);
      assert.equal(onPrem.outputTokens, 100);
      assert.equal(onPrem.errors, 0);
      assert.ok(onPrem.cost > 0);
      assert.equal(onPrem.latencyAvgMs, 500);
      const none = byTier.find((r) => r.key.tier === null);
      assert.equal(none?.requests, 2);
      assert.equal(none?.errors, 2);
      assert.equal(none?.rejected, 1);
      const total = await h.records.aggregate({}, []);
      assert.equal(total.length, 1);
      assert.equal(total[0]?.requests, 6);
      const multi = await h.records.aggregate({ status: 'ok' }, ['workload', 'level', 'capability', 'tier']);
      assert.deepEqual(
        multi.map((r) => [r.key.workload, r.key.level, r.key.capability, r.key.tier, r.requests]),
        [
          ['research', 'confidential', 'frontier', 'private-cloud', 1],
          ['support-bot', 'confidential', 'basic', 'on-prem', 1],
          ['support-bot', 'regulated', 'basic', 'on-prem', 1],
          [null, 'public', 'basic', 'public-api', 1],
        ],
      );
      const byDay = await h.records.aggregate({}, ['day']);
      assert.deepEqual(byDay.map((r) => [r.key.day, r.requests]), [['2025-03-01', 5], ['2025-03-04', 1]]);
    });

    it('counts per time bucket and group, and nearest-rank latency percentiles', async () => {
      const hour = 3_600_000;
      const series = await h.records.series({}, hour, ['tier']);
      const bucket0 = Math.floor((T0 + 1000) / hour) * hour;
      assert.deepEqual(
        series.map((r) => [r.bucketMs, r.key.tier, r.requests, r.errors]),
        [
          [bucket0, 'on-prem', 2, 0],
          [bucket0, 'private-cloud', 1, 0],
          [bucket0, 'public-api', 1, 0],
          [bucket0, null, 1, 1],
          [Math.floor((T0 + 86_400_000 * 3) / hour) * hour, null, 1, 1],
        ],
      );
      assert.ok(series[2] !== undefined && series[2].cost > 0 && series[2].inputTokens === 1000);
      const total = await h.records.series({ status: 'ok' }, 86_400_000, []);
      assert.deepEqual(total.map((r) => r.requests), [4]);
      const p = await h.records.latencyPercentiles({}, ['tier'], [50, 95]);
      assert.deepEqual(p.map((r) => [r.key.tier, r.requests, r.latencyMs[50], r.latencyMs[95]]), [
        ['on-prem', 2, 500, 500],
        ['private-cloud', 1, 500, 500],
        ['public-api', 1, 500, 500],
        [null, 2, 500, 500],
      ]);
      assert.deepEqual(await h.records.latencyPercentiles({ tier: 'on-prem', level: 'public' }, ['tier'], [50]), []);
    });

    it('purges by retention', async () => {
      const n = await h.records.purge(T0 + 86_400_000);
      assert.equal(n, 5);
      assert.deepEqual((await h.records.query({})).map((r) => r.requestId), ['req-6']);
    });
  });

  describe(`audit store contract: ${harness.name}`, () => {
    let h: Awaited<ReturnType<Harness['open']>>;
    let log: AuditLog;
    before(async () => {
      h = await harness.open();
      await h.audit.migrate();
      await h.records.migrate();
      let t = T0;
      log = new AuditLog(h.audit, { deploymentId: 'dep-a', now: () => (t += 1000), pageSize: 3 });
    });
    after(async () => {
      await h.records.close();
      await h.audit.close();
      await harness.cleanup();
    });

    it('chains entries and verifies an empty and a full chain', async () => {
      assert.deepEqual(await log.verify(), { ok: true, entries: 0, head: undefined });
      const first = await log.append({ kind: 'admin', action: 'key.create', actor: 'admin-1', subject: 'key-9' });
      assert.equal(first[0]?.seq, 1);
      assert.equal(first[0]?.prevHash, '0'.repeat(64));
      const more = await log.append([
        { kind: 'policy', action: 'policy.update', actor: 'admin-1', subject: 'abc123', data: { from: 'aaa', to: 'abc123' } },
        { kind: 'key', action: 'key.delete', actor: 'admin-2', subject: 'key-9' },
        { kind: 'federation', action: 'peer.join', actor: 'system', subject: 'dep-b' },
      ]);
      assert.deepEqual(more.map((e) => e.seq), [2, 3, 4]);
      assert.equal(more[0]?.prevHash, first[0]?.hash);
      // Concurrent appends from one process stay one chain.
      await Promise.all(Array.from({ length: 8 }, (_, i) => log.append({ kind: 'decision', action: 'route', actor: `p${i}`, subject: `req-${i}`, data: { level: 'internal', tier: 'on-prem', status: 'ok' } })));
      const v = await log.verify();
      assert.equal(v.ok, true);
      assert.equal(v.entries, 12);
    });

    it('a second writer on the same database extends the same chain', async () => {
      const other = await harness.open();
      void other;
      // Same database, a fresh AuditLog instance (as another gateway instance would be).
      const second = new AuditLog(h.audit, { deploymentId: 'dep-a' });
      const [e] = await second.append({ kind: 'admin', action: 'config.reload', actor: 'system' });
      assert.equal(e?.seq, 13);
      assert.equal((await log.verify()).ok, true);
      await other.records.close();
      await other.audit.close();
    });

    it('exports JSONL and OCSF API Activity', async () => {
      const lines: string[] = [];
      for await (const l of log.export('jsonl')) lines.push(l);
      assert.equal(lines.length, 13);
      const ocsf: Record<string, unknown>[] = [];
      for await (const l of log.export('ocsf', { kind: 'key' })) ocsf.push(JSON.parse(l) as Record<string, unknown>);
      assert.equal(ocsf.length, 1);
      const o = ocsf[0] ?? {};
      assert.equal(o.class_uid, 6003);
      assert.equal(o.category_uid, 6);
      assert.equal(o.activity_id, 4);
      assert.equal(o.type_uid, 600304);
      assert.deepEqual(o.actor, { user: { uid: 'admin-2' } });
      assert.equal((o.unmapped as { seq: number }).seq, 3);
    });

    it('detects an edited entry and names where', async () => {
      await h.raw(DROP_GUARDS[harness.name] ?? '');
      await h.raw(`UPDATE audit_log SET entry = replace(entry, '"actor":"admin-2"', '"actor":"admin-3"') WHERE seq = 3`);
      const v = await log.verify();
      assert.equal(v.ok, false);
      if (v.ok) return;
      assert.equal(v.reason, 'hash_mismatch');
      assert.equal(v.expectedSeq, 3);
      assert.match(v.message, /position 3 \(expected seq 3\).*edited/);
      await h.raw(`UPDATE audit_log SET entry = replace(entry, '"actor":"admin-3"', '"actor":"admin-2"') WHERE seq = 3`);
      assert.equal((await log.verify()).ok, true);
    });

    it('detects reordering', async () => {
      await h.raw(`UPDATE audit_log SET entry = CASE seq WHEN 5 THEN (SELECT entry FROM audit_log WHERE seq = 6) ELSE (SELECT entry FROM audit_log WHERE seq = 5) END WHERE seq IN (5, 6)`);
      const v = await log.verify();
      assert.equal(v.ok, false);
      if (v.ok) return;
      assert.equal(v.reason, 'seq_mismatch');
      assert.equal(v.expectedSeq, 5);
    });

    it('detects a deleted entry, and a truncated tail given the recorded head', async () => {
      const h2 = await harness.open();
      await h2.audit.migrate();
      const log2 = new AuditLog(h2.audit, { deploymentId: 'dep-a' });
      for (let i = 0; i < 5; i++) await log2.append({ kind: 'admin', action: 'noop', actor: 'a' });
      const good = await log2.verify();
      assert.ok(good.ok && good.head !== undefined);
      const head = good.head;
      await h2.raw(DROP_GUARDS[harness.name] ?? '');
      await h2.raw('DELETE FROM audit_log WHERE seq = 2');
      const gap = await log2.verify();
      assert.equal(gap.ok, false);
      if (!gap.ok) {
        assert.equal(gap.expectedSeq, 2);
        assert.equal(gap.reason, 'seq_mismatch');
      }
      const h3 = await harness.open();
      await h3.audit.migrate();
      const log3 = new AuditLog(h3.audit, { deploymentId: 'dep-a' });
      for (let i = 0; i < 5; i++) await log3.append({ kind: 'admin', action: 'noop', actor: 'a' });
      const head3 = await log3.verify();
      assert.ok(head3.ok && head3.head !== undefined);
      await h3.raw(DROP_GUARDS[harness.name] ?? '');
      await h3.raw('DELETE FROM audit_log WHERE seq = 5');
      assert.equal((await log3.verify()).ok, true, 'without an anchor the shorter chain is self-consistent');
      const anchored = await log3.verify({ expectedHead: head3.head });
      assert.equal(anchored.ok, false);
      if (!anchored.ok) assert.equal(anchored.reason, 'head_mismatch');
      void head;
      for (const x of [h2, h3]) {
        await x.records.close();
        await x.audit.close();
      }
    });

    it('refuses UPDATE and DELETE while the guards are in place', async () => {
      const h4 = await harness.open();
      await h4.audit.migrate();
      await new AuditLog(h4.audit, { deploymentId: 'd' }).append({ kind: 'admin', action: 'noop', actor: 'a' });
      await assert.rejects(h4.raw('DELETE FROM audit_log'), /append-only/);
      await assert.rejects(h4.raw(`UPDATE audit_log SET kind = 'x'`), /append-only/);
      await h4.records.close();
      await h4.audit.close();
    });
  });
}

const DROP_GUARDS: Record<string, string> = {
  sqlite: 'DROP TRIGGER IF EXISTS audit_log_no_update; DROP TRIGGER IF EXISTS audit_log_no_delete;',
  postgres: 'DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log;',
};
