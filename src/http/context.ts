import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ANONYMOUS, type Principal } from '../domain/principal.js';
import { newRequestContext, type RequestContext } from '../pipeline/context.js';
import type { HttpServices } from './server.js';
import { startRequestTrace } from '../telemetry/tracing.js';
import type { WireProtocol } from './errors.js';
import { CORRELATION_ID } from '../federation/peers/types.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Keeps a caller's x-request-id when it is a plain token, so traces join up; otherwise mints one. */
export function requestIdFor(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * Builds the per-request context. The abort fires when the client's connection
 * closes before the response finished, which is what cancels the upstream call.
 */
export function createContext(request: FastifyRequest, reply: FastifyReply, bodyLabel?: string): RequestContext {
  const controller = new AbortController();
  const res = reply.raw;
  // Past the drain deadline the request is ended like a client abort, but with shutting_down as the reason.
  const deadline = request.deadline;
  const expire = (): void => controller.abort(deadline?.reason);
  deadline?.addEventListener('abort', expire, { once: true });
  res.once('close', () => {
    deadline?.removeEventListener('abort', expire);
    if (!res.writableFinished) controller.abort();
  });
  const header = request.headers['x-perimeter-sensitivity'];
  const callerLabels: string[] = [];
  if (typeof header === 'string' && header.trim() !== '') callerLabels.push(header.trim().toLowerCase());
  if (bodyLabel !== undefined && bodyLabel.trim() !== '') callerLabels.push(bodyLabel.trim().toLowerCase());
  const ctx = newRequestContext({
    requestId: request.id,
    signal: controller.signal,
    receivedAt: request.receivedAt === 0 ? performance.now() : request.receivedAt,
    principal: request.principal ?? ANONYMOUS,
    callerLabels,
    workloadHeader: workloadOf(request),
    preferLowLatency: request.headers['x-perimeter-latency'] === 'low',
    conversationHeader: headerValue(request, 'x-perimeter-conversation'),
    federation: () => federationIdentity(request),
    trace: startRequestTrace(request.id, request.url.startsWith('/v1/embeddings') ? 'embeddings' : 'chat'),
  });
  request.perimeter = ctx;
  return ctx;
}

/**
 * What a call to a peer deployment carries for this request: the caller's SSO token
 * (an API key is this deployment's own secret and never leaves it) and a correlation id
 * both sides audit under.
 */
export function federationIdentity(request: FastifyRequest): { token: string | undefined; correlationId: string } {
  const header = request.headers['x-perimeter-correlation-id'];
  const correlationId = typeof header === 'string' && CORRELATION_ID.test(header) ? header : request.id;
  const auth = request.headers.authorization;
  const token = request.principal?.kind === 'jwt' && typeof auth === 'string' && /^Bearer\s+/i.test(auth) ? auth.replace(/^Bearer\s+/i, '').trim() : undefined;
  return { token, correlationId };
}

export function workloadOf(request: FastifyRequest): string | undefined {
  return headerValue(request, 'x-perimeter-workload');
}

function headerValue(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export function perimeterHeaders(requestId: string, ctx: RequestContext | null | undefined): Record<string, string> {
  const route = ctx?.route;
  return {
    'x-request-id': requestId,
    'x-perimeter-tier': route?.tier ?? 'none',
    'x-perimeter-backend': route?.backendId ?? 'none',
    'x-perimeter-model': route?.model ?? 'none',
    'x-perimeter-sensitivity': ctx?.classification?.level ?? 'none',
    'x-perimeter-rule': ruleHeader(ctx),
    // `none` when the guard did not run (disabled, or the request was refused before it).
    'x-perimeter-injection': ctx?.injection?.verdict ?? 'none',
  };
}

/** The rules that shaped the decision, or the matrix cell when no rule matched. ASCII only. */
function ruleHeader(ctx: RequestContext | null | undefined): string {
  const decision = ctx?.decision;
  if (decision === undefined) return 'none';
  const rules = decision.matchedRules.length > 0 ? decision.matchedRules.join(',') : decision.matrixCell;
  return rules.replace(/[^\x20-\x7e]/g, 'x');
}

export function protocolOf(request: FastifyRequest): WireProtocol {
  if (request.url.startsWith('/v1/messages')) return 'anthropic';
  if (request.url.startsWith('/v1/models') && request.headers['anthropic-version'] !== undefined) return 'anthropic';
  return 'openai';
}

export type RawResponse = ServerResponse;

/** The services this request runs under (set by the first hook). */
export function servicesOf(request: FastifyRequest): HttpServices {
  if (request.services === null) throw new Error('request has no services: the onRequest hook did not run');
  return request.services;
}

declare module 'fastify' {
  interface FastifyRequest {
    services: HttpServices | null;
    perimeter: RequestContext | null;
    /** Set by the authentication hook on /v1 routes. */
    principal: Principal | null;
    /** Aborts when the drain deadline passes during shutdown; its reason is a shutting_down GatewayError. */
    deadline: AbortSignal | null;
  }
}
