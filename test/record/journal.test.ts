import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AuditLog } from '../../src/record/audit.js';
import { claimSegment, Journal, orphanSegments } from '../../src/record/journal.js';
import { Recorder, recoverJournals } from '../../src/record/recorder.js';
import { SharedSqlite, SqliteAuditStore, SqliteRecordStore } from '../../src/record/sqlite/sqlite-store.js';
import { sampleRecord, tempDir } from './support.js';

/** A pid that certainly belonged to a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

async function openStores(dir: string): Promise<{ store: SqliteRecordStore; audit: AuditLog }> {
  const shared = new SharedSqlite(join(dir, 'records.db'));
  const store = new SqliteRecordStore(shared);
  const auditStore = new SqliteAuditStore(shared);
  await store.migrate();
  await auditStore.migrate();
  return { store, audit: new AuditLog(auditStore, { deploymentId: 'test' }) };
}

const QUEUE = { size: 10_000, batchSize: 100, flushIntervalMs: 20, whenFull: 'drop_oldest', writeRetries: 0, journal: true } as const;

describe('record journal', () => {
  it('deletes a sealed segment once every queue has written its records, and everything on close', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const { store, audit } = await openStores(dir);
      const journalDir = join(dir, 'journal');
      const recorder = new Recorder({
        queue: { ...QUEUE, spillPath: join(dir, 'spill.jsonl') },
        store,
        audit,
        journal: new Journal({ dir: journalDir, name: `${process.pid}-1`, segmentLines: 100 }),
      });
      for (let i = 0; i < 250; i++) recorder.record(sampleRecord(i));
      assert.deepEqual(readdirSync(journalDir), [], 'appends of one turn are written together at its end');
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(readdirSync(journalDir).length, 3, 'two sealed segments and the open one');
      await recorder.flush();
      recorder.record(sampleRecord(250));
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(readdirSync(journalDir), [`${process.pid}-1-000003.jsonl`], 'written segments are gone; the open one stays');
      await recorder.close();
      assert.deepEqual(readdirSync(journalDir), []);
    } finally {
      cleanup();
    }
  });

  it('recovers only segments of dead processes, restores what the store and the trail lack, and names it', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const { store, audit } = await openStores(dir);
      const journalDir = join(dir, 'journal');
      const dead = deadPid();
      // Record 0 was committed before the crash (store and trail); 1 and 2 were not; the last line is torn.
      const committed = sampleRecord(0);
      await store.append([committed]);
      await audit.append({ kind: 'decision', action: 'route', actor: committed.principal.id, subject: committed.requestId, timeMs: committed.timeMs });
      const lines = [0, 1, 2].map((i) => JSON.stringify(sampleRecord(i)));
      mkdirSync(journalDir);
      writeFileSync(join(journalDir, `${dead}-1-000001.jsonl`), `${lines.join('\n')}\n${JSON.stringify(sampleRecord(3)).slice(0, 50)}`);
      // A live process's segment (our parent's) is not touched.
      writeFileSync(join(journalDir, `${process.ppid}-1-000001.jsonl`), `${JSON.stringify(sampleRecord(9))}\n`);

      const result = await recoverJournals(journalDir, { store, audit });
      assert.deepEqual(result.restoredRecords, ['req-1', 'req-2']);
      assert.deepEqual(result.restoredAudit, ['req-1', 'req-2']);
      assert.equal(result.journaled, 3);
      assert.deepEqual(result.torn.map((t) => [t.segment.startsWith(`${dead}-1-000001.jsonl`), t.requestId]), [[true, 'req-3']]);
      assert.equal(await store.count({}), 3);
      assert.deepEqual(readdirSync(journalDir).sort(), [`${process.ppid}-1-000001.jsonl`, 'torn.jsonl'].sort());
      const verified = await audit.verify();
      assert.ok(verified.ok);
      assert.equal(verified.entries, 3);

      // Nothing is left to recover the second time.
      assert.equal((await recoverJournals(journalDir, { store, audit })).segments, 0);
      await store.close();
      await audit.store.close();
    } finally {
      cleanup();
    }
  });

  it('lets only one process claim a segment', () => {
    const { dir, cleanup } = tempDir();
    try {
      const dead = deadPid();
      const path = join(dir, `${dead}-1-000001.jsonl`);
      writeFileSync(path, '\n');
      const [orphan] = orphanSegments(dir);
      assert.ok(orphan !== undefined);
      assert.ok(claimSegment(orphan)?.endsWith(`.recovering-${process.pid}`));
      assert.equal(claimSegment(orphan), undefined, 'the second claim finds it gone');
      assert.deepEqual(orphanSegments(dir), [], 'a segment this process is recovering is not an orphan');
    } finally {
      cleanup();
    }
  });
});
