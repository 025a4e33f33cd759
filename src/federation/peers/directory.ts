import { randomUUID } from 'node:crypto';
import type { JsonValue } from '../../domain/json.js';
import type { PeerConfig, PeerOperation } from '../config.js';
import type { PeerClient, PeerResult } from './client.js';

export interface PeerStatus {
  readonly id: string;
  readonly zone: 'on-prem' | 'cloud';
  /** unknown: not called yet; up: answered last time (even with a refusal); down: no answer. */
  readonly status: 'unknown' | 'up' | 'down';
  /** ISO time of the last answer. */
  readonly lastSeen: string | null;
  /** Code of the last failed call (peer_timeout, peer_tls_failed, peer_rate_limited, ...). */
  readonly lastError: string | null;
  readonly lastErrorAt: string | null;
}

export interface FanOutOptions {
  readonly token?: string | undefined;
  readonly actor: string;
  /** One id for the whole fan-out; each peer's audit entry carries it with its own peer id. */
  readonly correlationId?: string | undefined;
  /** The whole fan-out ends by then; a peer that has not answered counts as down. */
  readonly deadlineMs: number;
  readonly signal?: AbortSignal | undefined;
  /** Only these peers (by id), when the caller has already ruled some out. */
  readonly only?: ReadonlySet<string> | undefined;
}

export interface FanOutResult {
  readonly peer: string;
  readonly zone: 'on-prem' | 'cloud';
  readonly result: PeerResult;
}

interface MutableStatus {
  status: PeerStatus['status'];
  lastSeen: number | undefined;
  lastError: string | undefined;
  lastErrorAt: number | undefined;
}

/**
 * What this deployment knows about its peers, from real calls and a periodic health
 * ping. A peer being down is a status to report, never an error: each side keeps
 * working alone.
 */
export class PeerDirectory {
  readonly #peers: readonly PeerConfig[];
  readonly #client: PeerClient;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #status = new Map<string, MutableStatus>();
  #timer: NodeJS.Timeout | undefined;
  #pinging: Promise<void> | undefined;

  constructor(peers: readonly PeerConfig[], client: PeerClient, options: { healthIntervalMs: number; now?: () => number }) {
    this.#peers = peers;
    this.#client = client;
    this.#intervalMs = options.healthIntervalMs;
    this.#now = options.now ?? Date.now;
    for (const p of peers) this.#status.set(p.id, { status: 'unknown', lastSeen: undefined, lastError: undefined, lastErrorAt: undefined });
  }

  /** Feeds a call's result into the peer's status; the client calls it for every call. */
  observe(peerId: string, result: PeerResult): void {
    const s = this.#status.get(peerId);
    if (s === undefined) return;
    const now = this.#now();
    if (result.ok || result.httpStatus !== undefined) {
      s.status = 'up';
      s.lastSeen = now;
    } else if (result.status === 'down') {
      s.status = 'down';
    }
    if (!result.ok && result.code !== 'aborted') {
      s.lastError = result.code;
      s.lastErrorAt = now;
    }
  }

  snapshot(): PeerStatus[] {
    return this.#peers.map((p) => {
      const s = this.#status.get(p.id);
      const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());
      return { id: p.id, zone: p.zone, status: s?.status ?? 'unknown', lastSeen: iso(s?.lastSeen), lastError: s?.lastError ?? null, lastErrorAt: iso(s?.lastErrorAt) };
    });
  }

  /** Pings every peer we may call `health` on, in parallel; statuses update through observe. */
  async ping(): Promise<void> {
    const ids = this.#client.peersFor('health').map((p) => p.id);
    await Promise.all(ids.map((id) => this.#client.call(id, 'health', {}, { actor: 'system' })));
  }

  /** Starts the periodic ping (first one now). A ping still running is not overlapped. */
  start(): void {
    if (this.#timer !== undefined || this.#intervalMs === 0) return;
    const tick = (): void => {
      if (this.#pinging !== undefined) return;
      this.#pinging = this.ping().finally(() => {
        this.#pinging = undefined;
      });
    };
    this.#timer = setInterval(tick, this.#intervalMs);
    this.#timer.unref();
    tick();
  }

  /** Stops the ping and waits for one in flight. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#pinging;
  }

  /**
   * Calls every peer we may call `operation` on, in parallel, and returns one result
   * per peer by the deadline. Peers that are down are in the results; nothing here
   * rejects.
   */
  async fanOut(operation: PeerOperation, body: JsonValue, options: FanOutOptions): Promise<FanOutResult[]> {
    const correlationId = options.correlationId ?? randomUUID();
    const deadline = AbortSignal.timeout(options.deadlineMs);
    const signal = options.signal === undefined ? deadline : AbortSignal.any([options.signal, deadline]);
    const peers = this.#client.peersFor(operation).filter((p) => options.only === undefined || options.only.has(p.id));
    return Promise.all(
      peers.map(async (p) => ({
        peer: p.id,
        zone: p.zone,
        result: await this.#client.call(p.id, operation, body, { token: options.token, actor: options.actor, correlationId, signal }),
      })),
    );
  }
}
