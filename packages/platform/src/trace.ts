import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, isSpanContextValid, propagation, trace, type Span } from '@opentelemetry/api';

// The bank's own spans and the trace context it carries where no instrumentation does: into
// outbox events (`traceparent`), out of them in the consumers, and onto log lines. Through the
// OpenTelemetry API only: without the SDK (tracing off, the default) every call here is a no-op.

const tracer = trace.getTracer('bank');

/** The W3C traceparent of the span active now; `fallback` when there is none (tracing off). */
export function currentTraceparent(fallback = ''): string {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ?? fallback;
}

/** The trace and span ids for a log line, when a span is active: a log line then joins its trace. */
export function traceFields(): { traceId: string; spanId: string } | Record<string, never> {
  const sc = trace.getActiveSpan()?.spanContext();
  return sc && isSpanContextValid(sc) ? { traceId: sc.traceId, spanId: sc.spanId } : {};
}

/** Adds attributes to the span active now (the request's), so that a trace can be found by them. */
export function annotateSpan(attributes: Record<string, string | number>): void {
  trace.getActiveSpan()?.setAttributes(attributes);
}

/**
 * Runs `fn` in a span of its own, a child of the trace `traceparent` names (an event's, when a
 * consumer takes it up) or of the active span. The span ends with `fn`; an error marks it failed.
 */
export function inSpan<T>(name: string, opts: { traceparent?: string; kind?: 'consumer' | 'client' | 'internal'; attributes?: Record<string, string | number> }, fn: (span: Span) => Promise<T>): Promise<T> {
  const parent = opts.traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent: opts.traceparent }) : context.active();
  const kind = opts.kind === 'consumer' ? SpanKind.CONSUMER : opts.kind === 'client' ? SpanKind.CLIENT : SpanKind.INTERNAL;
  return tracer.startActiveSpan(name, { kind, attributes: opts.attributes }, parent, async (span) => {
    try {
      return await fn(span);
    } catch (e) {
      span.recordException(e as Error);
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw e;
    } finally {
      span.end();
    }
  });
}
