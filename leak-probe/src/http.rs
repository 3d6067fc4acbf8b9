//! The debug routes both servers mount, and the middleware that counts their requests.
//!
//! | route | answers |
//! |---|---|
//! | `GET /_count` | live tasks of this runtime, a bare integer (the blog's endpoint) |
//! | `GET /_stack` | tasks grouped by spawn site and await trace, as text; `?debug=2` lists every task; `?trace=0` skips the dump (no runtime pause); `?all_traces=1` renders every trace, not a sample of 100 per spawn site |
//! | `GET /_tasks` | the same report as JSON (same query parameters) |
//! | `GET /metrics` | Prometheus text, see [`crate::metrics`] |
//!
//! ```
//! use axum::{Router, routing::get};
//!
//! let app = leak_probe::http::instrument(Router::new().route("/", get(|| async { "hi" })));
//! # let _: Router = app;
//! ```

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::metrics::{self, HttpMetrics};
use crate::report::{self, ReportOptions};

/// Adds the debug routes to `app` and counts every request (by route and status) for
/// `/metrics`.
pub fn instrument(app: Router) -> Router {
    instrument_with(app, DebugAccess::Open)
}

/// Whether `/_count`, `/_stack` and `/_tasks` are served. They reveal internals (spawn
/// sites, source paths) and a dump pauses the runtime, so they are not for the internet.
/// `/metrics` is served either way: it is meant to be scraped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DebugAccess {
    /// Served.
    Open,
    /// Not served (404), except `/metrics`.
    Closed,
}

impl DebugAccess {
    /// Open on a loopback address; elsewhere only if `expose` is set (`--expose-debug`).
    pub fn for_addr(addr: std::net::SocketAddr, expose: bool) -> DebugAccess {
        if expose || addr.ip().is_loopback() {
            DebugAccess::Open
        } else {
            DebugAccess::Closed
        }
    }
}

/// [`instrument`], with the debug routes served or not.
pub fn instrument_with(app: Router, access: DebugAccess) -> Router {
    let http = Arc::new(HttpMetrics::default());
    let debug = match access {
        DebugAccess::Open => debug_routes(Arc::clone(&http)),
        DebugAccess::Closed => metrics_route(Arc::clone(&http)),
    };
    app.merge(debug)
        .layer(middleware::from_fn_with_state(http, track_requests))
}

/// Just the four debug routes, reading request metrics from `http`.
pub fn debug_routes(http: Arc<HttpMetrics>) -> Router {
    Router::new()
        .route("/_count", get(count))
        .route("/_stack", get(stack))
        .route("/_tasks", get(tasks))
        .merge(metrics_route(http))
}

/// Only `/metrics`.
pub fn metrics_route(http: Arc<HttpMetrics>) -> Router {
    Router::new()
        .route("/metrics", get(prometheus))
        .with_state(http)
}

/// Records the route, status and latency of every request.
///
/// The route label is the router's pattern (`/sum`), never the raw path, so the label set
/// stays bounded whatever clients send.
pub async fn track_requests(
    State(http): State<Arc<HttpMetrics>>,
    req: Request,
    next: Next,
) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let started = Instant::now();
    let response = next.run(req).await;
    // `MatchedPath` is a shared string: cloning it above allocated nothing.
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    http.record(route, response.status().as_u16(), started.elapsed());
    response
}

// ANCHOR: count_route
/// `GET /_count`: the number of live tasks, as the blog's `runtime.NumGoroutine()` handler.
async fn count() -> String {
    crate::live_tasks().to_string()
}
// ANCHOR_END: count_route

/// Query parameters of `/_stack` and `/_tasks`.
#[derive(Debug, Deserialize)]
struct StackQuery {
    /// `1` (default): grouped. `2`: also every task on its own, like Go's `debug=2`.
    debug: Option<u8>,
    /// `1` (default): take a task dump for await traces. `0`: registry only, no pause.
    trace: Option<u8>,
    /// `1`: render every task's trace, not only a sample per spawn site.
    all_traces: Option<u8>,
}

impl StackQuery {
    fn options(&self) -> Result<ReportOptions, (StatusCode, String)> {
        let bad = |what: &str| (StatusCode::BAD_REQUEST, format!("{what}\n"));
        let list_tasks = match self.debug.unwrap_or(1) {
            0 | 1 => false,
            2 => true,
            _ => return Err(bad("debug must be 1 (grouped) or 2 (every task)")),
        };
        let traces = match self.trace.unwrap_or(1) {
            0 => false,
            1 => true,
            _ => {
                return Err(bad(
                    "trace must be 0 (registry only, no pause) or 1 (task dump)",
                ));
            }
        };
        let traces_per_site = match self.all_traces.unwrap_or(0) {
            0 => Some(report::DEFAULT_TRACES_PER_SITE),
            1 => None,
            _ => {
                return Err(bad(
                    "all_traces must be 0 (a sample per spawn site) or 1 (every task)",
                ));
            }
        };
        Ok(ReportOptions {
            traces,
            list_tasks,
            traces_per_site,
            ..ReportOptions::default()
        })
    }
}

async fn report(query: &StackQuery) -> Result<report::TaskReport, (StatusCode, String)> {
    let opts = query.options()?;
    report::current(&opts)
        .await
        .map_err(|busy| (StatusCode::TOO_MANY_REQUESTS, format!("{busy}\n")))
}

/// `GET /_stack`: the task report as text.
async fn stack(Query(query): Query<StackQuery>) -> Response {
    match report(&query).await {
        Ok(report) => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            report.to_string(),
        )
            .into_response(),
        Err(error) => error.into_response(),
    }
}

/// `GET /_tasks`: the task report as JSON.
async fn tasks(Query(query): Query<StackQuery>) -> Response {
    match report(&query).await {
        Ok(report) => axum::Json(report).into_response(),
        Err(error) => error.into_response(),
    }
}

/// `GET /metrics`: Prometheus text format 0.0.4.
async fn prometheus(State(http): State<Arc<HttpMetrics>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics::render(&http),
    )
        .into_response()
}
