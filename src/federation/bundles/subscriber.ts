import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import type { AuditEvent } from '../../record/audit.js';
import type { Logger } from '../../telemetry/logger.js';
import type { BundleSubscribeConfig } from './config.js';
import { verifyBundle, type BundleContent, type BundleRejectReason, type SignedBundle } from './format.js';
import { readJsonFile, writeFileAtomic } from './state-file.js';

export interface ApplyResult {
  readonly ok: boolean;
  /** `path: reason` lines when the content was refused; nothing changed then. */
  readonly problems: readonly string[];
}

export interface BundleSubscriberOptions {
  readonly config: BundleSubscribeConfig;
  /** keyId → Ed25519 public key, resolved from config.trustedKeys by the composition root. */
  readonly trustedKeys: ReadonlyMap<string, KeyObject>;
  /** Asks the publishing peer for its latest bundle (`bundles.pull`); throws when it cannot. */
  readonly fetch: () => Promise<unknown>;
  /** Applies verified content all or nothing (Gateway.applyOverlay(bundleOverlay(content))). */
  readonly apply: (content: BundleContent) => Promise<ApplyResult>;
  /** Appends to the audit trail. */
  readonly append: (event: AuditEvent) => Promise<unknown>;
  readonly logger?: Logger;
  readonly now?: () => Date;
}

export type PullOutcome =
  | { readonly outcome: 'applied'; readonly version: number; readonly sha256: string }
  | { readonly outcome: 'unchanged'; readonly version: number }
  | { readonly outcome: 'none' }
  | { readonly outcome: 'rejected'; readonly reason: BundleRejectReason; readonly detail: string }
  | { readonly outcome: 'fetch_failed'; readonly detail: string };

export interface BundleStatus {
  readonly from: string;
  /** 0 until a bundle has been applied. */
  readonly appliedVersion: number;
  readonly publisher: string | undefined;
  readonly sha256: string | undefined;
  readonly keyId: string | undefined;
  readonly appliedAt: string | undefined;
  readonly lastPullAt: string | undefined;
  readonly lastError: { readonly reason: BundleRejectReason | 'fetch_failed' | 'persist_failed'; readonly detail: string; readonly at: string } | undefined;
}

const stateSchema = z.strictObject({
  appliedAt: z.iso.datetime({ offset: true }),
  bundle: z.unknown(),
});

interface Applied {
  readonly bundle: SignedBundle;
  readonly appliedAt: string;
}

/**
 * Pulls a peer's signed bundles and applies the ones that verify. A bundle is refused,
 * with nothing changed and an audit entry naming the reason, when it is malformed, signed
 * by an untrusted key, altered (hash or signature), from another publisher, not newer
 * than the one applied (replay, rollback), or its content does not fit this deployment.
 */
export class BundleSubscriber {
  readonly #options: BundleSubscriberOptions;
  #applied: Applied | undefined;
  /** The lowest version acceptable while nothing is applied: that of a stored bundle that verified but would not apply. */
  #floor = 1;
  #lastPullAt: string | undefined;
  #lastError: BundleStatus['lastError'];
  /** The last rejection audited, so a peer serving the same bad bundle every interval makes one entry, not one per pull. */
  #lastRejection: string | undefined;
  #tail: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;

  constructor(options: BundleSubscriberOptions) {
    this.#options = options;
  }

