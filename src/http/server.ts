import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { setMaxListeners } from 'node:events';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { GatewayError } from '../domain/errors.js';
import type { Authenticator } from '../identity/authenticate.js';
import type { Authorizer } from '../identity/authorize.js';
import type { ApiKeyService } from '../identity/keys.js';
import type { AuditLog } from '../record/audit.js';
import { registerAdminRoutes } from './admin/routes.js';
import type { DashboardSources } from './ui/sources.js';
import { registerDashboardRoutes } from './ui/routes.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { RequestRecords } from '../record/request-records.js';
import { finishRecord, operationOf, recordInfo } from './records.js';
import { performance } from 'node:perf_hooks';
import { modelsToAnthropic } from './anthropic/mapper.js';
import { registerAnthropicRoutes } from './anthropic/routes.js';
import { ANONYMOUS, type Principal } from '../domain/principal.js';
import type { PeerModel } from '../federation/peer-models.js';
import { federationIdentity, perimeterHeaders, protocolOf, requestIdFor, servicesOf, workloadOf } from './context.js';
import { errorBody, fromFrameworkError } from './errors.js';
import { modelsToOpenAI } from './openai/mapper.js';
import { registerOpenAIRoutes } from './openai/routes.js';
import { registerPerimeterRoutes } from './perimeter/routes.js';
import type { BasesApi } from '../federation/bases/api.js';
import { registerBasesRoutes } from './bases/routes.js';

/** What the HTTP layer needs from one generation of services (see compose's Live). */
export interface HttpServices {
  readonly pipeline: Pipeline;
  readonly authenticator: Authenticator;
  readonly authorizer: Authorizer;
  readonly keys: ApiKeyService;
  readonly records: RequestRecords;
  /** The hash-chained audit trail, when records are enabled. */
  readonly audit: AuditLog | undefined;
  /** Knowledge Bases (/v1/bases); undefined when none are configured. */
  readonly bases: BasesApi | undefined;
  /** Prometheus exposition for GET /metrics. */
  metrics(): Promise<{ contentType: string; body: string }>;
  /** For GET /admin/health: ids, states and counts only. */
  health(): object;
  policy(): object;
  readonly deploymentId: string;
  /** Peer deployments' models for this user (federated catalogue); empty without federation. */
  peerModels(who: { principal: Principal; token: string | undefined; correlationId: string }): Promise<readonly PeerModel[]>;
  /** Read-only views for the dashboard's /admin/stats and /admin/records endpoints. */
  readonly dashboard: DashboardSources;
}

export interface HttpOptions {
  /** The services now serving; read once per request. */
  live: { readonly current: HttpServices };
  logger: Logger;
  bodyLimitBytes: number;
  /** Inference requests served at once by this process; more get 503 overloaded. */
  maxInFlight: number;
  /** Re-reads and applies the config; a bad file changes nothing. */
  reload(): Promise<{ ok: boolean; problems: readonly string[]; policyVersion: string; needsRestart: readonly string[] }>;
}

export interface HttpServer {
  readonly app: FastifyInstance;
  /**
   * Once set, readiness fails, new inference requests get 503 shutting_down, and
   * connections close after their current response instead of being kept alive.
   */
  setDraining(): void;
  /**
   * The drain deadline passed: every open inference request is ended with
   * shutting_down (a stream gets a final error event, not a silent cut).
   */
  expire(): void;
  /** Inference requests admitted and not yet finished. */
  inFlight(): number;
  /** Resolves once every admitted inference request has handed its record to the recorder. */
  recorded(): Promise<void>;
}

/** Seconds a client is asked to wait after overloaded or shutting_down. */
const RETRY_AFTER_S = 1;

