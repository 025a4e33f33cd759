import type { Classification } from '../classify/types.js';
import type { ChatRequest, ChatResponse, Chunk, EmbeddingRequest, EmbeddingResponse, Usage } from '../domain/chat.js';
import { GatewayError } from '../domain/errors.js';
import type { Tier } from '../domain/tier.js';
import type { Authorizer } from '../identity/authorize.js';
import { costUsd, limitError, type Limiter, type Reservation } from '../identity/limits/limiter.js';
import { estimateChatTokens } from '../identity/limits/estimate.js';
import type { Decision, PolicyEngine } from '../policy/engine.js';
import type { InjectionGuard } from '../protect/injection/guard.js';
import type { OutputScanner } from '../protect/output-scan.js';
import { conversationKey, protectRequest, type ProtectedRequest } from '../protect/pseudonymize.js';
import { restoreResponse, restoreStream } from '../protect/restore.js';
import { scanStream } from '../protect/output-scan.js';
import type { Vault } from '../protect/vault/types.js';
import type { Finding } from '../classify/types.js';
import type { Provider } from '../providers/provider.js';
import type { CatalogEntry, ModelKind } from '../route/catalog.js';
import type { RouteConstraints } from '../route/constraints.js';
import { explainPlan, refusal, type PlanExplanation, type RoutePlan } from '../route/plan.js';
import type { Router } from '../route/router.js';
import type { Attempt } from '../route/runner.js';
import { isVirtualModel, virtualCapability } from '../route/virtual.js';
import type { Principal } from '../domain/principal.js';
import type { PipelineStage } from '../telemetry/tracing.js';
import type { ClassifyStep } from './classify-step.js';
import type { RequestContext } from './context.js';
import { basesFor, retrieve, type RetrievalSettings, type RetrievalSource } from './retrieve.js';

/** A request that has been classified, decided and planned, ready to run (or to explain). */
export interface Routed {
  readonly classification: Classification;
  readonly decision: Decision;
  readonly constraints: RouteConstraints;
  readonly plan: RoutePlan;
  /** Eligible tiers that may only receive the request with its values replaced by placeholders. */
  readonly needsPseudonymization: readonly Tier[];
}

export interface Explanation {
  readonly policyVersion: string;
  readonly level: string;
  /** Entity type → count; never values. */
  readonly findings: Readonly<Record<string, number>>;
  readonly classificationReasons: readonly string[];
  readonly matchedRules: readonly string[];
  readonly matrixCell: string;
  readonly eligibleTiers: readonly Tier[];
  readonly regions: readonly string[] | undefined;
  readonly effects: Decision['effects'];
  readonly decisionReasons: readonly string[];
  readonly route: PlanExplanation | undefined;
  /** The first candidate: where serving would send it, if it can be served. */
  readonly chosen: { readonly backendId: string; readonly model: string; readonly tier: Tier; readonly region: string } | undefined;
  /** What serving would answer instead, when it would refuse. */
  readonly refusal: { readonly status: number; readonly code: string; readonly message: string } | undefined;
}

export interface PipelineDeps {
  readonly providers: ReadonlyMap<string, Provider>;
  readonly classify: ClassifyStep;
  readonly policy: PolicyEngine;
  readonly router: Router;
  readonly authorizer: Authorizer;
  readonly limiter: Limiter;
  /** Output tokens assumed for a limit reservation when the request sets no max_tokens. */
  readonly defaultMaxOutputTokens: number;
  /** Holds placeholder ↔ value mappings; on-prem only. */
  readonly vault: Vault;
  /** Which findings are replaced by placeholders before a tier that needs it. */
  readonly pseudonymizable: (finding: Finding) => boolean;
  readonly output: OutputScanner;
  readonly injection: InjectionGuard;
  /** Called each time a trusted role lowers a request's level with a label; compose audits it. */
  readonly onSensitivityLowered: (ctx: RequestContext) => void;
  /** Retrieval from Bases (RAG); absent when this deployment reaches no Bases. */
  readonly retrieval?: { readonly source: RetrievalSource; readonly settings: RetrievalSettings } | undefined;
}

