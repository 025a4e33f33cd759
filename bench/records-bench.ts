/**
 * Cost of the records path on the request thread: building a record, enqueueing it
 * (queue only, and through a Recorder feeding metrics, a SQLite store and the audit
 * queue). Writes happen off the measured loop. Run: tsc -b && node dist/bench/records-bench.js
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../src/record/audit.js';
import { recordsConfigSchema } from '../src/record/config.js';
import { recordFromContext, type DecisionRecord } from '../src/record/decision-record.js';
import { BatchQueue } from '../src/record/queue.js';
import { Recorder } from '../src/record/recorder.js';
import { SharedSqlite, SqliteAuditStore, SqliteRecordStore } from '../src/record/sqlite/sqlite-store.js';
import { createMetrics } from '../src/telemetry/metrics.js';
import { context, decision, deps, outcome, sampleRecord } from '../test/record/support.js';

function measure(label: string, n: number, fn: (i: number) => void): number {
  for (let i = 0; i < Math.min(n, 10_000); i++) fn(i); // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  const ns = Number(process.hrtime.bigint() - start) / n;
  console.log(`${label.padEnd(58)} ${ns.toFixed(0).padStart(7)} ns/op  (n=${n})`);
  return ns;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'records-bench-'));
  try {
    const N = 100_000;
    const ctx = context({ decision: decision('confidential', { matchedRules: ['r1', 'r2'] }) });
    const d = deps();
    measure('recordFromContext', N, () => void recordFromContext(ctx, outcome(), d));

    const records: DecisionRecord[] = Array.from({ length: 1000 }, (_, i) => sampleRecord(i));
    const q = new BatchQueue<DecisionRecord>({ name: 'bench', size: 1_000_000, batchSize: 500, flushIntervalMs: 1000, whenFull: 'drop_oldest', writeRetries: 0, write: async () => undefined });
    measure('BatchQueue.enqueue (no-op writer)', N, (i) => void q.enqueue(records[i % 1000] as DecisionRecord));
    await q.flush();

    const full = new BatchQueue<DecisionRecord>({ name: 'full', size: 1000, batchSize: 100_000, flushIntervalMs: 60_000, whenFull: 'drop_oldest', writeRetries: 0, write: async () => undefined });
    for (let i = 0; i < 1000; i++) full.enqueue(records[i] as DecisionRecord);
    measure('BatchQueue.enqueue when full (drop_oldest, counted)', N, (i) => void full.enqueue(records[i % 1000] as DecisionRecord));

    const metrics = createMetrics();
    measure('GatewayMetrics.observe', N, (i) => metrics.observe(records[i % 1000] as DecisionRecord));

    const shared = new SharedSqlite(join(dir, 'bench.db'));
    const store = new SqliteRecordStore(shared);
    await store.migrate();
    const auditStore = new SqliteAuditStore(shared);
    await auditStore.migrate();
    const config = recordsConfigSchema.parse({ queue: { size: 200_000 } });
    const recorder = new Recorder({ queue: config.queue, store, audit: new AuditLog(auditStore, { deploymentId: 'bench' }), observers: [metrics], queueObserver: metrics });
    const M = 50_000;
    const fresh = Array.from({ length: M + 10_000 }, (_, i) => ({ ...(records[i % 1000] as DecisionRecord), requestId: `b-${i}` }));
    measure('Recorder.record (metrics + sqlite store + audit queues)', M, (i) => recorder.record(fresh[i] as DecisionRecord));
    const t = process.hrtime.bigint();
    await recorder.flush();
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    console.log(`drain after the loop (sqlite WAL, batch 200, + hash-chained audit): ${ms.toFixed(0)} ms for ${M + 10_000} records`);
    console.log('stats', JSON.stringify(recorder.stats()));
    await recorder.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
