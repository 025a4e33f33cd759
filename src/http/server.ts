import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
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
import { finishRecord, recordInfo } from './records.js';
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
  /** Re-reads and applies the config; a bad file changes nothing. */
  reload(): Promise<{ ok: boolean; problems: readonly string[]; policyVersion: string; needsRestart: readonly string[] }>;
}

export interface HttpServer {
  readonly app: FastifyInstance;
  /** Once set, readiness fails so load balancers stop sending new work. */
  setDraining(): void;
}

export function createHttpServer(options: HttpOptions): HttpServer {
  const { logger, live } = options;
  const fastifyLogger: FastifyBaseLogger = logger;
  const app: FastifyInstance = Fastify({
    loggerInstance: fastifyLogger,
    // Per-request lines would be framework-shaped and could carry URLs; records cover requests instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimitBytes,
    genReqId: requestIdFor,
    return503OnClosing: true,
    // Streams can run for minutes; the upstream timeouts bound them instead.
    connectionTimeout: 0,
    keepAliveTimeout: 65_000,
  });
  app.decorateRequest('perimeter', null);
  app.decorateRequest('principal', null);
  app.decorateRequest('recordInfo', null);
  app.decorateRequest('receivedAt', 0);
  app.decorateRequest('services', null);
  // Authentication runs before the body is parsed, so an unauthenticated caller learns
  // nothing about the request format and costs no parsing.
  app.addHook('onRequest', async (request) => {
    request.receivedAt = performance.now();
    // A request keeps the generation of services it arrived under, even across a reload.
    const services = live.current;
    request.services = services;
    if (request.url.startsWith('/v1/') || request.url.startsWith('/admin/')) {
      request.principal = await services.authenticator.authenticate(request.headers);
    }
  });
  // JSON only: any other body type is refused with 415 rather than parsed as text.
  app.removeContentTypeParser(['text/plain']);
  let draining = false;
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
    const error = fromFrameworkError(err);
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
    },
  };
}
