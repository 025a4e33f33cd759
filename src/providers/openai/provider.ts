import type { ChatRequest, ChatResponse, Chunk, EmbeddingRequest, EmbeddingResponse } from '../../domain/chat.js';
import type { HttpClient } from '../http-client.js';
import type { CallContext, Provider } from '../provider.js';
import { openEventStream } from '../sse-stream.js';
import type { OpenAiEndpoint } from './endpoint.js';
import { toOpenAiChatBody, toOpenAiEmbeddingBody } from './request.js';
import { OpenAiStreamMapper, fromOpenAiChat, fromOpenAiEmbeddings } from './response.js';

/** The OpenAI protocol, for OpenAI-compatible servers and (with its endpoint strategy) Azure OpenAI. */
export class OpenAiProvider implements Provider {
  readonly backendId: string;
  readonly #http: HttpClient;
  readonly #endpoint: OpenAiEndpoint;

  constructor(backendId: string, http: HttpClient, endpoint: OpenAiEndpoint) {
    this.backendId = backendId;
    this.#http = http;
    this.#endpoint = endpoint;
  }

  async chat(request: ChatRequest, upstreamModel: string, ctx: CallContext): Promise<ChatResponse> {
    const body = JSON.stringify(toOpenAiChatBody(request, upstreamModel, false));
    const exchange = await this.#http.post(this.#endpoint.chatPath(upstreamModel), this.#endpoint.headers, body, ctx);
    return fromOpenAiChat(await exchange.json(), upstreamModel);
  }

  async chatStream(request: ChatRequest, upstreamModel: string, ctx: CallContext): Promise<AsyncIterable<Chunk>> {
    const body = JSON.stringify(toOpenAiChatBody(request, upstreamModel, true));
    const exchange = await this.#http.post(this.#endpoint.chatPath(upstreamModel), this.#endpoint.headers, body, ctx);
    return openEventStream(exchange, new OpenAiStreamMapper(upstreamModel));
  }

  async embed(request: EmbeddingRequest, upstreamModel: string, ctx: CallContext): Promise<EmbeddingResponse> {
    const body = JSON.stringify(toOpenAiEmbeddingBody(request, upstreamModel));
    const exchange = await this.#http.post(this.#endpoint.embeddingsPath(upstreamModel), this.#endpoint.headers, body, ctx);
    return fromOpenAiEmbeddings(await exchange.json(), upstreamModel, request.input.length);
  }

  close(): Promise<void> {
    return this.#http.close();
  }
}
