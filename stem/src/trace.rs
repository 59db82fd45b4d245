//! Spans, and the W3C trace context that carries one trace across hops.
//!
//! Every enqueue is a `stem.enqueue` span and every execution a
//! `stem.execute` span (info level, with the task's name, id, attempt and
//! queue), so that the worker's log lines say which task they belong to.
//! With the feature `otel` and an OpenTelemetry layer in the subscriber, the
//! spans are OpenTelemetry spans of one trace: the enqueue span's context
//! goes into the envelope's `traceparent` / `tracestate` headers (the W3C
//! trace context, always W3C, whatever propagator the application set globally), and the
//! execution span continues it. What a task enqueues from its body continues
//! its execution span; a canvas step started after it (a chain's next link,
//! a link, a chord's callback) continues it too, through its recorded status
//! (`meta["stem.trace"]`). A `traceparent` that does not parse starts a new
//! trace and is logged once, at debug; it never fails a task.

use tracing::Span;

use crate::envelope::Envelope;

/// The status `meta` key of the trace context an execution's follow-ups
/// continue (only with `otel`, and only when the execution was traced).
pub(crate) const TRACE_META: &str = "stem.trace";

/// The span of an enqueue of `envelopes` (their first names the task).
pub(crate) fn enqueue_span(envelopes: &[Envelope]) -> Span {
    let Some(first) = envelopes.first() else { return Span::none() };
    let span = tracing::info_span!(
        "stem.enqueue",
        task = %first.task,
        id = %first.id,
        queue = %first.queue,
        n = envelopes.len(),
    );
    otel::continue_from(&span, &first.headers);
    span
}

/// Writes the context of `span` (the enqueue's) into each envelope that does
/// not carry one already.
pub(crate) fn inject(span: &Span, envelopes: &mut [Envelope]) {
    otel::inject(span, envelopes);
}

/// The span of one execution of `envelope`, continuing the trace its headers
/// carry. (The worker's id is the process's, not the span's: a resource
/// attribute of the application's tracer.)
pub(crate) fn execute_span(envelope: &Envelope) -> Span {
    let span = tracing::info_span!(
        "stem.execute",
        task = %envelope.task,
        id = %envelope.id,
        attempt = envelope.attempt,
        queue = %envelope.queue,
    );
    otel::continue_from(&span, &envelope.headers);
    span
}

/// The trace context of `span`, as a `traceparent` value, for what follows
/// the execution; `None` without `otel` or when the span is not traced.
pub(crate) fn context_of(span: &Span) -> Option<String> {
    otel::traceparent(span)
}

/// Makes `envelope` continue `traceparent` (a finished execution's), unless it
/// carries a context of its own.
pub(crate) fn continue_in(envelope: &mut Envelope, traceparent: &str) {
    envelope.headers.entry(TRACEPARENT.to_owned()).or_insert_with(|| traceparent.to_owned());
}

/// The W3C header of the trace context.
const TRACEPARENT: &str = "traceparent";

#[cfg(feature = "otel")]
mod otel {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicBool, Ordering};

    use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
    use opentelemetry::trace::TraceContextExt;
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use tracing::Span;
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    use super::TRACEPARENT;
    use crate::envelope::Envelope;

    /// Headers as the propagator reads and writes them.
    struct Headers<'a>(&'a mut BTreeMap<String, String>);

    impl Injector for Headers<'_> {
        fn set(&mut self, key: &str, value: String) {
            self.0.insert(key.to_owned(), value);
        }
    }

    struct Read<'a>(&'a BTreeMap<String, String>);

    impl Extractor for Read<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).map(String::as_str)
        }

        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(String::as_str).collect()
        }
    }

    /// Makes `span` a child of the context in `headers`, if they carry one.
    pub(super) fn continue_from(span: &Span, headers: &BTreeMap<String, String>) {
        if span.is_disabled() || !headers.contains_key(TRACEPARENT) {
            return;
        }
        let parent = TraceContextPropagator::new().extract(&Read(headers));
        if parent.span().span_context().is_valid() {
            let _ = span.set_parent(parent);
        } else {
            static SAID: AtomicBool = AtomicBool::new(false);
            if !SAID.swap(true, Ordering::Relaxed) {
                let value = headers.get(TRACEPARENT).map(String::as_str).unwrap_or_default();
                tracing::debug!(
                    traceparent = value,
                    "a traceparent header does not parse; the task starts a new trace"
                );
            }
        }
    }

    pub(super) fn inject(span: &Span, envelopes: &mut [Envelope]) {
        let Some(carried) = carried(span) else { return };
        for envelope in envelopes.iter_mut().filter(|e| !e.headers.contains_key(TRACEPARENT)) {
            envelope.headers.extend(carried.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }

    pub(super) fn traceparent(span: &Span) -> Option<String> {
        carried(span)?.remove(TRACEPARENT)
    }

    /// The W3C headers of `span`'s context; `None` if it is not traced.
    fn carried(span: &Span) -> Option<BTreeMap<String, String>> {
        if span.is_disabled() {
            return None;
        }
        let context = span.context();
        if !context.span().span_context().is_valid() {
            return None;
        }
        let mut carried = BTreeMap::new();
        TraceContextPropagator::new().inject_context(&context, &mut Headers(&mut carried));
        Some(carried)
    }
}

#[cfg(not(feature = "otel"))]
mod otel {
    use std::collections::BTreeMap;

    use tracing::Span;

    use crate::envelope::Envelope;

    pub(super) fn continue_from(_span: &Span, _headers: &BTreeMap<String, String>) {}

    pub(super) fn inject(_span: &Span, _envelopes: &mut [Envelope]) {}

    pub(super) fn traceparent(_span: &Span) -> Option<String> {
        None
    }
}