/** A successful run: the value, the backend that gave it, and its held slot. */
interface RunOutcome<T> {
  readonly value: T;
  readonly entry: CatalogEntry;
  readonly release: () => void;
}

/** Token estimate made before the call, reconciled with the upstream's count after it. */
interface Estimate {
  readonly input: number;
  readonly output: number;
}

/**
 * The request path below the wire: classify, decide, plan, run. Both ingress
 * protocols, the explain endpoint and the CLI share it, so serving and explaining
 * cannot disagree.
 */
export class Pipeline {
  readonly #providers: ReadonlyMap<string, Provider>;
  readonly #classify: ClassifyStep;
  readonly #policy: PolicyEngine;
  readonly #router: Router;
  readonly #authorizer: Authorizer;
  readonly #limiter: Limiter;
  readonly #defaultMaxOutputTokens: number;
  readonly #vault: Vault;
  readonly #pseudonymizable: (finding: Finding) => boolean;
  readonly #output: OutputScanner;
  readonly #injection: InjectionGuard;
  readonly #onLowered: (ctx: RequestContext) => void;
  readonly #retrieval: PipelineDeps['retrieval'];

  constructor(deps: PipelineDeps) {
    this.#vault = deps.vault;
    this.#pseudonymizable = deps.pseudonymizable;
    this.#output = deps.output;
    this.#injection = deps.injection;
    this.#onLowered = deps.onSensitivityLowered;
    this.#retrieval = deps.retrieval;
    this.#providers = deps.providers;
    this.#classify = deps.classify;
    this.#policy = deps.policy;
    this.#router = deps.router;
    this.#authorizer = deps.authorizer;
    this.#limiter = deps.limiter;
    this.#defaultMaxOutputTokens = deps.defaultMaxOutputTokens;
    for (const entry of deps.router.catalog.entries) {
      if (!deps.providers.has(entry.backendId)) throw new Error(`no provider constructed for backend "${entry.backendId}"`);
    }
  }

  get classifyStep(): ClassifyStep {
    return this.#classify;
  }

  get policyVersion(): string {
    return this.#policy.version;
  }

  async chat(original: ChatRequest, ctx: RequestContext): Promise<ChatResponse> {
    const retrieving = this.#retrieve(original, ctx);
    const request = retrieving === undefined ? original : await retrieving;
    const routed = this.#routeChat(request, ctx);
    const estimate = estimateChatTokens(request, this.#defaultMaxOutputTokens);
    const outbound = this.#outbound(request, routed, ctx);
    const response = await this.#runWhole(
      routed,
      ctx,
      estimate,
      async (entry, info) => {
        const protectedRequest = await outbound(entry.tier);
        const call = { signal: info.signal, requestId: ctx.requestId };
        if (protectedRequest === undefined) return this.#provider(entry).chat(request, entry.upstream, call);
        return restoreResponse(await this.#provider(entry).chat(protectedRequest.request, entry.upstream, call), protectedRequest.session);
      },
      (r) => r.usage,
    );
    return this.#output.forRequest(request).scanResponse(response);
  }

  /** Resolves once a backend has accepted the call; its slot is held until the stream ends. */
  async chatStream(original: ChatRequest, ctx: RequestContext): Promise<AsyncIterable<Chunk>> {
    const retrieving = this.#retrieve(original, ctx);
    const request = retrieving === undefined ? original : await retrieving;
    const routed = this.#routeChat(request, ctx);
    const estimate = estimateChatTokens(request, this.#defaultMaxOutputTokens);
    const outbound = this.#outbound(request, routed, ctx);
    const reservation = await this.#reserve(routed, ctx, estimate);
    let result: RunOutcome<AsyncIterable<Chunk>>;
    try {
      result = await this.#run(routed, ctx, async (entry, info) => {
        const protectedRequest = await outbound(entry.tier);
        const call = { signal: info.signal, requestId: ctx.requestId };
        if (protectedRequest === undefined) return this.#provider(entry).chatStream(request, entry.upstream, call);
        return restoreStream(await this.#provider(entry).chatStream(protectedRequest.request, entry.upstream, call), protectedRequest.session);
      });
    } catch (err) {
      this.#limiter.release(reservation);
      throw err;
    }
    const { entry } = result;
    let usage: Usage | undefined;
    const settle = (): void => {
      result.release();
      this.#settle(reservation, entry, estimate, usage);
    };
    // One stream layer for the watch and the output scan: each layer is a few promise turns per token.
    return scanStream(result.value, this.#output.forRequest(request), {
      seen: (chunk) => {
        if (chunk.type === 'usage') {
          usage = chunk.usage;
          ctx.usage = chunk.usage;
        }
      },
      end: settle,
      failed: () => this.#router.health.recordFailure(entry.backendId),
    });
  }