  /** Re-applies the bundle kept in the state file (at startup, before serving). */
  restore(): Promise<PullOutcome> {
    return this.#serialized(async () => {
      let stored: unknown;
      try {
        stored = await readJsonFile(this.#options.config.stateFile);
      } catch (err) {
        return this.#reject('malformed', `state file unreadable (${err instanceof Error ? err.name : 'error'})`, undefined, 'state');
      }
      if (stored === undefined) return { outcome: 'none' };
      const state = stateSchema.safeParse(stored);
      if (!state.success) return this.#reject('malformed', 'state file is not a stored bundle', undefined, 'state');
      return this.#accept(state.data.bundle, 'state');
    });
  }

  /** One pull from the peer. Pulls never overlap. */
  pull(): Promise<PullOutcome> {
    return this.#serialized(async () => {
      this.#lastPullAt = this.#now();
      let raw: unknown;
      try {
        raw = await this.#options.fetch();
      } catch (err) {
        // The peer being away is not a bundle to audit; status and logs show it.
        const detail = err instanceof Error ? err.message.split('\n')[0] ?? err.name : 'fetch failed';
        this.#lastError = { reason: 'fetch_failed', detail, at: this.#now() };
        this.#options.logger?.warn({ bundles: 'fetch_failed', from: this.#options.config.from }, 'bundle pull failed');
        return { outcome: 'fetch_failed', detail };
      }
      return this.#accept(raw, 'peer');
    });
  }

  /** Pulls now and then every intervalMs until stop(); intervalMs 0 = on demand only. The timer does not keep the process alive. */
  start(): void {
    if (this.#timer !== undefined || this.#options.config.intervalMs === 0) return;
    void this.pull();
    this.#timer = setInterval(() => void this.pull(), this.#options.config.intervalMs);
    this.#timer.unref();
  }

  /** Stops the timer and waits for a pull in progress. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#tail;
  }

  status(): BundleStatus {
    const a = this.#applied;
    return {
      from: this.#options.config.from,
      appliedVersion: a?.bundle.version ?? 0,
      publisher: a?.bundle.publisher,
      sha256: a?.bundle.contentSha256,
      keyId: a?.bundle.keyId,
      appliedAt: a?.appliedAt,
      lastPullAt: this.#lastPullAt,
      lastError: this.#lastError,
    };
  }

  #serialized(task: () => Promise<PullOutcome>): Promise<PullOutcome> {
    const run = this.#tail.then(task);
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async #accept(raw: unknown, source: 'peer' | 'state'): Promise<PullOutcome> {
    const verified = verifyBundle(raw, this.#options.trustedKeys);
    if (!verified.ok) return this.#reject(verified.reason, verified.detail, verified.bundle, source);
    const { bundle, content } = verified;
    const { from } = this.#options.config;
    if (bundle.publisher !== from) return this.#reject('wrong_publisher', `publisher is "${bundle.publisher}", expected "${from}"`, bundle, source);
    const applied = this.#applied?.bundle;
    if (applied !== undefined && bundle.version === applied.version && bundle.contentSha256 === applied.contentSha256) {
      return { outcome: 'unchanged', version: bundle.version };
    }
    const minimum = applied === undefined ? this.#floor : applied.version + 1;
    if (bundle.version < minimum) {
      return this.#reject('stale_version', `version ${bundle.version} is not newer than ${minimum - 1}`, bundle, source);
    }
    let result: ApplyResult;
    try {
      result = await this.#options.apply(content);
    } catch (err) {
      result = { ok: false, problems: [err instanceof Error ? `${err.name}: ${err.message.split('\n')[0] ?? ''}` : 'apply failed'] };
    }
    if (!result.ok) {
      // A stored bundle that verified but no longer fits still marks how far the peer had got.
      if (source === 'state' && applied === undefined) this.#floor = Math.max(this.#floor, bundle.version);
      return this.#reject('apply_failed', result.problems.slice(0, 5).join('; '), bundle, source);
    }
    const appliedAt = this.#now();
    this.#applied = { bundle, appliedAt };
    this.#lastError = undefined;
    this.#lastRejection = undefined;
    if (source === 'peer') {
      try {
        await writeFileAtomic(this.#options.config.stateFile, `${JSON.stringify({ appliedAt, bundle })}\n`);
      } catch (err) {
        // Applied but not kept: a restart would come back without it until the next pull.
        this.#lastError = { reason: 'persist_failed', detail: err instanceof Error ? err.name : 'error', at: appliedAt };
        this.#options.logger?.error({ bundles: 'persist_failed', version: bundle.version }, 'applied bundle could not be saved');
      }
    }
    await this.#audit({
      kind: 'federation',
      action: 'bundle.apply',
      actor: `peer:${bundle.publisher}`,
      subject: `${bundle.publisher}@${bundle.version}`,
      outcome: 'success',
      data: { publisher: bundle.publisher, version: bundle.version, sha256: bundle.contentSha256, keyId: bundle.keyId, source, parts: Object.keys(content) },
    });
    this.#options.logger?.info({ bundles: 'applied', publisher: bundle.publisher, version: bundle.version, source }, 'bundle applied');
    return { outcome: 'applied', version: bundle.version, sha256: bundle.contentSha256 };
  }

  async #reject(reason: BundleRejectReason, detail: string, bundle: SignedBundle | undefined, source: 'peer' | 'state'): Promise<PullOutcome> {
    this.#lastError = { reason, detail, at: this.#now() };
    const key = JSON.stringify([reason, source, bundle?.publisher, bundle?.version, bundle?.contentSha256, bundle?.signature]);
    if (key !== this.#lastRejection) {
      this.#lastRejection = key;
      // Only ids, numbers and the reason code: never the bundle's content or the detail text.
      await this.#audit({
        kind: 'federation',
        action: 'bundle.reject',
        actor: `peer:${this.#options.config.from}`,
        ...(bundle === undefined ? {} : { subject: `${bundle.publisher}@${bundle.version}` }),
        outcome: 'failure',
        data: {
          reason,
          source,
          ...(bundle === undefined ? {} : { publisher: bundle.publisher, version: bundle.version, sha256: bundle.contentSha256, keyId: bundle.keyId }),
        },
      });
    }
    this.#options.logger?.warn({ bundles: 'rejected', reason, source, version: bundle?.version }, 'bundle rejected');
    return { outcome: 'rejected', reason, detail };
  }

  async #audit(event: AuditEvent): Promise<void> {
    try {
      await this.#options.append(event);
    } catch (err) {
      this.#options.logger?.error({ bundles: 'audit_failed', err: err instanceof Error ? err.name : 'error' }, 'bundle audit entry not written');
    }
  }

  #now(): string {
    return (this.#options.now?.() ?? new Date()).toISOString();
  }
}
