import type { Classification } from '../classify/types.js';
import type { Usage } from '../domain/chat.js';
import { ERROR_STATUS, isGatewayError, type ErrorCode } from '../domain/errors.js';
import type { Capability, Tier } from '../domain/tier.js';
import type { RequestContext } from '../pipeline/context.js';
import type { InjectionDecision } from '../protect/injection/guard.js';
import type { BreakerState } from '../route/health.js';
import type { AttemptOutcome, AttemptRecord } from '../route/runner.js';

/**
 * The one record every request produces, routed or refused. Everything in it is a
 * count, a closed-set value, a config-defined id (backend, model, rule, level,
 * entity type) or a caller id. There is deliberately no field that can hold a
 * request or response text, an error message or a finding's matched value: the
 * builder below never reads those, and the shape has nowhere to put them.
 */
export interface DecisionRecord {
  /** Bumped when the shape changes; stores keep it so old rows stay readable. */
  readonly schemaVersion: 1;
  readonly requestId: string;
  /** Arrival time, ISO 8601 UTC. */
  readonly time: string;
  /** Arrival time in epoch milliseconds (what stores index and filter on). */
  readonly timeMs: number;
  readonly deploymentId: string;
  readonly principal: { readonly id: string; readonly kind: PrincipalKind; readonly team: string | null };
  /** Policy workload applied, or a credential-bound one; `undeclared` for an unknown header value. */
  readonly workload: string | null;
  readonly operation: Operation;
  readonly stream: boolean;
  /** What the client asked for; `(unknown)` when it named no model the gateway serves. */
  readonly requestedModel: string | null;
  readonly served: {
    readonly model: string | null;
    readonly backend: string | null;
    readonly tier: Tier | null;
    readonly region: string | null;
  };
  readonly classification: {
    /** Null when the request was refused before classification (e.g. invalid body). */
    readonly level: string | null;
    /** Entity type → count. Never values, spans or paths. */
    readonly findings: Readonly<Record<string, number>>;
  };
  readonly policy: {
    readonly version: string | null;
    readonly capability: Capability | null;
    readonly matchedRules: readonly string[];
    readonly eligibleTiers: readonly Tier[];
  };
  readonly effects: {
    /** Whether values were pseudonymised before the served tier. */
    readonly pseudonymized: boolean;
    readonly pseudonymizeFor: readonly Tier[];
    readonly requireApproval: boolean;
  };
  readonly attempts: readonly RecordedAttempt[];
  /** Backends tried after the first one (0 when the first answered or nothing was called). */
  readonly fallbacks: number;
  /** Breaker state, at record time, of every backend that appears in `attempts`. */
  readonly breakers: Readonly<Record<string, BreakerState>>;
  readonly status: RecordStatus;
  readonly httpStatus: number;
  readonly errorCode: ErrorCode | null;
  readonly tokens: { readonly input: number; readonly output: number; readonly estimated: boolean };
  readonly latency: {
    readonly totalMs: number;
    /** Streams only: from arrival to the first content chunk sent. */
    readonly ttftMs: number | null;
    /** Time spent in the gateway itself: total minus time waiting on upstreams. */
    readonly overheadMs: number | null;
  };
  readonly cost: { readonly amount: number; readonly currency: 'USD'; readonly basis: CostBasis };
  /** RAG: the Bases that contributed context, chunks given to the model, chunks the injection guard dropped. Ids and counts only. */
  readonly retrieval?: { readonly bases: readonly string[]; readonly chunks: number; readonly dropped: number };
  /**
   * The prompt-injection guard's verdict when it was not `clean`: score, the rule ids that
   * fired (never text) and what the configured action did (`flag` only reports it).
   */
  readonly injection?: { readonly verdict: 'suspicious' | 'injection'; readonly score: number; readonly signals: readonly string[]; readonly action: InjectionDecision };
}

export type PrincipalKind = 'anonymous' | 'api_key' | 'jwt';
export type Operation = 'chat' | 'embedding';
/** ok: answered; rejected: refused by policy; failed: any other error; aborted: the client left. */
export type RecordStatus = 'ok' | 'rejected' | 'failed' | 'aborted';
/** price: cloud list price; blended: on-prem amortised rate; none: nothing was served. */
export type CostBasis = 'price' | 'blended' | 'none';

export const RECORD_STATUSES: readonly RecordStatus[] = ['ok', 'rejected', 'failed', 'aborted'];