  async embed(request: EmbeddingRequest, ctx: RequestContext): Promise<EmbeddingResponse> {
    const mayLower = this.#authorizer.sensitivityHook(ctx.principal, () => this.#onLowered(ctx));
    const routed = this.route(request.model, 'embedding', this.#classify.embedding(request, ctx.callerLabels, mayLower), ctx);
    const estimate = { input: request.input.reduce((n, t) => n + Math.ceil(t.length / 3), 0), output: 0 };
    return this.#runWhole(
      routed,
      ctx,
      estimate,
      (entry, info) => this.#provider(entry).embed(request, entry.upstream, { signal: info.signal, requestId: ctx.requestId }),
      (response) => response.usage,
    );
  }

  /** What serving this chat request would do, without calling a backend. */
  async explainChat(original: ChatRequest, ctx: RequestContext): Promise<Explanation> {
    // Retrieval runs here too: what it brings in decides the level and the tiers.
    const retrieving = this.#retrieve(original, ctx);
    const request = retrieving === undefined ? original : await retrieving;
    const classification = this.#classifyChat(request, ctx);
    let routed: Routed | undefined;
    let refused: GatewayError | undefined;
    try {
      routed = this.route(request.model, 'chat', classification, ctx, this.#guard(request, ctx));
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      refused = err;
    }
    const decision = ctx.decision;
    const head = routed?.plan.candidates[0]?.entry;
    return {
      policyVersion: this.#policy.version,
      level: classification.level,
      findings: entityCounts(classification),
      classificationReasons: classification.reasons,
      matchedRules: decision?.matchedRules ?? [],
      matrixCell: decision?.matrixCell ?? 'none',
      eligibleTiers: routed?.constraints.eligibleTiers ?? decision?.eligibleTiers ?? [],
      regions: decision?.regions,
      effects: decision?.effects ?? { pseudonymizeFor: [], requireApproval: false, prefer: undefined },
      decisionReasons: decision?.reasons ?? [],
      route: routed === undefined ? undefined : explainPlan(routed.plan),
      chosen: head === undefined ? undefined : { backendId: head.backendId, model: head.id, tier: head.tier, region: head.region },
      refusal: refused === undefined ? undefined : { status: refused.status, code: refused.code, message: refused.message },
    };
  }

  /**
   * Classification → policy decision → route plan. Throws the GatewayError serving
   * would answer with: a denial, a model the data may not use, or no backend.
   */
  route(model: string, kind: ModelKind, classification: Classification, ctx: RequestContext, restrictTo?: Tier): Routed {
    ctx.classification = classification;
    const catalog = this.#router.catalog;
    const virtual = isVirtualModel(model);
    const served = virtual ? [] : (catalog.find(model) ?? []);
    if (!virtual && served.length === 0) {
      throw new GatewayError('model_not_found', `The model '${model}' does not exist or you do not have access to it.`, { param: 'model' });
    }
    let decision = this.#policy.decide({
      level: classification.level,
      entities: entityCounts(classification),
      principal: ctx.principal,
      workload: ctx.principal.workload ?? ctx.workloadHeader,
      model,
      // perimeter/auto leaves capability to the workload; the policy denies when there is none.
      capability: virtual ? (model === 'perimeter/auto' ? undefined : virtualCapability(model, 'basic')) : maxCapability(served),
    });
    ctx.decision = decision;
    if (decision.deny !== undefined) throw new GatewayError(decision.deny.code, decision.deny.message);

