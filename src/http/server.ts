import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { GatewayError } from '../domain/errors.js';
import type { Authenticator } from '../identity/authenticate.js';
import type { Pipeline } from '../pipeline/pipeline.js';
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
  // Authentication runs before the body is parsed, so an unauthenticated caller learns
  // nothing about the request format and costs no parsing.
  app.addHook('onRequest', async (request) => {
    if (request.url.startsWith('/v1/')) request.principal = await options.authenticator.authenticate(request.headers);
  });
  // JSON only: any other body type is refused with 415 rather than parsed as text.
  app.removeContentTypeParser(['text/plain']);
  let draining = false;
  const startedAt = Math.floor(Date.now() / 1000);

  registerOpenAIRoutes(app, pipeline);
  registerAnthropicRoutes(app, pipeline);
  registerPerimeterRoutes(app, pipeline);

  app.get('/v1/models', async (request, reply) => {
    reply.headers(perimeterHeaders(request.id, null));
    const models = pipeline.models(request.principal ?? ANONYMOUS, workloadOf(request));
    if (protocolOf(request) === 'anthropic') return modelsToAnthropic(models, new Date(startedAt * 1000).toISOString());
    return modelsToOpenAI(models, startedAt);
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
