import type { Classification } from '../classify/types.js';
import type { Usage } from '../domain/chat.js';
import type { Principal } from '../domain/principal.js';
import type { Tier } from '../domain/tier.js';
import type { Decision } from '../policy/engine.js';
import type { InjectionDecision, InjectionVerdict } from '../protect/injection/guard.js';
import type { AttemptRecord } from '../route/runner.js';
import type { RequestTrace } from '../telemetry/tracing.js';
import type { RetrievalSummary } from './retrieve.js';

/** Where a request went. Filled in by the pipeline as soon as a backend is chosen. */
export interface RouteInfo {
  readonly backendId: string;
  readonly tier: Tier;
  readonly region: string;
  /** The model id the client used and /v1/models lists. */
  readonly model: string;
  readonly upstreamModel: string;
}

/**
 * Per-request state that crosses layers. It carries no wire types and no framework
 * objects, so everything below http/ can use it.
 */
export interface RequestContext {
  readonly requestId: string;
  /** Aborted when the client disconnects; passed to the upstream call. */
  readonly signal: AbortSignal;
  /** performance.now() when the request arrived. */
  readonly receivedAt: number;
  readonly principal: Principal;
  /** The caller's own sensitivity labels (header, body metadata); they can only raise the level. */
  readonly callerLabels: readonly string[];
  /** x-perimeter-workload; a workload bound to the principal's credential wins over it. */
  readonly workloadHeader: string | undefined;
  /** x-perimeter-latency: low asks the router to prefer the fastest eligible backend. */
  readonly preferLowLatency: boolean;
  /** x-perimeter-conversation: keeps placeholders stable across the turns of a conversation. */
  readonly conversationHeader: string | undefined;
  /** Set by the pipeline once the request has been classified. */
  classification: Classification | undefined;
  /** Set by the pipeline once the policy has decided. */
  decision: Decision | undefined;
  route: RouteInfo | undefined;
  /** Every backend tried, in order, with its outcome. */
  attempts: readonly AttemptRecord[];
  /** Whether the request that was served went out with placeholders. */
  pseudonymized: boolean;
  /** The request's span; stages run as its children. Undefined where nothing traces (CLI). */
  readonly trace: RequestTrace | undefined;
  /** A stream's usage chunk, seen by the pipeline on its way past (for the decision record). */
  usage: Usage | undefined;
  /** The caller's SSO token and correlation id for calls to peer deployments; read only when one is made. */
  readonly federation: () => { readonly token: string | undefined; readonly correlationId: string };
  /** What retrieval from Bases added: the Bases' levels (labels), a tier limit, ids and counts. */
  retrieval: { readonly labels: readonly string[]; readonly tiers: readonly Tier[] | undefined; readonly summary: RetrievalSummary } | undefined;
  /** The injection guard's verdict, when it ran. Rule ids only. */
  injection: { readonly verdict: InjectionVerdict; readonly score: number; readonly signals: readonly string[]; readonly action: InjectionDecision } | undefined;
}

/** What the caller knows when a request starts; everything else starts empty. */
export interface ContextInit {
  requestId: string;
  signal: AbortSignal;
  receivedAt: number;
  principal: Principal;
  callerLabels?: readonly string[];
  workloadHeader?: string | undefined;
  preferLowLatency?: boolean;
  conversationHeader?: string | undefined;
  trace?: RequestTrace | undefined;
  federation?: () => { token: string | undefined; correlationId: string };
}

export function newRequestContext(init: ContextInit): RequestContext {
  return {
    requestId: init.requestId,
    signal: init.signal,
    receivedAt: init.receivedAt,
    principal: init.principal,
    callerLabels: init.callerLabels ?? [],
    workloadHeader: init.workloadHeader,
    preferLowLatency: init.preferLowLatency ?? false,
    conversationHeader: init.conversationHeader,
    trace: init.trace,
    classification: undefined,
    decision: undefined,
    route: undefined,
    attempts: [],
    pseudonymized: false,
    retrieval: undefined,
    usage: undefined,
    federation: init.federation ?? (() => ({ token: undefined, correlationId: init.requestId })),
    injection: undefined,
  };
}
