import type { ChatRequest, ChatResponse, Chunk, EmbeddingRequest, EmbeddingResponse } from '../domain/chat.js';

export interface CallContext {
  /** Aborted when the client goes away or the gateway gives up; must reach the upstream socket. */
  signal: AbortSignal;
  requestId: string;
}

/**
 * One upstream backend, whatever its wire protocol. Generic code holds only this
 * interface and never asks which protocol is behind it.
 *
 * Failures are thrown as GatewayError (upstream_error, upstream_timeout,
 * upstream_unavailable, invalid_request) with `retryable` set when another try
 * could succeed.
 */
export interface Provider {
  readonly backendId: string;
  /** upstreamModel is the backend's own name for the model (Azure: the deployment). */
  chat(request: ChatRequest, upstreamModel: string, ctx: CallContext): Promise<ChatResponse>;
  /**
   * Resolves once the upstream has accepted the call (2xx headers), so a refusal can
   * still be answered with a status code or retried. Iterating throws GatewayError
   * if the upstream fails mid-stream.
   */
  chatStream(request: ChatRequest, upstreamModel: string, ctx: CallContext): Promise<AsyncIterable<Chunk>>;
  embed(request: EmbeddingRequest, upstreamModel: string, ctx: CallContext): Promise<EmbeddingResponse>;
  /** Closes pooled connections. */
  close(): Promise<void>;
}
