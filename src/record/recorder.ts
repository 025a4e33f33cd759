import type { Logger } from 'pino';
import { AuditLog, auditEventFromRecord, type AuditStore } from './audit.js';
import type { AuditConfig, QueueConfig, RecordsConfig, ResolveSecret, StoreConfig } from './config.js';
import { recordJson, type DecisionRecord } from './decision-record.js';
import { PostgresAuditStore, PostgresDatabase, PostgresRecordStore } from './postgres/postgres-store.js';
import { appendFileSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { claimSegment, Journal, orphanSegments, readSegment } from './journal.js';
import { BatchQueue, replaySpill, type DropReason, type EnqueueResult, type QueueObserver } from './queue.js';
import { createSinks, type ContentEntry, type ContentSink, type RecordSink } from './sinks.js';
import { SharedSqlite, SqliteAuditStore, SqliteRecordStore } from './sqlite/sqlite-store.js';
import type { RecordStore } from './store.js';

/** Anything that wants every record as it is made (metrics, alerts). Must be cheap and synchronous. */
export interface RecordObserver {
  observe(record: DecisionRecord): void;
}

export interface RecorderOptions {
  readonly queue: QueueConfig;
  readonly store?: RecordStore | undefined;
  readonly sinks?: readonly RecordSink[];
  readonly contentSinks?: readonly ContentSink[];
  /** Decisions are appended to the audit trail through their own queue. */
  readonly audit?: AuditLog | undefined;
  readonly observers?: readonly RecordObserver[];
  /** Queue drops/spills/writes go here (GatewayMetrics implements it); they are also logged. */
  readonly queueObserver?: QueueObserver;
  readonly logger?: Logger;
  /** Write-ahead journal: each record is appended here before it is queued. */
  readonly journal?: Journal | undefined;
}

/**
 * The records side of a request: `record()` once per request hands the record to
 * the observers (metrics, alerts) and to one bounded queue per destination (store,
 * audit, each sink), so a slow or failing destination cannot hold up the others or
 * the request. `flush()` at shutdown drains them all.
 */
export class Recorder {
  readonly #queues: BatchQueue<DecisionRecord>[] = [];
  readonly #contentQueues: BatchQueue<ContentEntry>[] = [];
  readonly #observers: readonly RecordObserver[];
  readonly #closers: (() => Promise<void>)[] = [];
  readonly #spillPaths: { path: string; queue: BatchQueue<DecisionRecord> }[] = [];
  readonly #logger: Logger | undefined;
  readonly #journal: Journal | undefined;
  /** Journal sequence number of each record still held by some queue. */
  readonly #seqs = new WeakMap<DecisionRecord, number>();
  #journalFailed = false;

  constructor(options: RecorderOptions) {
    this.#observers = options.observers ?? [];
    this.#logger = options.logger;
    this.#journal = options.journal;
    const observer = loggingObserver(options.queueObserver, options.logger);
    const q = options.queue;
    const make = (name: string, write: (batch: readonly DecisionRecord[]) => Promise<void>): BatchQueue<DecisionRecord> =>
      new BatchQueue<DecisionRecord>({
        name,
        size: q.size,
        batchSize: q.batchSize,
        flushIntervalMs: q.flushIntervalMs,
        whenFull: q.whenFull,
        spillPath: spillPathFor(q.spillPath, name),
        writeRetries: q.writeRetries,
        write,
        serialize: recordJson,
        observer,
      });
    const addRecordQueue = (name: string, write: (batch: readonly DecisionRecord[]) => Promise<void>): void => {
      const queue = make(name, write);
      this.#queues.push(queue);
      this.#spillPaths.push({ path: spillPathFor(q.spillPath, name), queue });
    };
    const store = options.store;
    if (store !== undefined) {
      addRecordQueue('store', (b) => store.append(b));
      this.#closers.push(() => store.close());
    }
    const audit = options.audit;
    if (audit !== undefined) {
      addRecordQueue('audit', async (b) => {
        await audit.append(b.map(auditEventFromRecord));
      });
      this.#closers.push(() => audit.store.close());
    }
    for (const sink of options.sinks ?? []) {
      addRecordQueue(`sink:${sink.name}`, (b) => sink.write(b));
      if (sink.close !== undefined) this.#closers.push(() => sink.close?.() ?? Promise.resolve());
    }
    for (const sink of options.contentSinks ?? []) {
      // Content is never spilled to the shared spill file: it may only live in its on-prem sink.
      this.#contentQueues.push(
        new BatchQueue<ContentEntry>({
          name: `content:${sink.name}`,
          size: q.size,
          batchSize: q.batchSize,
          flushIntervalMs: q.flushIntervalMs,
          whenFull: q.whenFull === 'spill' ? 'drop_oldest' : q.whenFull,
          writeRetries: q.writeRetries,
          write: (b) => sink.writeContent(b),
          observer,
        }),
      );
    }
  }

  /** Whether any content sink is configured; skip building content entries when not. */
  get wantsContent(): boolean {
    return this.#contentQueues.length > 0;
  }

  /** Call once per request. Synchronous, no I/O; never throws. */
  record(record: DecisionRecord): void {
    for (const o of this.#observers) {
      try {
        o.observe(record);
      } catch (err) {
        this.#logger?.error({ err: errorName(err) }, 'record observer failed');
      }
    }
    this.#journalRecord(record);
    for (const q of this.#queues) q.enqueue(record);
  }

  /** Appends the record to the journal before any queue holds it, and drops finished segments. */
  #journalRecord(record: DecisionRecord): void {
    const journal = this.#journal;
    if (journal === undefined) return;
    try {
      this.#seqs.set(record, journal.append(recordJson(record)));
      if (journal.hasSealed) journal.release(this.#oldestHeld());
    } catch (err) {
      // The queues still take the record; only its crash safety is lost. Logged once, not per request.
      if (!this.#journalFailed) this.#logger?.error({ err: errorName(err) }, 'record journal write failed; records are not crash-safe until restart');
      this.#journalFailed = true;
    }
  }

  #oldestHeld(): number | undefined {
    let oldest: number | undefined;
    for (const q of this.#queues) {
      const item = q.oldest();
      const seq = item === undefined ? undefined : this.#seqs.get(item);
      if (seq !== undefined && (oldest === undefined || seq < oldest)) oldest = seq;
    }
    return oldest;
  }

  /** Opt-in content for on-prem content sinks only. No-op when none is configured. */
  content(entry: ContentEntry): void {
    for (const q of this.#contentQueues) q.enqueue(entry);
  }

  /** Replays records an earlier run spilled. Call once at startup, after migrate. */
  replaySpilled(): number {
    let n = 0;
    for (const { path, queue } of this.#spillPaths) {
      n += replaySpill(
        path,
        parseRecord,
        (r): EnqueueResult => {
          // Out of the spill file and only in memory now: journal it like a new record.
          this.#journalRecord(r);
          return queue.enqueue(r);
        },
        (torn) =>
          this.#logger?.warn(
            { destination: queue.name, spillFile: path, line: torn.line, bytes: torn.bytes, requestId: torn.requestId },
            'spill file line is torn (a write cut short); dropped and kept in the .torn file',
          ),
      );
    }
    if (n > 0) this.#logger?.info({ replayed: n }, 'records spilled by an earlier run were queued again');
    return n;
  }

  stats(): Record<string, ReturnType<BatchQueue<unknown>['stats']>> {
    const out: Record<string, ReturnType<BatchQueue<unknown>['stats']>> = {};
    for (const q of [...this.#queues, ...this.#contentQueues]) out[q.name] = q.stats();
    return out;
  }

  /** Drains every queue. Safe to call repeatedly. */
  async flush(): Promise<void> {
    await Promise.all([...this.#queues, ...this.#contentQueues].map((q) => q.flush()));
  }

  /** Shutdown: drain, then close stores and sinks. Records arriving later are counted as dropped. */
  async close(): Promise<void> {
    await Promise.all([...this.#queues, ...this.#contentQueues].map((q) => q.close()));
    // Every queue is flushed: nothing journaled is held in memory any more.
    this.#journal?.close();
    await Promise.allSettled(this.#closers.map((c) => c()));
  }
}

function spillPathFor(base: string, destination: string): string {
  const safe = destination.replace(/[^a-z0-9._-]/gi, '_');
  return base.endsWith('.jsonl') ? `${base.slice(0, -6)}.${safe}.jsonl` : `${base}.${safe}`;
}

function parseRecord(line: string): DecisionRecord | undefined {
  try {
    const v = JSON.parse(line) as { schemaVersion?: unknown; requestId?: unknown };
    return v.schemaVersion === 1 && typeof v.requestId === 'string' ? (v as DecisionRecord) : undefined;
  } catch {
    return undefined;
  }
}

function errorName(err: unknown): string {
  return err instanceof Error ? err.name : typeof err;
}

/**
 * Forwards queue events to the metrics and logs losses, at most once per 10 s per
 * destination with the count since the last line, so an overload cannot flood the log.
 * Error messages are not logged: a driver's message can quote a value.
 */
function loggingObserver(inner: QueueObserver | undefined, logger: Logger | undefined): QueueObserver {
  const pending = new Map<string, { dropped: number; spilled: number; reasons: Set<DropReason>; last: number }>();
  const note = (destination: string): { dropped: number; spilled: number; reasons: Set<DropReason>; last: number } => {
    let p = pending.get(destination);
    if (p === undefined) {
      p = { dropped: 0, spilled: 0, reasons: new Set(), last: 0 };
      pending.set(destination, p);
    }
    return p;
  };
  const maybeLog = (destination: string): void => {
    const p = note(destination);
    const now = Date.now();
    if (now - p.last < 10_000) return;
    p.last = now;
    logger?.warn({ destination, dropped: p.dropped, spilled: p.spilled, reasons: [...p.reasons] }, 'records not delivered to their destination');
    p.dropped = 0;
    p.spilled = 0;
    p.reasons.clear();
  };
  return {
    written: (d, n) => inner?.written(d, n),
    dropped: (d, reason, n) => {
      inner?.dropped(d, reason, n);
      const p = note(d);
      p.dropped += n;
      p.reasons.add(reason);
      maybeLog(d);
    },
    spilled: (d, n) => {
      inner?.spilled(d, n);
      note(d).spilled += n;
      maybeLog(d);
    },
    writeFailed: (d, err) => {
      inner?.writeFailed(d, err);
      logger?.warn({ destination: d, err: errorName(err) }, 'record batch write failed; retrying');
    },
  };
}

export interface OpenedStores {
  readonly records: RecordStore;
  readonly audit: AuditLog | undefined;
}

/**
 * Opens and migrates the configured store (and the audit trail, in the same
 * database unless audit has its own). `resolveSecret` resolves a Postgres urlRef.
 */
export async function openStores(
  records: Pick<RecordsConfig, 'store'>,
  audit: AuditConfig | undefined,
  deps: { deploymentId: string; resolveSecret?: ResolveSecret },
): Promise<OpenedStores> {
  const recordStore = storeFor(records.store, deps.resolveSecret);
  await recordStore.store.migrate();
  let auditLog: AuditLog | undefined;
  if (audit?.enabled === true) {
    const auditStore = audit.store === undefined ? recordStore.audit() : storeFor(audit.store, deps.resolveSecret).audit();
    await auditStore.migrate();
    auditLog = new AuditLog(auditStore, { deploymentId: deps.deploymentId });
  }
  return { records: recordStore.store, audit: auditLog };
}

function storeFor(config: StoreConfig, resolveSecret: ResolveSecret | undefined): { store: RecordStore; audit: () => AuditStore } {
  if (config.kind === 'sqlite') {
    const shared = new SharedSqlite(config.path);
    return { store: new SqliteRecordStore(shared), audit: () => new SqliteAuditStore(shared) };
  }
  let url = config.url;
  if (url === undefined) {
    if (config.urlRef === undefined || resolveSecret === undefined) throw new Error('records.store: urlRef needs a secret resolver');
    url = resolveSecret(config.urlRef);
  }
  const db = new PostgresDatabase({ url, schema: config.schema, poolSize: config.poolSize });
  return { store: new PostgresRecordStore(db), audit: () => new PostgresAuditStore(db) };
}

/** What startup recovery found in journals left by processes that died. */
export interface JournalRecovery {
  readonly segments: number;
  readonly journaled: number;
  /** Request ids whose record was not in the store and was written from the journal. */
  readonly restoredRecords: readonly string[];
  /** Request ids whose decision was not in the audit trail and was appended from the journal. */
  readonly restoredAudit: readonly string[];
  /** Lines cut short by the crash (the last line of a segment), kept in `<dir>/torn.jsonl`. */
  readonly torn: readonly { readonly segment: string; readonly bytes: number; readonly requestId: string | undefined }[];
}

const NO_RECOVERY: JournalRecovery = { segments: 0, journaled: 0, restoredRecords: [], restoredAudit: [], torn: [] };

/**
 * Replays journal segments of dead processes: records the store lacks are written
 * (by request id), decisions the audit trail lacks are appended (by subject, among
 * decision entries since the oldest journaled record). Everything restored and every
 * torn line is named in the log. A failure leaves the segments for the next start.
 */
export async function recoverJournals(
  dir: string,
  targets: { readonly store?: RecordStore | undefined; readonly audit?: AuditLog | undefined },
  logger?: Logger,
): Promise<JournalRecovery> {
  const orphans = orphanSegments(dir);
  if (orphans.length === 0) return NO_RECOVERY;
  const claimed: string[] = [];
  const records: DecisionRecord[] = [];
  const torn: { segment: string; bytes: number; requestId: string | undefined }[] = [];
  const tornLines: string[] = [];
  const seen = new Set<string>();
  for (const orphan of orphans) {
    const path = claimSegment(orphan);
    if (path === undefined) continue;
    claimed.push(path);
    const { lines, torn: cut } = readSegment(path);
    for (const line of lines) {
      const r = parseRecord(line);
      if (r === undefined || seen.has(r.requestId)) continue;
      seen.add(r.requestId);
      records.push(r);
    }
    if (cut !== undefined) {
      torn.push({ segment: basename(path), bytes: Buffer.byteLength(cut), requestId: /"requestId":"([^"\\]{1,128})"/.exec(cut)?.[1] });
      tornLines.push(cut);
    }
  }
  try {
    const restoredRecords: string[] = [];
    const store = targets.store;
    if (store !== undefined) {
      const missing: DecisionRecord[] = [];
      for (const r of records) if ((await store.count({ requestId: r.requestId })) === 0) missing.push(r);
      for (let i = 0; i < missing.length; i += 500) await store.append(missing.slice(i, i + 500));
      restoredRecords.push(...missing.map((r) => r.requestId));
    }
    const restoredAudit: string[] = [];
    const audit = targets.audit;
    if (audit !== undefined && records.length > 0) {
      const since = Math.min(...records.map((r) => r.timeMs));
      const present = new Set<string>();
      for await (const e of audit.entries({ since, kind: 'decision' })) if (e.subject !== null) present.add(e.subject);
      const missing = records.filter((r) => !present.has(r.requestId));
      for (let i = 0; i < missing.length; i += 500) await audit.append(missing.slice(i, i + 500).map(auditEventFromRecord));
      restoredAudit.push(...missing.map((r) => r.requestId));
    }
    if (tornLines.length > 0) appendFileSync(join(dir, 'torn.jsonl'), `${tornLines.join('\n')}\n`);
    for (const path of claimed) rmSync(path, { force: true });
    const result: JournalRecovery = { segments: claimed.length, journaled: records.length, restoredRecords, restoredAudit, torn };
    logger?.warn(
      { segments: result.segments, journaled: result.journaled, restoredRecords: restoredRecords.length, restoredAudit: restoredAudit.length, torn },
      'record journal recovered after an unclean stop',
    );
    // The ids, so an operator can see exactly what was restored; in lines of 200.
    for (let i = 0; i < restoredRecords.length; i += 200) logger?.info({ restoredRecords: restoredRecords.slice(i, i + 200) }, 'records restored from the journal');
    for (let i = 0; i < restoredAudit.length; i += 200) logger?.info({ restoredAudit: restoredAudit.slice(i, i + 200) }, 'audit entries restored from the journal');
    return result;
  } catch (err) {
    logger?.error({ err: errorName(err), segments: claimed.length }, 'record journal recovery failed; the segments are kept for the next start');
    return NO_RECOVERY;
  }
}

/** Where journals live unless `queue.journalDir` says: beside the spill file. */
export function journalDirFor(queue: Pick<QueueConfig, 'spillPath' | 'journalDir'>): string {
  if (queue.journalDir !== undefined) return queue.journalDir;
  const base = basename(queue.spillPath).replace(/\.jsonl$/, '');
  return join(dirname(queue.spillPath), `${base}.journal`);
}

/** Small segments are deleted soon after their records are written; large ones save file churn. */
const JOURNAL_SEGMENT_LINES = 1_000;

// Names journals uniquely within this process (a reload builds a new recorder).
let journalsOpened = 0;

/** Everything `records:` configures, built and ready; for the lead's compose. */
export async function createRecorder(
  config: { records: RecordsConfig; audit: AuditConfig },
  deps: {
    deploymentId: string;
    logger: Logger;
    resolveSecret?: ResolveSecret;
    observers?: readonly RecordObserver[];
    queueObserver?: QueueObserver;
  },
): Promise<{ recorder: Recorder; stores: OpenedStores | undefined }> {
  const sinks = createSinks(config.records.sinks, { logger: deps.logger, ...(deps.resolveSecret === undefined ? {} : { resolveSecret: deps.resolveSecret }) });
  let stores: OpenedStores | undefined;
  if (config.records.enabled) stores = await openStores(config.records, config.audit, deps);
  const auditDecisions = config.audit.decisions ? stores?.audit : undefined;
  let journal: Journal | undefined;
  if (stores !== undefined && config.records.queue.journal) {
    const dir = journalDirFor(config.records.queue);
    await recoverJournals(dir, { store: stores.records, audit: auditDecisions }, deps.logger);
    journalsOpened++;
    let reported = false;
    journal = new Journal({
      dir,
      name: `${process.pid}-${journalsOpened}`,
      segmentLines: JOURNAL_SEGMENT_LINES,
      onError: (err) => {
        // Logged once, not per write: the queues still take every record, only crash safety is lost.
        if (!reported) deps.logger?.error({ err: errorName(err) }, 'record journal write failed; records are not crash-safe until restart');
        reported = true;
      },
    });
  }
  const recorder = new Recorder({
    journal,
    queue: config.records.queue,
    store: stores?.records,
    // The trail still exists for admin, key, policy and federation events when decisions are off.
    audit: auditDecisions,
    sinks: sinks.records,
    contentSinks: sinks.content,
    observers: deps.observers ?? [],
    ...(deps.queueObserver === undefined ? {} : { queueObserver: deps.queueObserver }),
    logger: deps.logger,
  });
  return { recorder, stores };
}

/**
 * Purges records older than `retentionDays` now and every `purgeIntervalMinutes`.
 * Returns a stop function. The audit trail is not purged: deleting from it would
 * break the chain by design.
 */
export function startRetention(
  store: RecordStore,
  config: Pick<RecordsConfig, 'retentionDays' | 'purgeIntervalMinutes'>,
  logger?: Logger,
  now: () => number = Date.now,
): () => void {
  if (config.retentionDays === 0) return () => undefined;
  const purge = (): void => {
    store.purge(now() - config.retentionDays * 86_400_000).then(
      (n) => {
        if (n > 0) logger?.info({ purged: n, retentionDays: config.retentionDays }, 'records purged by retention');
      },
      (err: unknown) => logger?.warn({ err: errorName(err) }, 'records retention purge failed'),
    );
  };
  purge();
  const timer = setInterval(purge, config.purgeIntervalMinutes * 60_000);
  timer.unref();
  return () => clearInterval(timer);
}
