import { randomUUID } from 'node:crypto';
import { Pool, type Dispatcher } from 'undici';
import type { JsonValue } from '../../domain/json.js';
import type { PeerConfig, PeerOperation } from '../config.js';
import { CORRELATION_HEADER, DEPLOYMENT_HEADER, FEDERATION_PATH_PREFIX, type AuditSink, type PeerIdentity } from './types.js';

/** Our certificate and key when calling peers, and the CA bundle used when a peer names none. */
export interface ClientTls {
  readonly cert: string;
  readonly key: string;
  readonly ca: string | undefined;
}

export interface PeerClientOptions {
  readonly deploymentId: string;
  readonly peers: readonly PeerConfig[];
  readonly tls: ClientTls | undefined;
  /** PEM CA bundle per peer id; overrides tls.ca for that peer. */
  readonly peerCas: ReadonlyMap<string, string>;
  readonly audit: AuditSink;
  readonly maxMessageBytes: number;
  readonly auditHealthChecks: boolean;
  /** Told about every result, so the directory can keep peer status without wrapping the client. */
  readonly onResult?: (peerId: string, result: PeerResult) => void;
}

export interface CallOptions {
  /** The end user's bearer token (a JWT), forwarded as-is; never an API key. */
  readonly token?: string | undefined;
  /** Shared with the peer's audit entry; a fresh one is made when absent. */
  readonly correlationId?: string | undefined;
  /** Who the call is for in our audit trail: a principal id or `system`. */
  readonly actor: string;
  readonly signal?: AbortSignal | undefined;
}

/**
 * How a peer call ended. `down`: no answer (unreachable, TLS refused, timed out);
 * `refused`: the peer or our own config said no (401/403/429); `error`: any other
 * failure, including an answer we would not accept.
 */
export type PeerResult =
  | { readonly ok: true; readonly correlationId: string; readonly body: JsonValue }
  | {
      readonly ok: false;
      readonly correlationId: string;
      readonly status: 'down' | 'refused' | 'error';
      readonly code: string;
      readonly httpStatus?: number;
      /** Seconds, from the peer's Retry-After. */
      readonly retryAfter?: number;
    };

type Failure = Extract<PeerResult, { ok: false }>;

interface PeerLink {
  readonly config: PeerConfig;
  readonly pool: Pool;
  readonly basePath: string;
  readonly calls: readonly PeerOperation[];
}

const SAFE_CODE = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * Calls peer deployments over mutual TLS: one keep-alive pool per peer, always
 * verifying the peer against its CA and presenting our certificate. It never throws
 * for a network failure; every call, answered or not, appends one audit entry with
 * the correlation id the peer records too. A body is handed back only once its audit
 * entry is written.
 */
export class PeerClient {
  readonly #options: PeerClientOptions;
  readonly #links = new Map<string, PeerLink>();

  constructor(options: PeerClientOptions) {
    this.#options = options;
    for (const config of options.peers) {
      const tls = options.tls;
      if (tls === undefined) continue;
      const url = new URL(config.url);
      const ca = options.peerCas.get(config.id) ?? tls.ca;
      // The schema refuses a peer without any CA; a missing one here must not fall back to public roots.
      if (ca === undefined) continue;
      const pool = new Pool(url.origin, {
        connections: 8,
        headersTimeout: config.timeoutMs,
        bodyTimeout: config.timeoutMs,
        connect: {
          ca,
          cert: tls.cert,
          key: tls.key,
          rejectUnauthorized: true,
          minVersion: 'TLSv1.2',
          timeout: config.timeoutMs,
          ...(config.servername === undefined ? {} : { servername: config.servername }),
        },
      });
      this.#links.set(config.id, { config, pool, basePath: url.pathname.replace(/\/+$/, ''), calls: config.calls ?? config.operations });
    }
  }