export function createHttpServer(options: HttpOptions): HttpServer {
  const { logger, live } = options;
  const fastifyLogger: FastifyBaseLogger = logger;
  const app: FastifyInstance = Fastify({
    loggerInstance: fastifyLogger,
    // Per-request lines would be framework-shaped and could carry URLs; records cover requests instead.
    logController: new LogController({ disableRequestLogging: true }),
    // Fastify would make a pino child per request just to bind reqId; our few request-level
    // log lines carry requestId themselves, so the shared logger saves that on every request.
    childLoggerFactory: (parent) => parent,
    bodyLimit: options.bodyLimitBytes,
    genReqId: requestIdFor,
    // Requests that reach a closing server get our envelope and a record (shutting_down), not Fastify's bare 503.
    return503OnClosing: false,
    // Streams can run for minutes; the upstream timeouts bound them instead.
    connectionTimeout: 0,
    keepAliveTimeout: 65_000,
  });
  app.decorateRequest('perimeter', null);
  app.decorateRequest('principal', null);
  app.decorateRequest('recordInfo', null);
  app.decorateRequest('receivedAt', 0);
  app.decorateRequest('services', null);
  app.decorateRequest('deadline', null);
  let draining = false;
  const deadline = new AbortController();
  // Every in-flight request listens for the drain deadline (bounded by maxInFlight), so
  // the default of 10 listeners would print a false leak warning under load.
  setMaxListeners(Infinity, deadline.signal);
  // Inference requests admitted and not yet closed, with the socket each arrived on.
  const open = new Map<ServerResponse, Socket>();
  const unrecorded = new Set<FastifyRequest>();
  const waiting: (() => void)[] = [];
  const admit = (request: FastifyRequest, res: ServerResponse): void => {
    const socket = request.raw.socket;
    open.set(res, socket);
    res.once('close', () => open.delete(res));
    const info = recordInfo(request);
    if (info === undefined) return;
    unrecorded.add(request);
    info.onRecorded = () => {
      unrecorded.delete(request);
      if (unrecorded.size === 0) for (const resolve of waiting.splice(0)) resolve();
    };
  };
  // Authentication runs before the body is parsed, so an unauthenticated caller learns
  // nothing about the request format and costs no parsing.
  app.addHook('onRequest', async (request, reply) => {
    request.receivedAt = performance.now();
    // A request keeps the generation of services it arrived under, even across a reload.
    const services = live.current;
    request.services = services;
    request.deadline = deadline.signal;
    // While draining, every answer closes its connection so clients reconnect to another instance.
    if (draining) reply.raw.shouldKeepAlive = false;
    // Admission comes before authentication: shedding load must cost less than serving it.
    if (operationOf(request.url) !== undefined) {
      if (draining) throw new GatewayError('shutting_down', 'This gateway is shutting down; retry the request.', { retryAfter: RETRY_AFTER_S });
      if (open.size >= options.maxInFlight) {
        throw new GatewayError('overloaded', 'This gateway is at its in-flight request limit; retry later.', { retryAfter: RETRY_AFTER_S });
      }
      admit(request, reply.raw);
    }
    if (request.url.startsWith('/v1/') || request.url.startsWith('/admin/')) {
      request.principal = await services.authenticator.authenticate(request.headers);
    }
  });
  // JSON only: any other body type is refused with 415 rather than parsed as text.
  app.removeContentTypeParser(['text/plain']);
  const startedAt = Math.floor(Date.now() / 1000);

  // One decision record per inference request, written after the answer has gone out.
  app.addHook('onResponse', async (request) => finishRecord(servicesOf(request).records, request));

  registerOpenAIRoutes(app);
  registerAnthropicRoutes(app);
  registerPerimeterRoutes(app);
  registerBasesRoutes(app);
  registerAdminRoutes(app, options.reload);
  registerDashboardRoutes(app);

  app.get('/v1/models', async (request, reply) => {
    reply.headers(perimeterHeaders(request.id, null));
    const services = servicesOf(request);
    const principal = request.principal ?? ANONYMOUS;
    const models = services.pipeline.models(principal, workloadOf(request));
    // ?scope=local leaves the peers out; by default their entries come too, marked with their deployment.
    const query = request.query as { scope?: unknown } | undefined;
    const peers = query?.scope === 'local' ? [] : await services.peerModels({ principal, ...federationIdentity(request) });
    if (protocolOf(request) === 'anthropic') return modelsToAnthropic(models, new Date(startedAt * 1000).toISOString(), services.deploymentId, peers);
    return modelsToOpenAI(models, startedAt, services.deploymentId, peers);
  });

  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await live.current.metrics();
    return reply.type(contentType).send(body);
  });

  app.get('/healthz', async (request, reply) => reply.headers(perimeterHeaders(request.id, null)).send({ status: 'ok' }));
  app.get('/readyz', async (request, reply) =>
    reply
      .headers(perimeterHeaders(request.id, null))
      .status(draining ? 503 : 200)
      .send({ status: draining ? 'draining' : 'ready' }),
  );

  app.setNotFoundHandler(async (request, reply) => {
    const error = new GatewayError('not_found', `No route for ${request.method} ${request.url.split('?')[0] ?? ''}.`);
    return reply.status(error.status).headers(perimeterHeaders(request.id, null)).send(errorBody(protocolOf(request), error));
  });

  app.setErrorHandler(async (err, request, reply) => {
    let error = fromFrameworkError(err);
    // The drain deadline aborts the upstream call, which surfaces as a client abort; say what really happened.
    if (error.code === 'client_closed_request' && deadline.signal.aborted && !reply.raw.destroyed) error = shuttingDown();
    const info = recordInfo(request);
    if (info !== undefined) info.error = error;
    if (error.status >= 500) {
      // Codes and causes only: a message or stack may quote request content.
      const cause = error.cause instanceof Error ? error.cause.name : undefined;
      request.log.error({ requestId: request.id, code: error.code, upstreamStatus: error.upstreamStatus, cause }, 'request failed');
    }
    reply.status(error.status).headers(perimeterHeaders(request.id, request.perimeter));
    if (error.retryAfter !== undefined) reply.header('retry-after', String(error.retryAfter));
    return reply.send(errorBody(protocolOf(request), error));
  });

  return {
    app,
    setDraining: () => {
      draining = true;
      for (const [res, socket] of open) {
        // Not answered yet: the answer itself says Connection: close. Streaming already: close after its end.
        if (!res.headersSent) res.shouldKeepAlive = false;
        else if (res.writableFinished) socket.end();
        else res.once('finish', () => socket.end());
      }
    },
    expire: () => {
      if (!deadline.signal.aborted) deadline.abort(shuttingDown());
    },
    inFlight: () => open.size,
    recorded: () =>
      unrecorded.size === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            waiting.push(resolve);
          }),
  };
}

function shuttingDown(): GatewayError {
  return new GatewayError('shutting_down', 'The gateway shut down before this request finished.', { retryAfter: RETRY_AFTER_S });
}
