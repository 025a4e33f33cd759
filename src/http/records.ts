import { performance } from 'node:perf_hooks';
import type { FastifyRequest } from 'fastify';
import type { ChatRequest, EmbeddingRequest, Usage } from '../domain/chat.js';
import { ANONYMOUS } from '../domain/principal.js';
import { newRequestContext, type RequestContext } from '../pipeline/context.js';
import type { Operation } from '../record/decision-record.js';
import type { RequestRecords } from '../record/request-records.js';

/** What the HTTP layer learns about a request as it goes, for its one decision record. */
export interface RecordInfo {
  operation: Operation;
  stream: boolean;
  requestedModel: string | undefined;
  chat?: ChatRequest;
  embedding?: EmbeddingRequest;
  usage?: Usage | undefined;
  outputText?: string | null;
  error?: unknown;
  firstTokenAt?: number;
  upstreamMs?: number;
  recorded: boolean;
  /** Called once the record has been handed to the recorder; shutdown waits for these. */
  onRecorded?: () => void;
}

const INFERENCE: Readonly<Record<string, Operation>> = {
  '/v1/chat/completions': 'chat',
  '/v1/messages': 'chat',
  '/v1/embeddings': 'embedding',
};

/** The operation a URL names, or undefined for routes that make no routing decision. */
export function operationOf(url: string): Operation | undefined {
  return INFERENCE[url.split('?')[0] ?? ''];
}

/** The request's record info, created on first use. */
export function recordInfo(request: FastifyRequest): RecordInfo | undefined {
  if (request.recordInfo !== null) return request.recordInfo;
  const operation = operationOf(request.url);
  if (operation === undefined) return undefined;
  request.recordInfo = { operation, stream: false, requestedModel: undefined, recorded: false };
  return request.recordInfo;
}

/**
 * Writes the request's record unless it has been written: exactly one per
 * inference request, whether it was served, refused or failed before parsing.
 */
export function finishRecord(records: RequestRecords, request: FastifyRequest): void {
  const info = recordInfo(request);
  if (info === undefined || info.recorded) return;
  info.recorded = true;
  try {
    finishNow(records, request, info);
  } finally {
    info.onRecorded?.();
  }
}

function finishNow(records: RequestRecords, request: FastifyRequest, info: RecordInfo): void {
  const ctx = request.perimeter ?? bareContext(request);
  records.finish(
    ctx,
    {
      operation: info.operation,
      stream: info.stream,
      requestedModel: info.requestedModel,
      error: info.error,
      usage: info.usage,
      endedAt: performance.now(),
      firstTokenAt: info.firstTokenAt,
      upstreamMs: info.upstreamMs,
    },
    { chat: info.chat, embedding: info.embedding, outputText: info.outputText },
  );
}

/** A context for a request that failed before the pipeline saw it (bad auth, bad body). */
function bareContext(request: FastifyRequest): RequestContext {
  return newRequestContext({
    requestId: request.id,
    signal: new AbortController().signal,
    receivedAt: request.receivedAt,
    principal: request.principal ?? ANONYMOUS,
  });
}

declare module 'fastify' {
  interface FastifyRequest {
    recordInfo: RecordInfo | null;
    /** performance.now() when the request arrived, for latency of early failures. */
    receivedAt: number;
  }
}
