//! Where the command line's logs and traces go: logs to stderr (warn, `-v`
//! info, `-vv` debug, or `RUST_LOG`), and, when `OTEL_EXPORTER_OTLP_ENDPOINT`
//! or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set, Stem's spans (info and up)
//! to that OpenTelemetry collector over OTLP/HTTP (protobuf; `http://` URLs),
//! named by `OTEL_SERVICE_NAME`, batched as the standard `OTEL_BSP_*`
//! variables say. A collector that cannot be set up is logged and skipped: it
//! never stops a command.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// The tracer provider of the OTLP export, if any: flushed at the end.
#[derive(Debug)]
pub(crate) struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

/// Installs the process's subscriber for `verbose`.
pub(crate) fn install(verbose: u8) -> Telemetry {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_filter(filter);
    let (provider, failure) = match otlp() {
        Ok(provider) => (provider, None),
        Err(why) => (None, Some(why)),
    };
    let traces = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("stem"))
            .with_threads(false)
            .with_tracked_inactivity(false)
            .with_filter(tracing_subscriber::filter::LevelFilter::INFO)
    });
    let _ = tracing_subscriber::registry().with(logs).with(traces).try_init();
    if let Some(why) = failure {
        tracing::error!("{why}; spans are not exported");
    }
    Telemetry { provider }
}

/// The OTLP export the environment asks for: `None` when it asks for none.
fn otlp() -> Result<Option<SdkTracerProvider>, String> {
    let asked = ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
    if !asked {
        return Ok(None);
    }
    // The HTTP client blocks: it is made (and later dropped) off the runtime.
    std::thread::spawn(|| {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .build()
            .map_err(|e| format!("the OTLP exporter could not be set up: {e}"))?;
        let resource = opentelemetry_sdk::Resource::builder().build();
        Ok(Some(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build()))
    })
    .join()
    .unwrap_or_else(|_| Err("setting the OTLP exporter up panicked".to_owned()))
}

impl Telemetry {
    /// Sends the spans not yet exported (five seconds at most).
    pub(crate) async fn flush(self) {
        let Some(provider) = self.provider else { return };
        let flushed =
            tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(std::time::Duration::from_secs(5)))
                .await;
        if let Ok(Err(error)) = flushed {
            eprintln!("exporting the last spans failed: {error}");
        }
    }
}
