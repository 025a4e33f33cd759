import { context, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
import type { DecisionRecord } from '../record/decision-record.js';

/** The pipeline stages that get a span each, under the request's span. */
export type PipelineStage = 'authenticate' | 'retrieve' | 'classify' | 'policy' | 'plan' | 'upstream' | 'stream' | 'record';

const TRACER_NAME = 'perimeter';

/**
 * Spans through @opentelemetry/api only. Without a registered SDK every call is
 * the API's no-op (a few allocations, no export). An OTLP exporter needs
 * @opentelemetry/sdk-trace-node and @opentelemetry/exporter-trace-otlp-http,
 * which are not dependencies: registering them is the deployment's opt-in.
 *
 * Parents are passed explicitly, not through the active context, so nesting is
 * right even when no context manager is installed.
 */
export class RequestTrace {
  readonly span: Span;
  readonly #ctx: Context;
  readonly #tracer: Tracer;
  readonly #recording: boolean;

  constructor(tracer: Tracer, requestId: string, operation: string, parent: Context = context.active()) {
    this.#tracer = tracer;
    // GenAI convention: span name is "{operation} {model}"; the model is added once known.
    this.span = tracer.startSpan(
      `perimeter ${operation}`,
      { kind: SpanKind.SERVER, attributes: { 'gen_ai.operation.name': operation, 'perimeter.request_id': requestId } },
      parent,
    );
    this.#ctx = trace.setSpan(parent, this.span);
    this.#recording = this.span.isRecording();
  }

  /** The request's context, for propagating into upstream calls. */
  get context(): Context {
    return this.#ctx;
  }

  /** Runs `fn` inside a child span for one stage. Errors are recorded by code, never by message. */
  stage<T>(stage: PipelineStage, fn: (span: Span) => T, attributes?: Attributes): T {
    // Unsampled or no SDK: children of a non-recording span record nothing either, so the
    // stage runs as a plain call (no span, context or promise wrapper on the request path).
    if (!this.#recording) return fn(this.span);
    const span = this.#tracer.startSpan(`perimeter.${stage}`, { kind: stage === 'upstream' ? SpanKind.CLIENT : SpanKind.INTERNAL, ...(attributes === undefined ? {} : { attributes }) }, this.#ctx);
    let result: T;
    try {
      result = context.with(trace.setSpan(this.#ctx, span), () => fn(span));
    } catch (err) {
      fail(span, err);
      span.end();
      throw err;
    }
    if (isPromise(result)) {
      return result.then(
        (v) => {
          span.end();
          return v;
        },
        (err: unknown) => {
          fail(span, err);
          span.end();
          throw err;
        },
      ) as T;
    }
    span.end();
    return result;
  }

  /** Ends the request span with the record's ids, counts and codes as attributes. */
  end(record: DecisionRecord): void {
    this.span.setAttributes(recordAttributes(record));
    if (record.served.model !== null) this.span.updateName(`${record.operation === 'chat' ? 'chat' : 'embeddings'} ${record.served.model}`);
    if (record.status !== 'ok') this.span.setStatus({ code: SpanStatusCode.ERROR, message: record.errorCode ?? record.status });
    this.span.end();
  }
}

export function startRequestTrace(requestId: string, operation: 'chat' | 'embeddings', tracer: Tracer = trace.getTracer(TRACER_NAME)): RequestTrace {
  return new RequestTrace(tracer, requestId, operation);
}

/** GenAI semantic-convention attributes plus perimeter.* ones. No content. */
export function recordAttributes(r: DecisionRecord): Attributes {
  const a: Attributes = {
    'perimeter.status': r.status,
    'perimeter.fallbacks': r.fallbacks,
    'gen_ai.usage.input_tokens': r.tokens.input,
    'gen_ai.usage.output_tokens': r.tokens.output,
    'perimeter.tokens_estimated': r.tokens.estimated,
    'perimeter.matched_rules': [...r.policy.matchedRules],
  };
  if (r.requestedModel !== null) a['gen_ai.request.model'] = r.requestedModel;
  if (r.served.model !== null) a['gen_ai.response.model'] = r.served.model;
  if (r.served.tier !== null) a['perimeter.tier'] = r.served.tier;
  if (r.served.backend !== null) a['perimeter.backend'] = r.served.backend;
  if (r.classification.level !== null) a['perimeter.level'] = r.classification.level;
  if (r.policy.version !== null) a['perimeter.policy_version'] = r.policy.version;
  if (r.errorCode !== null) a['error.type'] = r.errorCode;
  return a;
}

function fail(span: Span, err: unknown): void {
  const code = typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : err instanceof Error ? err.name : 'error';
  span.setAttribute('error.type', code);
  span.setStatus({ code: SpanStatusCode.ERROR, message: code });
}

function isPromise<T>(v: T): v is T & Promise<Awaited<T>> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}
