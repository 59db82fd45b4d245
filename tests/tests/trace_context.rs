//! One trace from the producer through the worker, on every store: the
//! enqueue span's W3C context travels in the envelope's headers, the
//! execution span continues it, and so do a task enqueued from a task's
//! body, a chain's next link, a chord's callback and a workflow's steps. A `traceparent` that
//! does not parse starts a new trace and fails nothing. Spans are read back
//! from OpenTelemetry's in-memory exporter.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use stem::canvas::{chain, chord, group};
use stem::codec::Payload;
use stem::prelude::*;
use stem::{Envelope, TaskState};
use stem_tests::{TestResult, WAIT, every_store, within};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[stem::task(queue = "traced")]
async fn order(ctx: TaskContext, n: u32) -> Result<u32, TaskError> {
    Receipt::enqueue(ctx.stem(), n).await.map_err(|e| TaskError::retry(e.to_string()))?;
    Ok(n + 1)
}

#[stem::task(queue = "traced")]
async fn receipt(n: u32) -> Result<u32, TaskError> {
    Ok(n)
}

#[stem::task(queue = "traced")]
async fn ship(n: u32) -> Result<u32, TaskError> {
    Ok(n * 10)
}

#[stem::task(queue = "traced")]
async fn part(n: u32) -> Result<u32, TaskError> {
    Ok(n)
}

#[stem::task(queue = "traced")]
async fn total(parts: Vec<u32>) -> Result<u32, TaskError> {
    Ok(parts.iter().sum())
}

#[stem::workflow(queue = "traced")]
async fn fulfil(wf: WorkflowContext) -> Result<u32, WorkflowError> {
    Ok(wf.step("pack", || async { Ok::<_, StepError>(7) }).await?)
}

/// The exporter every span of this test binary goes to.
fn exporter() -> &'static (InMemorySpanExporter, SdkTracerProvider) {
    static INSTALLED: OnceLock<(InMemorySpanExporter, SdkTracerProvider)> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("stem-tests"));
        tracing_subscriber::registry().with(layer).init();
        (exporter, provider)
    })
}

/// The finished spans of trace `trace`.
fn spans_of(trace: TraceId) -> Vec<SpanData> {
    let (exporter, provider) = exporter();
    let _ = provider.force_flush();
    let spans = exporter.get_finished_spans().expect("spans");
    spans.into_iter().filter(|s| s.span_context.trace_id() == trace).collect()
}

/// The value of attribute `key` of `span`.
fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.to_string())
}

/// The execution span of the task named `task`.
fn execution<'a>(spans: &'a [SpanData], task: &str) -> Option<&'a SpanData> {
    spans.iter().find(|s| s.name == "stem.execute" && attribute(s, "task").as_deref() == Some(task))
}