    // Context retrieved from an on-prem Base stays on-prem, whatever the matrix says for its level.
    const residency = ctx.retrieval?.tiers;
    if (residency !== undefined) {
      const kept = decision.eligibleTiers.filter((t) => residency.includes(t));
      const servedHere = virtual || served.some((e) => e.kind === kind && kept.includes(e.tier));
      if (kept.length === 0 || !servedHere) {
        throw new GatewayError(
          'model_not_permitted_for_data',
          `Context retrieved from Base(s) ${ctx.retrieval?.summary.bases.join(', ') ?? ''} homed on-prem may only go to ${residency.join(', ')} models; '${model}' is not served there (level ${classification.level}).`,
          { param: 'model' },
        );
      }
      decision = { ...decision, eligibleTiers: kept, reasons: [...decision.reasons, `retrieval: context from an on-prem Base limits tiers to ${residency.join(', ')}`] };
      ctx.decision = decision;
    }

    // The caller's roles narrow the policy's tiers further; they can never widen them.
    const workload = ctx.principal.workload ?? ctx.workloadHeader;
    this.#authorizer.authorize(ctx.principal, { model, workload });
    const permitted = this.#authorizer.allowedTiers(ctx.principal, { model, workload });
    // The injection guard's `restrict` action keeps suspect requests to one tier.
    const byRole = decision.eligibleTiers.filter((t) => permitted.includes(t) && (restrictTo === undefined || t === restrictTo));
    const servedIn = (tiers: readonly Tier[]): boolean => served.some((e) => e.kind === kind && tiers.includes(e.tier));
    // The data would allow the model, but the caller's roles do not: that is the caller's limit, not the data's.
    if (byRole.length === 0 || (!virtual && servedIn(decision.eligibleTiers) && !servedIn(byRole))) {
      throw new GatewayError('forbidden', `Your roles do not allow the tiers this request may use (${decision.eligibleTiers.join(', ') || 'none'}).`);
    }

    // A tier that needs pseudonymisation takes the request with placeholders. If the
    // classifier failed, there are no findings to replace, so such tiers are out.
    const wantsPlaceholders = byRole.filter((t) => decision.effects.pseudonymizeFor.includes(t));
    const blind = classification.reasons.some((r) => r.startsWith('classifier failed'));
    const needsPseudonymization = blind ? [] : wantsPlaceholders;
    const eligibleTiers = blind ? byRole.filter((t) => !wantsPlaceholders.includes(t)) : byRole;
    const constraints: RouteConstraints = {
      eligibleTiers,
      regions: decision.regions,
      prefer: ctx.preferLowLatency ? 'latency' : (decision.effects.prefer ?? this.#router.routing.prefer),
      capability: decision.capability ?? 'basic',
    };
    const plan = this.#router.plan(model, kind, constraints);
    if (plan.verdict !== 'ok') {
      if (plan.verdict === 'not_permitted' && eligibleTiers.length === 0 && wantsPlaceholders.length > 0) {
        throw new GatewayError(
          'pseudonymization_unavailable',
          `Policy requires pseudonymisation before ${wantsPlaceholders.join(', ')}, and the request could not be classified reliably enough to do it; no other tier is eligible.`,
        );
      }
      if (plan.verdict === 'not_permitted') {
        const rejection = this.#policy.modelRejection(decision, served.filter((e) => e.kind === kind).map((e) => ({ tier: e.tier, region: e.region })));
        const fallback = refusal(plan);
        throw new GatewayError('model_not_permitted_for_data', rejection?.message ?? fallback?.message ?? 'The data in this request may not go to that model.', {
          param: 'model',
        });
      }
      const refused = refusal(plan);
      if (refused !== undefined) throw new GatewayError(refused.code, refused.message, { param: 'model', retryAfter: refused.retryAfter });
    }
    return { classification, decision, constraints, plan, needsPseudonymization };
  }

