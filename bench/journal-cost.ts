/**
 * What the record journal costs: CPU per record on the request path (Recorder.record:
 * observers, JSON + one write(2) for the journal, enqueue) and in total (with the
 * batched SQLite store and audit writes), with the journal off and on.
 *
 *   node dist/bench/journal-cost.js            # 20 000 records per round, 5 rounds
 *   JOURNAL_RECORDS=50000 node dist/bench/journal-cost.js
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../src/record/audit.js';
import { Journal } from '../src/record/journal.js';
import { Recorder } from '../src/record/recorder.js';
import { SharedSqlite, SqliteAuditStore, SqliteRecordStore } from '../src/record/sqlite/sqlite-store.js';
import { sampleRecord } from '../test/record/support.js';

const N = Number(process.env.JOURNAL_RECORDS ?? 20_000);
const ROUNDS = Number(process.env.JOURNAL_ROUNDS ?? 5);

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

async function round(journalOn: boolean, offset: number): Promise<{ recordUs: number; totalUs: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'perimeter-journal-cost-'));
  try {
    const shared = new SharedSqlite(join(dir, 'records.db'));
    const store = new SqliteRecordStore(shared);
    const auditStore = new SqliteAuditStore(shared);
    await store.migrate();
    await auditStore.migrate();
    const recorder = new Recorder({
      queue: { size: 1_000_000, batchSize: 200, flushIntervalMs: 1000, whenFull: 'drop_oldest', spillPath: join(dir, 'spill.jsonl'), writeRetries: 3, journal: journalOn },
      store,
      audit: new AuditLog(auditStore, { deploymentId: 'bench' }),
      journal: journalOn ? new Journal({ dir: join(dir, 'journal'), name: `${process.pid}-1`, segmentLines: 1000 }) : undefined,
    });
    const records = Array.from({ length: N }, (_, i) => sampleRecord(offset + i));
    const start = cpuUs();
    // In slices with the loop turning in between, as requests would arrive, so batches get written as we go.
    for (let i = 0; i < N; i += 100) {
      for (let j = i; j < Math.min(N, i + 100); j++) recorder.record(records[j] as (typeof records)[number]);
    }
    const recorded = cpuUs();
    await recorder.close();
    const end = cpuUs();
    return { recordUs: (recorded - start) / N, totalUs: (end - start) / N };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function main(): Promise<void> {
  const results = { off: { record: [] as number[], total: [] as number[] }, on: { record: [] as number[], total: [] as number[] } };
  for (let r = 0; r < ROUNDS; r++) {
    for (const on of [false, true]) {
      const { recordUs, totalUs } = await round(on, r * N);
      const slot = on ? results.on : results.off;
      slot.record.push(recordUs);
      slot.total.push(totalUs);
    }
  }
  const line = (name: string, s: { record: number[]; total: number[] }): string =>
    `| ${name} | ${median(s.record).toFixed(2)} | ${median(s.total).toFixed(2)} |`;
  process.stdout.write(
    `| journal | CPU µs per record on the request path (record()) | CPU µs per record in total (record + store + audit writes) |\n|---|---|---|\n${line('off', results.off)}\n${line('on', results.on)}\n\n(${N} records × ${ROUNDS} rounds, medians; Node ${process.version})\n`,
  );
}

void main();