export interface RecordedAttempt {
  readonly backend: string;
  readonly tier: Tier;
  readonly model: string;
  readonly attemptNo: number;
  readonly outcome: AttemptOutcome;
  readonly errorCode: ErrorCode | null;
  readonly latencyMs: number;
}

/** How the request ended, as the lead's HTTP layer sees it. Only numbers, flags and the error. */
export interface RequestOutcome {
  readonly operation: Operation;
  readonly stream: boolean;
  /** The model field of the request as received; recorded only if the gateway serves it. */
  readonly requestedModel: string | undefined;
  /** The thrown error for failures; undefined for success. Only its code is kept. */
  readonly error?: unknown;
  /** Upstream usage, or an estimate from `TokenEstimator` marked `estimated`. */
  readonly usage?: Usage | undefined;
  /** performance.now() when the last byte was sent (or the error answered). */
  readonly endedAt: number;
  /** performance.now() when the first content chunk went out (streams). */
  readonly firstTokenAt?: number | undefined;
  /**
   * Milliseconds spent waiting on upstreams (whole body, or whole stream). When
   * absent it is the sum of the called attempts' latencies, which for streams is
   * only time to first byte, so streams should pass it.
   */
  readonly upstreamMs?: number | undefined;
  /** Whether values were pseudonymised before the served tier (the pipeline cannot do it yet). */
  readonly pseudonymized?: boolean;
}

/** Prices a served request; see CostModel in cost.ts. */
export interface RecordPricer {
  price(backend: string, model: string, tier: Tier, inputTokens: number, outputTokens: number): { amount: number; basis: CostBasis };
}

export interface RecordDeps {
  readonly deploymentId: string;
  readonly pricer: RecordPricer;
  /** Whether a model id is one the gateway serves (catalog or virtual); others are not echoed. */
  readonly knownModel: (model: string) => boolean;
  /** Whether a workload name is one the policy defines. */
  readonly knownWorkload?: (workload: string) => boolean;
  /** Current breaker state of a backend; HealthRegistry.breaker(id).state() fits. */
  readonly breakerState?: (backendId: string) => BreakerState | undefined;
  /** Wall clock (epoch ms) and the monotonic clock ctx.receivedAt is on. */
  readonly now?: { wallMs(): number; monoMs(): number };
}

const REJECTIONS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'request_denied',
  'approval_required',
  'model_not_permitted_for_data',
  'pseudonymization_unavailable',
]);

const UNKNOWN_MODEL = '(unknown)';
const UNDECLARED_WORKLOAD = 'undeclared';

const systemNow = { wallMs: () => Date.now(), monoMs: () => performance.now() };

/**
 * Builds the request's record. Call it exactly once per request, after the
 * response (or the error) has been sent, whatever happened before. It reads ids,
 * counts and codes only; never request or response text.
 */
/**
 * A record's JSON text, made once: the journal, the store's body column and the spill
 * file all want the same text, and nothing changes a record after it is built.
 */
export function recordJson(record: DecisionRecord): string {
  let text = recordTexts.get(record);
  if (text === undefined) {
    text = JSON.stringify(record);
    recordTexts.set(record, text);
  }
  return text;
}

const recordTexts = new WeakMap<DecisionRecord, string>();

