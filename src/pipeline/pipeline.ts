import type { Classification } from '../classify/types.js';
import type { ChatRequest, ChatResponse, Chunk, EmbeddingRequest, EmbeddingResponse } from '../domain/chat.js';
import { GatewayError } from '../domain/errors.js';
import type { Provider } from '../providers/provider.js';
import type { CatalogEntry, ModelCatalog, ModelKind } from '../route/catalog.js';
import type { RequestContext } from './context.js';
import type { ClassifyStep } from './classify-step.js';

/**
 * The request path below the wire: route, call the provider, hand back internal
 * types. Classification, policy and recording plug in here as they arrive, so that
 * both ingress protocols share one implementation of each.
 */
export class Pipeline {
  readonly #catalog: ModelCatalog;
  readonly #providers: ReadonlyMap<string, Provider>;
  readonly #classify: ClassifyStep;

  constructor(catalog: ModelCatalog, providers: ReadonlyMap<string, Provider>, classify: ClassifyStep) {
    this.#catalog = catalog;
    this.#providers = providers;
    this.#classify = classify;
    for (const entry of catalog.entries) {
      if (!providers.has(entry.backendId)) throw new Error(`no provider constructed for backend "${entry.backendId}"`);
    }
  }

  async chat(request: ChatRequest, ctx: RequestContext): Promise<ChatResponse> {
    this.classifyChat(request, ctx);
    const [entry, provider] = this.#route(request.model, 'chat', ctx);
    return provider.chat(request, entry.upstream, ctx);
  }

  async chatStream(request: ChatRequest, ctx: RequestContext): Promise<AsyncIterable<Chunk>> {
    this.classifyChat(request, ctx);
    const [entry, provider] = this.#route(request.model, 'chat', ctx);
    return provider.chatStream(request, entry.upstream, ctx);
  }

  async embed(request: EmbeddingRequest, ctx: RequestContext): Promise<EmbeddingResponse> {
    ctx.classification = this.#classify.embedding(request, ctx.callerLabels);
    const [entry, provider] = this.#route(request.model, 'embedding', ctx);
    return provider.embed(request, entry.upstream, ctx);
  }

  /** Classifies every field of a chat request that would reach a backend; sets ctx.classification. */
  classifyChat(request: ChatRequest, ctx: RequestContext): Classification {
    ctx.classification = this.#classify.chat(request, ctx.callerLabels);
    return ctx.classification;
  }

  get classifyStep(): ClassifyStep {
    return this.#classify;
  }

  /** The models a caller may use. Every caller may use every model until identity lands. */
  models(): CatalogEntry[] {
    return this.#catalog.distinct();
  }

  // Only the first backend listed for a model is used: trying another backend on
  // failure could carry data to another tier, which must wait for the policy engine.
  #route(model: string, kind: ModelKind, ctx: RequestContext): [CatalogEntry, Provider] {
    const entry = this.#catalog.candidates(model, kind)[0];
    if (entry === undefined) throw new GatewayError('model_not_found', `The model '${model}' does not exist or you do not have access to it.`);
    const provider = this.#providers.get(entry.backendId);
    if (provider === undefined) throw new GatewayError('internal_error', 'backend has no provider');
    ctx.route = {
      backendId: entry.backendId,
      tier: entry.tier,
      region: entry.region,
      model: entry.id,
      upstreamModel: entry.upstream,
    };
    return [entry, provider];
  }
}