/// Whether `ancestor` is `span`'s parent, or its parent's, and so on.
fn descends(spans: &[SpanData], span: &SpanData, ancestor: SpanId) -> bool {
    let by_id: HashMap<SpanId, &SpanData> = spans.iter().map(|s| (s.span_context.span_id(), s)).collect();
    let mut parent = span.parent_span_id;
    while parent != SpanId::INVALID {
        if parent == ancestor {
            return true;
        }
        parent = by_id.get(&parent).map_or(SpanId::INVALID, |s| s.parent_span_id);
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_runs_from_the_producer_through_tasks_chains_and_workflow_steps() -> TestResult {
    exporter();
    for env in every_store("traced").await {
        let (label, stem) = (env.label, env.stem.clone());
        let worker = Worker::builder(&stem)
            .task::<Order>()
            .task::<Receipt>()
            .task::<Ship>()
            .task::<Part>()
            .task::<Total>()
            .workflow::<Fulfil>()
            .handle_signals(false)
            .workflow_poll_interval(Duration::from_millis(20))
            .build()?
            .spawn();

        let checkout = tracing::info_span!("checkout");
        let trace = {
            use opentelemetry::trace::TraceContextExt as _;
            use tracing_opentelemetry::OpenTelemetrySpanExt as _;
            checkout.context().span().span_context().trace_id()
        };
        let (shipped, fulfilled, summed) = async {
            let shipped = chain(Order::call(1)).then(Ship::link()).enqueue(&stem).await?;
            let fulfilled = Fulfil::start(&stem, ()).await?;
            let summed = chord(group([Part::call(2), Part::call(3)]), Total::link()).enqueue(&stem).await?;
            Ok::<_, stem::Error>((shipped, fulfilled, summed))
        }
        .instrument(checkout.clone())
        .await?;
        drop(checkout);
        assert_eq!(shipped.wait_timeout(WAIT).await?, 20, "{label}");
        assert_eq!(fulfilled.wait_timeout(WAIT).await?, 7, "{label}");
        assert_eq!(summed.wait_timeout(WAIT).await?, 5, "{label}");
        // A traceparent that does not parse: a new trace, the task still runs.
        let mut garbled = Envelope::new(<Receipt as stem::Task>::NAME, "traced", Payload::new("json", b"5".to_vec()));
        garbled.headers.insert("traceparent".into(), "00-not-a-trace-01".into());
        let garbled = stem.handle::<u32>(stem.enqueue_envelope(garbled).await?);
        assert_eq!(garbled.wait_timeout(WAIT).await?, 5, "{label}: a bad traceparent fails nothing");
        assert_eq!(garbled.status().await?.map(|s| s.state), Some(TaskState::Succeeded), "{label}");
        // The task the first one enqueued from its body ends on its own.
        within("the receipt's execution span", async {
            while execution(&spans_of(trace), <Receipt as stem::Task>::NAME).is_none() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        worker.stop(ShutdownMode::Warm).await?;

        let spans = spans_of(trace);
        let names: Vec<String> = spans.iter().map(|s| format!("{} {:?}", s.name, attribute(s, "task"))).collect();
        let root = spans.iter().find(|s| s.name == "checkout").expect("the producer's span");
        let root = root.span_context.span_id();
        let order = execution(&spans, <Order as stem::Task>::NAME)
            .unwrap_or_else(|| panic!("{label}: no order span in {names:?}"));
        let receipt = execution(&spans, <Receipt as stem::Task>::NAME).expect("receipt");
        let ship = execution(&spans, <Ship as stem::Task>::NAME)
            .unwrap_or_else(|| panic!("{label}: no ship span in {names:?}"));
        let run = execution(&spans, "stem.workflow.run").unwrap_or_else(|| panic!("{label}: {names:?}"));
        let step = spans.iter().find(|s| s.name == "stem.workflow.step").expect("the step's span");
        assert!(descends(&spans, order, root), "{label}: producer -> execution");
        assert!(descends(&spans, receipt, order.span_context.span_id()), "{label}: a task's body -> its enqueue");
        assert_eq!(ship.parent_span_id, order.span_context.span_id(), "{label}: a chain's link -> its execution");
        assert!(descends(&spans, run, root), "{label}: producer -> workflow run");
        assert!(descends(&spans, step, run.span_context.span_id()), "{label}: run -> its step");
        let parts: Vec<SpanId> = spans
            .iter()
            .filter(|s| s.name == "stem.execute" && attribute(s, "task").as_deref() == Some(<Part as stem::Task>::NAME))
            .map(|s| s.span_context.span_id())
            .collect();
        let total = execution(&spans, <Total as stem::Task>::NAME).unwrap_or_else(|| panic!("{label}: {names:?}"));
        assert_eq!(parts.len(), 2, "{label}: both members in the trace");
        assert!(parts.contains(&total.parent_span_id), "{label}: a chord's callback -> the member that completed it");
        assert!(
            !spans.iter().any(|s| attribute(s, "id").as_deref() == Some(&garbled.id().to_string())),
            "{label}: the garbled task is not in the producer's trace"
        );
        env.clean().await?;
    }
    Ok(())
}
