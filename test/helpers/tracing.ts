import { trace, type Attributes, type Context, type Span, type SpanContext, type SpanOptions, type SpanStatus, type Tracer, type TracerProvider } from '@opentelemetry/api';

/** A minimal in-memory tracer provider, standing in for an SDK. */
export interface Recorded {
  name: string;
  parent: string | undefined;
  id: string;
  attributes: Attributes;
  status: SpanStatus | undefined;
  ended: boolean;
}

export function recordingProvider(): { provider: TracerProvider; spans: Recorded[] } {
  const spans: Recorded[] = [];
  let n = 0;
  const tracer: Tracer = {
    startSpan(name: string, options?: SpanOptions, ctx?: Context): Span {
      const parent = ctx === undefined ? undefined : trace.getSpanContext(ctx)?.spanId;
      const rec: Recorded = { name, parent, id: `span${++n}`.padStart(16, '0'), attributes: { ...(options?.attributes ?? {}) }, status: undefined, ended: false };
      spans.push(rec);
      const sc: SpanContext = { traceId: '1'.repeat(32), spanId: rec.id, traceFlags: 1 };
      const span: Span = {
        spanContext: () => sc,
        setAttribute: (k, v) => {
          if (v !== undefined) rec.attributes[k] = v;
          return span;
        },
        setAttributes: (a) => {
          Object.assign(rec.attributes, a);
          return span;
        },
        addEvent: () => span,
        addLink: () => span,
        addLinks: () => span,
        setStatus: (s) => {
          rec.status = s;
          return span;
        },
        updateName: (nm) => {
          rec.name = nm;
          return span;
        },
        end: () => {
          rec.ended = true;
        },
        isRecording: () => true,
        recordException: () => undefined,
      };
      return span;
    },
    startActiveSpan: (() => {
      throw new Error('not used');
    }) as Tracer['startActiveSpan'],
  };
  return { provider: { getTracer: () => tracer }, spans };
}
