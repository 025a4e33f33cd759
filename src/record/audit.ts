import { createHash } from 'node:crypto';
import type { JsonValue } from '../domain/json.js';
import { canonicalJson } from '../policy/version.js';
import type { DecisionRecord } from './decision-record.js';

/** What the audit trail covers. */
export const AUDIT_KINDS = ['decision', 'admin', 'key', 'policy', 'federation', 'bases'] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

/** An event to append. Like records, it holds ids, codes and counts, never request content. */
export interface AuditEvent {
  readonly kind: AuditKind;
  /** e.g. `route`, `reject`, `key.create`, `policy.update`, `federation.peer_join`. */
  readonly action: string;
  /** Who did it: a principal id, an admin user, `system`. */
  readonly actor: string;
  /** What it was done to: a request id, a key id, a policy version. */
  readonly subject?: string | undefined;
  readonly outcome?: 'success' | 'failure';
  readonly data?: { readonly [key: string]: JsonValue };
  /** Epoch ms; defaults to now. */
  readonly timeMs?: number;
}

/** One sealed entry. `hash` commits to every other field, `prevHash` included. */
export interface AuditEntry {
  readonly seq: number;
  readonly time: string;
  readonly timeMs: number;
  readonly deploymentId: string;
  readonly kind: AuditKind;
  readonly action: string;
  readonly actor: string;
  readonly subject: string | null;
  readonly outcome: 'success' | 'failure';
  readonly data: { readonly [key: string]: JsonValue };
  readonly prevHash: string;
  readonly hash: string;
}

export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
}

/** An entry as read back, with its storage position (insertion order, independent of seq). */
export interface StoredAuditEntry {
  readonly position: number;
  /** The stored JSON text, parsed as-is: verify must see exactly what is on disk. */
  readonly entry: unknown;
}

export interface AuditScanFilter {
  /** Epoch ms, inclusive / exclusive, on the entry's time. */
  readonly since?: number;
  readonly until?: number;
  readonly kind?: AuditKind;
}

/**
 * Storage for the chain. `appendChained` must read the head and insert the sealed
 * entries in one transaction that excludes other writers (another process or
 * instance), so two writers can never fork the chain.
 */
export interface AuditStore {
  readonly kind: 'sqlite' | 'postgres';
  migrate(): Promise<void>;
  appendChained(events: readonly AuditEvent[], seal: (event: AuditEvent, prev: ChainHead | undefined) => AuditEntry): Promise<AuditEntry[]>;
  /** Entries with position > afterPosition, in storage order, at most `limit`. */
  scan(afterPosition: number, limit: number, filter?: AuditScanFilter): Promise<StoredAuditEntry[]>;
  close(): Promise<void>;
}

export const GENESIS_HASH = '0'.repeat(64);

export type VerifyResult =
  | { readonly ok: true; readonly entries: number; readonly head: ChainHead | undefined }
  | {
      readonly ok: false;
      readonly entries: number;
      /** Storage position of the first entry that does not fit (or of the end, for a missing tail). */
      readonly position: number;
      /** The seq the chain expected there. */
      readonly expectedSeq: number;
      readonly reason: 'malformed' | 'hash_mismatch' | 'prev_hash_mismatch' | 'seq_mismatch' | 'head_mismatch';
      readonly message: string;
    };

export interface VerifyOptions {
  /**
   * A head recorded elsewhere (an earlier export, a SIEM). Without it, deleting the
   * newest entries leaves a chain that is still internally consistent; with it,
   * that truncation is caught too.
   */
  readonly expectedHead?: ChainHead;
}

export interface AuditLogOptions {
  readonly deploymentId: string;
  readonly now?: () => number;
  /** Rows read per round trip by verify and export. */
  readonly pageSize?: number;
}

/** sha256 over the canonical JSON of every field but `hash`. */
export function entryHash(entry: Omit<AuditEntry, 'hash'>): string {
  return hashOf(canonicalBody(entry));
}

function canonicalBody(entry: Omit<AuditEntry, 'hash'>): string {
  const { seq, time, timeMs, deploymentId, kind, action, actor, subject, outcome, data, prevHash } = entry;
  // Keys in sorted order, so canonicalJson takes its fast path when `data` is in order too.
  return canonicalJson({ action, actor, data, deploymentId, kind, outcome, prevHash, seq, subject, time, timeMs });
}

function hashOf(canonical: string): string {
  return createHash('sha256').update(canonical).digest('hex');
}

/**
 * The text a store keeps for an entry. An entry sealed by this process already has its
 * canonical JSON (the hash was taken over it), so the stored text reuses it with the hash
 * appended instead of serialising the entry a second time; verify parses either form.
 */
