import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { GatewayError } from '../domain/errors.js';
import type { Authenticator } from '../identity/authenticate.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { RequestRecords } from '../record/request-records.js';
import { finishRecord, recordInfo } from './records.js';
import { performance } from 'node:perf_hooks';
import { modelsToAnthropic } from './anthropic/mapper.js';
import { registerAnthropicRoutes } from './anthropic/routes.js';
import { ANONYMOUS } from '../domain/principal.js';
import { perimeterHeaders, protocolOf, requestIdFor, workloadOf } from './context.js';
import { errorBody, fromFrameworkError } from './errors.js';
import { modelsToOpenAI } from './openai/mapper.js';
import { registerOpenAIRoutes } from './openai/routes.js';
import { registerPerimeterRoutes } from './perimeter/routes.js';

export interface HttpOptions {
  pipeline: Pipeline;
  authenticator: Authenticator;
  records: RequestRecords;
  /** Prometheus exposition for GET /metrics. */
  metrics: () => Promise<{ contentType: string; body: string }>;
  logger: Logger;
  bodyLimitBytes: number;
}

export interface HttpServer {
  readonly app: FastifyInstance;
  /** Once set, readiness fails so load balancers stop sending new work. */
  setDraining(): void;
}

export function createHttpServer(options: HttpOptions): HttpServer {
  const { pipeline, logger } = options;
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
  // Authentication runs before the body is parsed, so an unauthenticated caller learns
  // nothing about the request format and costs no parsing.
  app.addHook('onRequest', async (request) => {
    request.receivedAt = performance.now();
    if (request.url.startsWith('/v1/')) request.principal = await options.authenticator.authenticate(request.headers);
  });
  // JSON only: any other body type is refused with 415 rather than parsed as text.
  app.removeContentTypeParser(['text/plain']);
  let draining = false;
  const startedAt = Math.floor(Date.now() / 1000);

  // One decision record per inference request, written after the answer has gone out.
  app.addHook('onResponse', async (request) => finishRecord(options.records, request));

  registerOpenAIRoutes(app, pipeline, options.records);
  registerAnthropicRoutes(app, pipeline, options.records);
  registerPerimeterRoutes(app, pipeline);

  app.get('/v1/models', async (request, reply) => {
    reply.headers(perimeterHeaders(request.id, null));
    const models = pipeline.models(request.principal ?? ANONYMOUS, workloadOf(request));
    if (protocolOf(request) === 'anthropic') return modelsToAnthropic(models, new Date(startedAt * 1000).toISOString());
    return modelsToOpenAI(models, startedAt);
  });

  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await options.metrics();
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
