import { randomUUID, X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { ZodError } from 'zod';
import { GatewayError, toGatewayError } from '../../domain/errors.js';
import type { JsonValue } from '../../domain/json.js';
import type { Principal } from '../../domain/principal.js';
import { fromFrameworkError } from '../../http/errors.js';
import { looksLikeApiKey } from '../../identity/api-key.js';
import type { HeaderBag } from '../../identity/authenticate.js';
import { DEPLOYMENT_OPERATIONS, PEER_OPERATIONS, type PeerConfig, type PeerOperation } from '../config.js';
import { TokenBucket } from './token-bucket.js';
import {
  CORRELATION_HEADER,
  CORRELATION_ID,
  DEPLOYMENT_HEADER,
  FEDERATION_PATH_PREFIX,
  type AuditSink,
  type PeerHandler,
  type PeerIdentity,
} from './types.js';

/** PEM material for the listener, already resolved from gateway secret references. */
export interface ListenerTls {
  readonly cert: string;
  readonly key: string;
  /** Every CA whose client certificates may reach the HTTP layer at all. */
  readonly ca: string;
}

export interface FederationServerOptions {
  readonly deploymentId: string;
  readonly host: string;
  readonly port: number;
  readonly tls: ListenerTls;
  readonly peers: readonly PeerConfig[];
  /** PEM CA bundle per peer id, for peers whose certificate must chain through their own CA. */
  readonly peerCas: ReadonlyMap<string, string>;
  readonly authenticate: (headers: HeaderBag) => Promise<Principal>;
  readonly audit: AuditSink;
  readonly logger: Logger;
  readonly maxMessageBytes: number;
  readonly auditHealthChecks: boolean;
  readonly now?: () => number;
}

interface KnownPeer {
  readonly config: PeerConfig;
  readonly bucket: TokenBucket;
  /** sha256 fingerprints of the peer's own CA certificates; undefined = any trusted CA. */
  readonly pinned: ReadonlySet<string> | undefined;
}

/** What is known about an inbound call when it is answered; each check fills in more. */
interface CallState {
  readonly correlationId: string;
  peer: KnownPeer | undefined;
  operation: PeerOperation | undefined;
  principal: Principal | undefined;
  /** Set when the certificate named no configured peer: which certificate it was, not what it said. */
  certFingerprint: string | undefined;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
/** A chain longer than this is not one we issued; the walk stops there. */
const MAX_CHAIN = 8;

/** sha256 fingerprints (Node's colon-separated form) of every certificate in a PEM bundle. */
export function bundleFingerprints(pem: string): Set<string> {
  const out = new Set<string>();
  for (const block of pem.match(PEM_CERT) ?? []) out.add(new X509Certificate(block).fingerprint256);
  return out;
}

/**
 * The listener other deployments call. The TLS handshake already refuses a client
 * without a certificate from a trusted CA; on top of that the certificate's subject
 * CN must name a configured peer, the peer's token bucket must have a token, the
 * operation must be on that peer's allow-list, and user operations must carry the end
 * user's JWT, validated here as it was at the calling deployment. Every call that
 * reaches HTTP is answered with exactly one audit entry, refused ones included.
 */
export class FederationServer {
  readonly #options: FederationServerOptions;
  readonly #peers: ReadonlyMap<string, KnownPeer>;
  readonly #handlers = new Map<PeerOperation, PeerHandler>();
  readonly #inflight = new Set<AbortController>();
  #app: FastifyInstance | undefined;
  #tlsRefusals = 0;

  constructor(options: FederationServerOptions) {
    this.#options = options;
    const peers = new Map<string, KnownPeer>();
    for (const config of options.peers) {
      const ca = options.peerCas.get(config.id);
      peers.set(config.id, {
        config,
        bucket: new TokenBucket({ ...config.rateLimit, ...(options.now === undefined ? {} : { now: options.now }) }),
        pinned: ca === undefined ? undefined : bundleFingerprints(ca),
      });
    }
    this.#peers = peers;
  }

  /** Registers what an operation does; a registered handler replaces the previous one. */
  handle(operation: PeerOperation, handler: PeerHandler): void {
    this.#handlers.set(operation, handler);
  }

  /** TLS handshakes refused since start (no or untrusted client certificate); logged, not audited. */
  get tlsRefusals(): number {
    return this.#tlsRefusals;
  }

  async start(): Promise<AddressInfo> {
    if (this.#app !== undefined) throw new Error('federation listener already started');
    const { tls, maxMessageBytes } = this.#options;
    const app = Fastify({
      https: { cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
      bodyLimit: maxMessageBytes,
      return503OnClosing: true,
      keepAliveTimeout: 65_000,
      forceCloseConnections: 'idle',
    });
    // Handshake failures never reach HTTP: an unauthenticated party must not be able to grow the audit chain.
    app.server.on('tlsClientError', (err: NodeJS.ErrnoException) => {
      this.#tlsRefusals++;
      this.#options.logger.warn({ federation: 'tls_refused', code: err.code ?? 'unknown' }, 'peer TLS handshake refused');
    });
    app.removeContentTypeParser(['text/plain', 'application/json']);
    // Parsed in the handler, after the peer is known, so refusals never depend on the body.
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => done(null, body));
    app.post(`${FEDERATION_PATH_PREFIX}:operation`, (request, reply) => this.#serve(request, reply));
    app.setNotFoundHandler((request, reply) => this.#refuse(request, reply, new GatewayError('not_found', 'No such federation operation.')));
    app.setErrorHandler((err, request, reply) => this.#refuse(request, reply, fromFrameworkError(err)));
    try {
      await app.listen({ host: this.#options.host, port: this.#options.port });
    } catch (err) {
      await app.close();
      throw err;
    }
    this.#app = app;
    return app.server.address() as AddressInfo;
  }

  /** Stops accepting calls, aborts the handlers still running and waits for their answers. */
  async close(): Promise<void> {
    const app = this.#app;
    this.#app = undefined;
    if (app === undefined) return;
    for (const controller of this.#inflight) controller.abort(new GatewayError('upstream_unavailable', 'federation listener closing'));
    await app.close();
  }

  async #serve(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const state = this.#state(request);
    const controller = new AbortController();
    this.#inflight.add(controller);
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) controller.abort(new GatewayError('client_closed_request', 'peer closed the connection'));
    });
    try {
      const peer = this.#identify(request, state);
      // Every call a peer makes costs a token, refused ones too, so none can flood the audit trail.
      const token = peer.bucket.take();
      if (!token.ok) {
        this.#tryOperation(request, state);
        throw new GatewayError('peer_rate_limited', `Peer ${peer.config.id} is over its rate limit.`, { retryAfter: token.retryAfterSeconds });
      }
      const operation = this.#operation(request, state);
      if (!peer.config.operations.includes(operation)) {
        throw new GatewayError('peer_operation_forbidden', `Peer ${peer.config.id} may not call ${operation}.`);
      }
      state.principal = await this.#endUser(request.headers, operation);
      const handler = this.#handlers.get(operation);
      if (handler === undefined) throw new GatewayError('not_implemented', `${operation} is not offered by this deployment.`);
      const body = parseBody(request.body);
      const result = await handler({
        operation,
        peer: { id: peer.config.id, zone: peer.config.zone } satisfies PeerIdentity,
        principal: state.principal,
        correlationId: state.correlationId,
        body,
        signal: controller.signal,
      });
      await this.#answer(reply, state, 200, result.body, result.audit ?? {}, undefined);
    } catch (err) {
      await this.#answerError(reply, state, err);
    } finally {
      this.#inflight.delete(controller);
    }
  }

  /** Framework-level refusals (404, 413, 415, unreadable body): still identified and audited. */
  async #refuse(request: FastifyRequest, reply: FastifyReply, error: GatewayError): Promise<void> {
    const state = this.#state(request);
    let answer = error;
    try {
      const peer = this.#identify(request, state);
      const token = peer.bucket.take();
      if (!token.ok) answer = new GatewayError('peer_rate_limited', `Peer ${peer.config.id} is over its rate limit.`, { retryAfter: token.retryAfterSeconds });
    } catch (err) {
      answer = toGatewayError(err);
    }
    this.#tryOperation(request, state);
    await this.#answerError(reply, state, answer);
  }

  /** Names the operation in the audit entry when it is a known one; a refusal already decided stands. */
  #tryOperation(request: FastifyRequest, state: CallState): void {
    try {
      this.#operation(request, state);
    } catch {
      // Left as federation.unknown.
    }
  }

  #state(request: FastifyRequest): CallState {
    const supplied = request.headers[CORRELATION_HEADER];
    const valid = typeof supplied === 'string' && CORRELATION_ID.test(supplied);
    return { correlationId: valid ? supplied : randomUUID(), peer: undefined, operation: undefined, principal: undefined, certFingerprint: undefined };
  }

  /** The calling deployment, from the verified client certificate only; headers never say who calls. */
  #identify(request: FastifyRequest, state: CallState): KnownPeer {
    const socket = request.raw.socket as TLSSocket;
    const cert = socket.authorized ? socket.getPeerCertificate(true) : undefined;
    if (cert === undefined || Object.keys(cert).length === 0) {
      // Unreachable with rejectUnauthorized; kept so a TLS setting changed later cannot open the door.
      throw new GatewayError('peer_unknown', 'A verified client certificate is required.');
    }
    const cn: unknown = cert.subject.CN;
    const peer = typeof cn === 'string' ? this.#peers.get(cn) : undefined;
    if (peer === undefined || (peer.pinned !== undefined && !chainsThrough(cert, peer.pinned))) {
      state.certFingerprint = cert.fingerprint256;
      throw new GatewayError('peer_unknown', 'The client certificate does not name a configured peer deployment.');
    }
    state.peer = peer;
    return peer;
  }

  #operation(request: FastifyRequest, state: CallState): PeerOperation {
    const params = request.params as { operation?: unknown } | undefined;
    const name = params?.operation;
    const operation = PEER_OPERATIONS.find((op) => op === name);
    if (operation === undefined) throw new GatewayError('not_found', 'No such federation operation.');
    state.operation = operation;
    return operation;
  }

  /**
   * The end user, from their own bearer token, checked against the same issuers as at
   * the calling deployment. API keys stay inside the deployment that issued them.
   */
  async #endUser(headers: HeaderBag, operation: PeerOperation): Promise<Principal | undefined> {
    const authorization = headers['authorization'];
    if (authorization === undefined || authorization === '') {
      if (DEPLOYMENT_OPERATIONS.has(operation)) return undefined;
      throw new GatewayError('authentication_failed', `${operation} runs as an end user: send the user's bearer token.`);
    }
    if (typeof authorization !== 'string') throw new GatewayError('authentication_failed', 'Send one Authorization header.');
    const token = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization)?.[1];
    if (token !== undefined && looksLikeApiKey(token)) {
      throw new GatewayError('authentication_failed', 'API keys are not accepted across deployments; send the user\'s bearer token.');
    }
    // Only the Authorization header: an x-api-key forwarded by mistake must not be tried.
    const principal = await this.#options.authenticate({ authorization });
    if (principal.kind !== 'jwt') throw new GatewayError('authentication_failed', 'Peer calls run as a token-authenticated user.');
    return principal;
  }

  async #answerError(reply: FastifyReply, state: CallState, err: unknown): Promise<void> {
    const error = err instanceof ZodError ? bodyError(err) : toGatewayError(err);
    if (error.code === 'internal_error') {
      this.#options.logger.error({ federation: 'handler_failed', peer: state.peer?.config.id, operation: state.operation, correlationId: state.correlationId, errName: errorName(err) }, 'federation call failed');
    }
    if (error.retryAfter !== undefined) void reply.header('retry-after', String(error.retryAfter));
    const message = error.code === 'internal_error' ? 'internal error' : error.message;
    await this.#answer(reply, state, error.status, { error: { code: error.code, message } }, {}, error.code);
  }

  async #answer(reply: FastifyReply, state: CallState, status: number, body: JsonValue, extra: { readonly [key: string]: JsonValue }, code: string | undefined): Promise<void> {
    const { peer, operation, principal, correlationId } = state;
    const skip = operation === 'health' && status === 200 && !this.#options.auditHealthChecks;
    if (!skip) {
      const data: Record<string, JsonValue> = {
        ...extra,
        peer: peer?.config.id ?? null,
        zone: peer?.config.zone ?? null,
        direction: 'inbound',
        status,
        ...(code === undefined ? {} : { code }),
        ...(state.certFingerprint === undefined ? {} : { certFingerprint: state.certFingerprint }),
      };
      try {
        await this.#options.audit.append({
          kind: 'federation',
          action: `federation.${operation ?? 'unknown'}`,
          actor: principal?.id ?? (peer === undefined ? 'peer:unknown' : `peer:${peer.config.id}`),
          subject: correlationId,
          outcome: status < 400 ? 'success' : 'failure',
          data,
        });
      } catch (err) {
        // No answer leaves without its audit entry.
        this.#options.logger.error({ federation: 'audit_failed', correlationId, errName: errorName(err) }, 'federation audit append failed');
        status = 500;
        body = { error: { code: 'internal_error', message: 'internal error' } };
      }
    }
    await reply
      .code(status)
      .header(CORRELATION_HEADER, correlationId)
      .header(DEPLOYMENT_HEADER, this.#options.deploymentId)
      .type('application/json')
      .send(JSON.stringify(body));
  }
}