export function storedText(entry: AuditEntry): string {
  return sealedText.get(entry) ?? JSON.stringify(entry);
}

const sealedText = new WeakMap<AuditEntry, string>();

/**
 * The append-only, hash-chained audit trail. Each entry's hash covers its content
 * and the previous entry's hash, so changing, removing or reordering any entry
 * breaks every link after it; verify() names the first broken one.
 */
export class AuditLog {
  readonly #store: AuditStore;
  readonly #deploymentId: string;
  readonly #now: () => number;
  readonly #pageSize: number;
  // Appends from this process go one at a time; the store's lock covers other processes.
  #tail: Promise<unknown> = Promise.resolve();

  constructor(store: AuditStore, options: AuditLogOptions) {
    this.#store = store;
    this.#deploymentId = options.deploymentId;
    this.#now = options.now ?? Date.now;
    this.#pageSize = options.pageSize ?? 1000;
  }

  get store(): AuditStore {
    return this.#store;
  }

  append(events: AuditEvent | readonly AuditEvent[]): Promise<AuditEntry[]> {
    const list: readonly AuditEvent[] = isEventList(events) ? events : [events];
    const run = this.#tail.then(() => this.#store.appendChained(list, (event, prev) => this.#seal(event, prev)));
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async verify(options: VerifyOptions = {}): Promise<VerifyResult> {
    let prev: ChainHead | undefined;
    let entries = 0;
    let after = 0;
    for (;;) {
      const page = await this.#store.scan(after, this.#pageSize);
      for (const stored of page) {
        const expectedSeq = (prev?.seq ?? 0) + 1;
        const broken = (reason: Exclude<VerifyResult, { ok: true }>['reason'], message: string): VerifyResult => ({
          ok: false,
          entries,
          position: stored.position,
          expectedSeq,
          reason,
          message: `chain breaks at position ${stored.position} (expected seq ${expectedSeq}): ${message}`,
        });
        const e = stored.entry;
        if (!isEntry(e)) return broken('malformed', 'entry is not a well-formed audit entry');
        if (e.seq !== expectedSeq) return broken('seq_mismatch', `entry has seq ${e.seq}; an entry is missing, extra or out of order`);
        if (e.prevHash !== (prev?.hash ?? GENESIS_HASH)) return broken('prev_hash_mismatch', 'prevHash does not match the previous entry: an entry before it was removed, replaced or moved');
        if (entryHash(e) !== e.hash) return broken('hash_mismatch', 'content does not match its hash: the entry was edited');
        prev = { seq: e.seq, hash: e.hash };
        entries++;
        after = stored.position;
      }
      if (page.length < this.#pageSize) break;
    }
    const want = options.expectedHead;
    if (want !== undefined) {
      const reached = prev !== undefined && prev.seq >= want.seq;
      if (!reached || prev === undefined) {
        return {
          ok: false,
          entries,
          position: after,
          expectedSeq: want.seq,
          reason: 'head_mismatch',
          message: `chain ends at seq ${prev?.seq ?? 0} but the recorded head is seq ${want.seq}: entries were removed from the end`,
        };
      }
      // The recorded head must still be in the chain, unchanged.
      const at = await this.#entryAt(want.seq);
      if (at === undefined || at.hash !== want.hash) {
        return {
          ok: false,
          entries,
          position: after,
          expectedSeq: want.seq,
          reason: 'head_mismatch',
          message: `entry seq ${want.seq} does not have the recorded head hash: the chain was rewritten`,
        };
      }
    }
    return { ok: true, entries, head: prev };
  }

  /** Entries in chain order, as parsed objects; malformed rows are skipped (verify reports them). */
  async *entries(filter: AuditScanFilter = {}): AsyncGenerator<AuditEntry> {
    let after = 0;
    for (;;) {
      const page = await this.#store.scan(after, this.#pageSize, filter);
      for (const s of page) {
        after = s.position;
        if (isEntry(s.entry)) yield s.entry;
      }
      if (page.length < this.#pageSize) return;
    }
  }

  /** One line per entry: the entry itself (jsonl) or an OCSF API Activity event. */
  async *export(format: 'jsonl' | 'ocsf', filter: AuditScanFilter = {}): AsyncGenerator<string> {
    for await (const e of this.entries(filter)) yield JSON.stringify(format === 'jsonl' ? e : toOcsf(e));
  }

  async #entryAt(seq: number): Promise<AuditEntry | undefined> {
    for await (const e of this.entries()) if (e.seq === seq) return e;
    return undefined;
  }

  #seal(event: AuditEvent, prev: ChainHead | undefined): AuditEntry {
    const timeMs = Math.round(event.timeMs ?? this.#now());
    const body: Omit<AuditEntry, 'hash'> = {
      seq: (prev?.seq ?? 0) + 1,
      time: new Date(timeMs).toISOString(),
      timeMs,
      deploymentId: this.#deploymentId,
      kind: event.kind,
      action: event.action,
      actor: event.actor,
      subject: event.subject ?? null,
      outcome: event.outcome ?? 'success',
      data: event.data ?? {},
      prevHash: prev?.hash ?? GENESIS_HASH,
    };
    const canonical = canonicalBody(body);
    const hash = hashOf(canonical);
    const entry: AuditEntry = { ...body, hash };
    // `hash` sorts after every other field, so appending it keeps the text canonical.
    sealedText.set(entry, `${canonical.slice(0, -1)},"hash":${JSON.stringify(hash)}}`);
    return entry;
  }
}

function isEventList(events: AuditEvent | readonly AuditEvent[]): events is readonly AuditEvent[] {
  return Array.isArray(events);
}

function isEntry(value: unknown): value is AuditEntry {
  if (value === null || typeof value !== 'object') return false;
  const e = value as Record<string, unknown>;
  return (
    typeof e.seq === 'number' &&
    typeof e.time === 'string' &&
    typeof e.timeMs === 'number' &&
    typeof e.deploymentId === 'string' &&
    typeof e.kind === 'string' &&
    typeof e.action === 'string' &&
    typeof e.actor === 'string' &&
    (e.subject === null || typeof e.subject === 'string') &&
    (e.outcome === 'success' || e.outcome === 'failure') &&
    e.data !== null &&
    typeof e.data === 'object' &&
    typeof e.prevHash === 'string' &&
    typeof e.hash === 'string'
  );
}

/** The audit entry for one request's decision. Ids, codes and counts only. */
export function auditEventFromRecord(r: DecisionRecord): AuditEvent {
  return {
    kind: 'decision',
    action: r.status === 'ok' ? 'route' : r.status === 'rejected' ? 'reject' : r.status === 'aborted' ? 'abort' : 'fail',
    actor: r.principal.id,
    subject: r.requestId,
    outcome: r.status === 'ok' ? 'success' : 'failure',
    timeMs: r.timeMs,
    // Keys in sorted order (findings too): the entry's canonical JSON is then plain JSON.stringify.
    data: {
      backend: r.served.backend,
      errorCode: r.errorCode,
      findings: sortedCounts(r.classification.findings),
      level: r.classification.level,
      matchedRules: [...r.policy.matchedRules],
      model: r.served.model,
      policyVersion: r.policy.version,
      pseudonymized: r.effects.pseudonymized,
      region: r.served.region,
      status: r.status,
      team: r.principal.team,
      tier: r.served.tier,
      workload: r.workload,
    },
  };
}

function sortedCounts(counts: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(counts).sort()) out[k] = counts[k] as number;
  return out;
}

// OCSF 1.3 API Activity (class 6003, category 6 Application Activity).
const OCSF_ACTIVITY: Readonly<Record<string, number>> = { create: 1, read: 2, update: 3, delete: 4 };

/** Maps an entry onto OCSF API Activity; the chain fields travel in `unmapped` so a SIEM can re-verify. */
export function toOcsf(e: AuditEntry): Record<string, JsonValue> {
  const verb = e.action.split('.').pop() ?? e.action;
  const activityId = OCSF_ACTIVITY[verb] ?? (e.kind === 'decision' ? 99 : 0);
  const success = e.outcome === 'success';
  return {
    category_uid: 6,
    category_name: 'Application Activity',
    class_uid: 6003,
    class_name: 'API Activity',
    activity_id: activityId,
    activity_name: activityId === 99 ? e.action : (Object.keys(OCSF_ACTIVITY).find((k) => OCSF_ACTIVITY[k] === activityId) ?? 'Unknown'),
    type_uid: 6003 * 100 + activityId,
    time: e.timeMs,
    severity_id: success ? 1 : 3,
    severity: success ? 'Informational' : 'Medium',
    status_id: success ? 1 : 2,
    status: success ? 'Success' : 'Failure',
    message: `${e.kind} ${e.action}`,
    metadata: {
      version: '1.3.0',
      uid: `${e.deploymentId}:${e.seq}`,
      product: { name: 'Perimeter', vendor_name: 'Perimeter', feature: { name: e.kind } },
      log_name: 'audit',
      sequence: e.seq,
    },
    actor: { user: { uid: e.actor } },
    api: { operation: e.action, service: { name: 'perimeter' } },
    src_endpoint: { svc_name: e.deploymentId },
    resources: e.subject === null ? [] : [{ uid: e.subject, type: e.kind }],
    unmapped: { data: e.data, seq: e.seq, prev_hash: e.prevHash, hash: e.hash },
  };
}