  /** Peers we may call with this operation. */
  peersFor(operation: PeerOperation): PeerIdentity[] {
    return [...this.#links.values()].filter((l) => l.calls.includes(operation)).map((l) => ({ id: l.config.id, zone: l.config.zone }));
  }

  async call(peerId: string, operation: PeerOperation, body: JsonValue, options: CallOptions): Promise<PeerResult> {
    const correlationId = options.correlationId ?? randomUUID();
    const link = this.#links.get(peerId);
    let result: PeerResult;
    if (link === undefined) {
      result = { ok: false, correlationId, status: 'refused', code: 'peer_unknown' };
    } else if (!link.calls.includes(operation)) {
      result = { ok: false, correlationId, status: 'refused', code: 'peer_operation_forbidden' };
    } else {
      result = await this.#send(link, operation, body, correlationId, options);
    }
    result = await this.#audit(peerId, link?.config.zone, operation, options.actor, result);
    this.#options.onResult?.(peerId, result);
    return result;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#links.values()].map((l) => l.pool.close()));
  }

  async #send(link: PeerLink, operation: PeerOperation, body: JsonValue, correlationId: string, options: CallOptions): Promise<PeerResult> {
    const timeout = AbortSignal.timeout(link.config.timeoutMs);
    const signal = options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout]);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json',
      [CORRELATION_HEADER]: correlationId,
      [DEPLOYMENT_HEADER]: this.#options.deploymentId,
    };
    if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
    const max = this.#options.maxMessageBytes;
    try {
      const response = await link.pool.request({
        method: 'POST',
        path: `${link.basePath}${FEDERATION_PATH_PREFIX}${operation}`,
        headers,
        body: JSON.stringify(body),
        signal,
      });
      const text = await readBounded(response.body, response.headers['content-length'], max);
      if (text === undefined) return { ok: false, correlationId, status: 'error', code: 'peer_response_too_large', httpStatus: response.statusCode };
      let parsed: JsonValue;
      try {
        parsed = JSON.parse(text) as JsonValue;
      } catch {
        return { ok: false, correlationId, status: 'error', code: 'peer_response_invalid', httpStatus: response.statusCode };
      }
      if (response.statusCode >= 200 && response.statusCode < 300) return { ok: true, correlationId, body: parsed };
      const code = errorCode(parsed);
      const refused = response.statusCode === 401 || response.statusCode === 403 || response.statusCode === 429;
      const retryAfter = Number(response.headers['retry-after']);
      return {
        ok: false,
        correlationId,
        status: refused ? 'refused' : 'error',
        code,
        httpStatus: response.statusCode,
        ...(Number.isFinite(retryAfter) && retryAfter >= 0 ? { retryAfter } : {}),
      };
    } catch (err) {
      return failure(err, signal, correlationId);
    }
  }

  async #audit(peerId: string, zone: string | undefined, operation: PeerOperation, actor: string, result: PeerResult): Promise<PeerResult> {
    if (operation === 'health' && result.ok && !this.#options.auditHealthChecks) return result;
    const data: Record<string, JsonValue> = {
      peer: peerId,
      zone: zone ?? null,
      direction: 'outbound',
      status: result.ok ? 200 : (result.httpStatus ?? null),
      result: result.ok ? 'ok' : result.status,
      ...(result.ok ? {} : { code: result.code }),
    };
    try {
      await this.#options.audit.append({
        kind: 'federation',
        action: `federation.${operation}`,
        actor,
        subject: result.correlationId,
        outcome: result.ok ? 'success' : 'failure',
        data,
      });
      return result;
    } catch {
      // An answer whose call is not on record is not used.
      return { ok: false, correlationId: result.correlationId, status: 'error', code: 'audit_unavailable', ...(result.ok ? { httpStatus: 200 } : {}) };
    }
  }
}

/** The body as text, or undefined once it passes `max` bytes (the rest is not read). */
async function readBounded(body: Dispatcher.ResponseData['body'], contentLength: string | string[] | undefined, max: number): Promise<string | undefined> {
  // Destroying the body rejects its pending reads; that abort is ours and expected.
  body.on('error', () => undefined);
  if (typeof contentLength === 'string' && Number(contentLength) > max) {
    body.destroy();
    return undefined;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) {
      body.destroy();
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The peer's error code, if it is shaped like one of ours; a peer's free text never travels further. */
function errorCode(body: JsonValue): string {
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
    const error = body['error'];
    if (error !== null && typeof error === 'object' && !Array.isArray(error)) {
      const code = error['code'];
      if (typeof code === 'string' && SAFE_CODE.test(code)) return code;
    }
  }
  return 'peer_error';
}

const TLS_CODE = /CERT|SSL|TLS|ALTNAME|SIGNATURE|ISSUER/;

function failure(err: unknown, signal: AbortSignal, correlationId: string): Failure {
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    const timedOut = reason instanceof Error && reason.name === 'TimeoutError';
    // A caller that gave up says nothing about the peer.
    return timedOut ? { ok: false, correlationId, status: 'down', code: 'peer_timeout' } : { ok: false, correlationId, status: 'error', code: 'aborted' };
  }
  const code = errCode(err);
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return { ok: false, correlationId, status: 'down', code: 'peer_timeout' };
  }
  if (code !== undefined && TLS_CODE.test(code)) return { ok: false, correlationId, status: 'down', code: 'peer_tls_failed' };
  return { ok: false, correlationId, status: 'down', code: 'peer_unreachable' };
}

function errCode(err: unknown): string | undefined {
  // undici wraps socket errors; the TLS reason is on the error or its cause.
  for (let e: unknown = err, depth = 0; e !== null && typeof e === 'object' && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