export function recordFromContext(ctx: RequestContext, outcome: RequestOutcome, deps: RecordDeps): DecisionRecord {
  const now = deps.now ?? systemNow;
  const mono = now.monoMs();
  const wall = now.wallMs();
  const timeMs = Math.round(wall - (mono - ctx.receivedAt));
  const code = outcome.error === undefined ? null : isGatewayError(outcome.error) ? outcome.error.code : 'internal_error';
  const status: RecordStatus =
    code === null ? 'ok' : code === 'client_closed_request' ? 'aborted' : REJECTIONS.has(code) ? 'rejected' : 'failed';
  const decision = ctx.decision;
  const route = ctx.route;
  // A failed request's route names the last backend tried; it was not "served".
  const served = status === 'ok' ? route : undefined;

  const usage = outcome.usage;
  const input = usage === undefined ? 0 : nonNegativeInt(usage.inputTokens);
  const output = usage === undefined ? 0 : nonNegativeInt(usage.outputTokens);
  const cost =
    served === undefined || (input === 0 && output === 0)
      ? { amount: 0, basis: 'none' as const }
      : deps.pricer.price(served.backendId, served.model, served.tier, input, output);

  const attempts = ctx.attempts.map(toRecorded);
  const breakers: Record<string, BreakerState> = {};
  for (const a of ctx.attempts) {
    const state = deps.breakerState?.(a.backendId) ?? (a.outcome === 'skipped_breaker_open' ? 'open' : undefined);
    if (state !== undefined) breakers[a.backendId] = state;
  }

  const totalMs = round3(Math.max(0, outcome.endedAt - ctx.receivedAt));
  const upstreamMs = outcome.upstreamMs ?? sumCalled(ctx.attempts);
  const calledAny = ctx.attempts.some((a) => a.attemptNo > 0);

  return {
    schemaVersion: 1,
    requestId: ctx.requestId,
    time: new Date(timeMs).toISOString(),
    timeMs,
    deploymentId: deps.deploymentId,
    principal: { id: ctx.principal.id, kind: ctx.principal.kind, team: ctx.principal.team ?? null },
    workload: workloadOf(ctx, deps),
    operation: outcome.operation,
    stream: outcome.stream,
    requestedModel: outcome.requestedModel === undefined ? null : deps.knownModel(outcome.requestedModel) ? outcome.requestedModel : UNKNOWN_MODEL,
    served: {
      model: served?.model ?? null,
      backend: served?.backendId ?? null,
      tier: served?.tier ?? null,
      region: served?.region ?? null,
    },
    classification: { level: decision?.level ?? ctx.classification?.level ?? null, findings: entityCounts(ctx.classification) },
    policy: {
      version: decision?.policyVersion ?? null,
      capability: decision?.capability ?? null,
      matchedRules: decision === undefined ? [] : [...decision.matchedRules],
      eligibleTiers: decision === undefined ? [] : [...decision.eligibleTiers],
    },
    effects: {
      pseudonymized: outcome.pseudonymized ?? false,
      pseudonymizeFor: decision === undefined ? [] : [...decision.effects.pseudonymizeFor],
      requireApproval: decision?.effects.requireApproval ?? false,
    },
    attempts,
    fallbacks: Math.max(0, new Set(ctx.attempts.map((a) => a.backendId)).size - 1),
    breakers,
    status,
    httpStatus: code === null ? 200 : ERROR_STATUS[code],
    errorCode: code,
    tokens: { input, output, estimated: usage?.estimated === true },
    latency: {
      totalMs,
      ttftMs: outcome.firstTokenAt === undefined ? null : round3(Math.max(0, outcome.firstTokenAt - ctx.receivedAt)),
      overheadMs: calledAny || outcome.upstreamMs !== undefined ? round3(Math.max(0, totalMs - upstreamMs)) : totalMs,
    },
    cost: { amount: cost.amount, currency: 'USD', basis: cost.basis },
    ...(ctx.retrieval === undefined ? {} : { retrieval: { bases: [...ctx.retrieval.summary.bases], chunks: ctx.retrieval.summary.chunks, dropped: ctx.retrieval.summary.dropped } }),
    ...(ctx.injection === undefined || ctx.injection.verdict === 'clean'
      ? {}
      : { injection: { verdict: ctx.injection.verdict, score: round3(ctx.injection.score), signals: [...ctx.injection.signals], action: ctx.injection.action } }),
  };
}

function workloadOf(ctx: RequestContext, deps: RecordDeps): string | null {
  const applied = ctx.decision?.workload ?? ctx.principal.workload;
  if (applied !== undefined) return applied;
  const header = ctx.workloadHeader;
  if (header === undefined || header === '') return null;
  // A header is caller text: echo it only when the policy knows the name.
  return deps.knownWorkload?.(header) === true ? header : UNDECLARED_WORKLOAD;
}

/** Entity type → count; the only part of a classification a record keeps. */
export function entityCounts(classification: Classification | undefined): Record<string, number> {
  const counts: Record<string, number> = {};
  if (classification === undefined) return counts;
  for (const f of classification.findings) counts[f.entity] = (counts[f.entity] ?? 0) + 1;
  return counts;
}

function toRecorded(a: AttemptRecord): RecordedAttempt {
  return {
    backend: a.backendId,
    tier: a.tier,
    model: a.model,
    attemptNo: a.attemptNo,
    outcome: a.outcome,
    errorCode: a.errorCode ?? null,
    latencyMs: round3(a.latencyMs),
  };
}

function sumCalled(attempts: readonly AttemptRecord[]): number {
  let sum = 0;
  // Queue waits (attemptNo 0) are the gateway's own time, so they stay in the overhead.
  for (const a of attempts) if (a.attemptNo > 0) sum += a.latencyMs;
  return sum;
}

function nonNegativeInt(n: number): number {
  return Number.isFinite(n) && n > 0 ? Math.round(n) : 0;
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
