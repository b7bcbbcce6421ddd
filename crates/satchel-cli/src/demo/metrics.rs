//! `GET /metrics`: satchel's counters and histograms (see `docs/observability.md`) in the
//! Prometheus text format, rendered by metrics-exporter-prometheus from the process-wide
//! recorder this installs. Served outside the session layer: a scrape never touches a
//! session.

use std::time::Duration;

use anyhow::Context as _;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Store round trips: from a near-cache hit to a store at its timeout.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Session cookie bytes per response: a bare id to a sealed record split across cookies.
const COOKIE_BUCKETS: &[f64] = &[128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0];

/// How often histogram samples are folded into the rendered state (the exporter leaves
/// this to its caller when it runs no HTTP listener of its own).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Installs the Prometheus recorder and returns the `/metrics` router. Call once, inside
/// the runtime.
pub(super) fn router() -> anyhow::Result<Router> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("satchel_store_latency_seconds".into()),
            LATENCY_BUCKETS,
        )
        .and_then(|b| {
            b.set_buckets_for_metric(Matcher::Full("satchel_cookie_bytes".into()), COOKIE_BUCKETS)
        })
        .context("metrics buckets")?
        .install_recorder()
        .context("installing the metrics recorder")?;
    satchel::observe::describe();
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(UPKEEP_EVERY);
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(Router::new().route("/metrics", get(move || render(handle.clone()))))
}

async fn render(handle: PrometheusHandle) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
}