  /** The models this caller may use: one entry per id, the first backend the caller may reach. */
  models(principal: Principal, workload: string | undefined): CatalogEntry[] {
    const seen = new Set<string>();
    return this.#authorizer.visibleModels(principal, this.#router.catalog.entries, workload).filter((e) => !seen.has(e.id) && seen.add(e.id) !== undefined);
  }

  #routeChat(request: ChatRequest, ctx: RequestContext): Routed {
    const classification = staged(ctx, 'classify', () => this.#classifyChat(request, ctx));
    return staged(ctx, 'policy', () => this.route(request.model, 'chat', classification, ctx, this.#guard(request, ctx)));
  }

  /** Runs the injection guard; `block` refuses, `restrict` names the one tier allowed, `flag` only records. */
  #guard(request: ChatRequest, ctx: RequestContext): Tier | undefined {
    if (!this.#injection.config.enabled) return undefined;
    const scan = this.#injection.scanRequest(request);
    ctx.injection = { verdict: scan.verdict, score: scan.score, signals: scan.signals, action: scan.decision };
    if (scan.decision === 'block') {
      throw new GatewayError('request_denied', `The request looks like a prompt-injection attempt (signals: ${scan.signals.join(', ')}).`);
    }
    return scan.decision === 'restrict' ? (scan.restrictTier as Tier | undefined) : undefined;
  }

  /**
   * What to send to a tier: undefined for the original request, or the request with
   * placeholders and the vault session that restores them. Pseudonymised once, on
   * the first attempt that needs it, and reused across fallbacks.
   */
  #outbound(request: ChatRequest, routed: Routed, ctx: RequestContext): (tier: Tier) => Promise<ProtectedRequest | undefined> {
    let pending: Promise<ProtectedRequest> | undefined;
    return async (tier) => {
      if (!routed.needsPseudonymization.includes(tier)) return undefined;
      pending ??= protectRequest(
        this.#vault,
        { requestId: ctx.requestId, conversation: conversationKey(request, ctx.conversationHeader, ctx.principal.id) },
        request,
        routed.classification.findings.filter(this.#pseudonymizable),
      );
      return pending;
    };
  }

  #classifyChat(request: ChatRequest, ctx: RequestContext): Classification {
    // Retrieved Bases' levels act as labels: they can only raise the level.
    const labels = ctx.retrieval === undefined ? ctx.callerLabels : [...ctx.callerLabels, ...ctx.retrieval.labels];
    return this.#classify.chat(request, labels, this.#authorizer.sensitivityHook(ctx.principal, () => this.#onLowered(ctx)));
  }

  /**
   * Retrieval-augmented generation, when the request or its workload names Bases.
   * Undefined when there is nothing to retrieve, so other requests pay no span and no await.
   */
  #retrieve(request: ChatRequest, ctx: RequestContext): Promise<ChatRequest> | undefined {
    const rag = this.#retrieval;
    if (rag === undefined) {
      if (request.retrieval !== undefined) throw new GatewayError('base_not_found', 'This deployment has no Bases to retrieve from.');
      return undefined;
    }
    const bases = basesFor(request, ctx.principal.workload ?? ctx.workloadHeader, rag.settings);
    if (bases.length === 0) return undefined;
    return staged(ctx, 'retrieve', async () => {
      const result = await retrieve(request, bases, ctx, rag.source, this.#injection, rag.settings);
      ctx.retrieval = { labels: result.labels, tiers: result.tiers, summary: result.summary };
      return result.request;
    });
  }


  /** Reserves the caller's limits at the dearest eligible price, so the estimate never understates. */
  async #reserve(routed: Routed, ctx: RequestContext, estimate: Estimate): Promise<Reservation> {
    let price = 0;
    for (const c of routed.plan.candidates) price = Math.max(price, costUsd(c.entry.price, estimate.input, estimate.output));
    const decision = await this.#limiter.reserve({
      principal: ctx.principal,
      workload: ctx.principal.workload ?? ctx.workloadHeader,
      estimatedTokens: estimate.input + estimate.output,
      estimatedCostUsd: price,
    });
    if (!decision.ok) throw limitError(decision);
    return decision.reservation;
  }

  /** Replaces the reservation with what the call really used (the estimate when the upstream gave no count). */
  #settle(reservation: Reservation, entry: CatalogEntry, estimate: Estimate, usage: Usage | undefined): void {
    const input = usage?.inputTokens ?? estimate.input;
    const output = usage?.outputTokens ?? estimate.output;
    void this.#limiter.reconcile(reservation, { tokens: input + output, costUsd: costUsd(entry.price, input, output) });
  }

  /** For calls whose response is complete when the attempt resolves: slot and reservation settle at once. */
  async #runWhole<T>(routed: Routed, ctx: RequestContext, estimate: Estimate, attempt: Attempt<T>, usageOf: (value: T) => Usage | undefined): Promise<T> {
    const reservation = await this.#reserve(routed, ctx, estimate);
    let result: RunOutcome<T>;
    try {
      result = await this.#run(routed, ctx, attempt);
    } catch (err) {
      this.#limiter.release(reservation);
      throw err;
    }
    result.release();
    const value = result.value;
    this.#settle(reservation, result.entry, estimate, usageOf(value));
    return value;
  }

  async #run<T>(routed: Routed, ctx: RequestContext, attempt: Attempt<T>): Promise<RunOutcome<T>> {
    const result = await staged(ctx, 'upstream', () => this.#router.run(routed.plan, routed.constraints, attempt, ctx.signal));
    ctx.attempts = result.attempts;
    if (!result.ok) {
      const last = [...result.attempts].reverse().find((a) => a.attemptNo > 0);
      if (last !== undefined) ctx.route = { backendId: last.backendId, tier: last.tier, region: last.region, model: last.model, upstreamModel: last.model };
      throw result.error;
    }
    const entry = result.entry;
    ctx.pseudonymized = routed.needsPseudonymization.includes(entry.tier);
    ctx.route = { backendId: entry.backendId, tier: entry.tier, region: entry.region, model: entry.id, upstreamModel: entry.upstream };
    return { value: result.value, entry, release: () => result.lease.release() };
  }

  #provider(entry: CatalogEntry): Provider {
    const provider = this.#providers.get(entry.backendId);
    if (provider === undefined) throw new GatewayError('internal_error', 'backend has no provider');
    return provider;
  }
}

function entityCounts(classification: Classification): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const f of classification.findings) counts[f.entity] = (counts[f.entity] ?? 0) + 1;
  return counts;
}

const CAPABILITY_RANK = { basic: 0, mid: 1, frontier: 2 } as const;

/** A model served by several backends is judged by its most capable listing, so the policy errs strict. */
function maxCapability(entries: readonly CatalogEntry[]): CatalogEntry['capability'] | undefined {
  let best: CatalogEntry['capability'] | undefined;
  for (const e of entries) if (best === undefined || CAPABILITY_RANK[e.capability] > CAPABILITY_RANK[best]) best = e.capability;
  return best;
}

/** Runs one pipeline stage in its own span when the request is traced. */
function staged<T>(ctx: RequestContext, stage: PipelineStage, fn: () => T): T {
  return ctx.trace === undefined ? fn() : ctx.trace.stage(stage, fn);
}