function parseBody(raw: unknown): unknown {
  if (raw === undefined || raw === null || raw === '') return {};
  if (typeof raw !== 'string') throw new GatewayError('unsupported_media_type', 'Content-Type must be application/json.');
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new GatewayError('invalid_request', 'Request body is not valid JSON.');
  }
}

/** Handlers validate bodies with zod; a mismatch is the caller's error, named by path only. */
function bodyError(err: ZodError): GatewayError {
  const path = err.issues[0]?.path.map(String).join('.');
  return new GatewayError('invalid_request', 'The request body does not match the operation.', path === undefined || path === '' ? {} : { param: path });
}

/** Whether the verified chain passes through one of the pinned CA certificates. */
function chainsThrough(cert: DetailedPeerCertificate, pinned: ReadonlySet<string>): boolean {
  let current: DetailedPeerCertificate | undefined = cert;
  for (let depth = 0; current !== undefined && depth < MAX_CHAIN; depth++) {
    if (pinned.has(current.fingerprint256)) return true;
    const next: DetailedPeerCertificate | undefined = current.issuerCertificate;
    if (next === undefined || next === current || next.fingerprint256 === current.fingerprint256) return false;
    current = next;
  }
  return false;
}

function errorName(err: unknown): string {
  return err instanceof Error ? err.name : typeof err;
}
