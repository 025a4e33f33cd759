import type { Secret } from '../../config/secrets.js';
import type { ChatRequest, ChatResponse, Chunk, EmbeddingRequest, EmbeddingResponse } from '../../domain/chat.js';
import { GatewayError } from '../../domain/errors.js';
import type { HttpClient } from '../http-client.js';
import type { CallContext, Provider } from '../provider.js';
import { openEventStream } from '../sse-stream.js';
import { toAnthropicBody } from './request.js';
import { AnthropicStreamMapper, fromAnthropicMessage } from './response.js';

export const ANTHROPIC_VERSION = '2023-06-01';

/**
 * The Anthropic Messages API. Following the Anthropic SDK's baseURL convention, the
 * configured baseUrl is the root without the version: `https://api.anthropic.com`
 * → POST /v1/messages (a path prefix, e.g. behind a proxy, is kept in front).
 */
export class AnthropicProvider implements Provider {
  readonly backendId: string;
  readonly #http: HttpClient;
  readonly #path: string;
  readonly #headers: Readonly<Record<string, string>>;

  constructor(backendId: string, http: HttpClient, credential: Secret | undefined) {
    this.backendId = backendId;
    this.#http = http;
    this.#path = `${http.basePath}/v1/messages`;
    const headers: Record<string, string> = { 'content-type': 'application/json', 'anthropic-version': ANTHROPIC_VERSION };
    if (credential !== undefined) headers['x-api-key'] = credential.reveal();
    this.#headers = headers;
  }

  async chat(request: ChatRequest, upstreamModel: string, ctx: CallContext): Promise<ChatResponse> {
    const body = JSON.stringify(toAnthropicBody(request, upstreamModel, false));
    const exchange = await this.#http.post(this.#path, this.#headers, body, ctx);
    return fromAnthropicMessage(await exchange.json(), upstreamModel);
  }

  async chatStream(request: ChatRequest, upstreamModel: string, ctx: CallContext): Promise<AsyncIterable<Chunk>> {
    const body = JSON.stringify(toAnthropicBody(request, upstreamModel, true));
    const exchange = await this.#http.post(this.#path, this.#headers, body, ctx);
    return openEventStream(exchange, new AnthropicStreamMapper(upstreamModel));
  }

  embed(_request: EmbeddingRequest, _upstreamModel: string, _ctx: CallContext): Promise<EmbeddingResponse> {
    return Promise.reject(new GatewayError('invalid_request', `backend ${this.backendId} does not serve embeddings`));
  }

  close(): Promise<void> {
    return this.#http.close();
  }
}
