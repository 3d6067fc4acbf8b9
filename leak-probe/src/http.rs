//! The debug routes both servers mount, and the middleware that counts their requests.
//!
//! | route | answers |
//! |---|---|
//! | `GET /_count` | live tasks of this runtime, a bare integer (the blog's endpoint) |
//! | `GET /_stack` | live tasks grouped by spawn site and await point, as text; `?debug=2` also lists every task (with the task that spawned it); `?trace=0` leaves out await points; `?trace=tokio` adds tokio's own task dump (off unless allowed, see [`DebugConfig::tokio_dump`]); `?all_traces=1` renders every tokio trace, not a sample of 100 per spawn site |
//! | `GET /_tasks` | the same report as JSON (same query parameters) |
//! | `GET /_stack?format=pprof` | the same report as a gzipped pprof profile, for `go tool pprof` ([`crate::report::pprof`]) |
//! | `GET /_leaks` | leak suspects: spawn sites whose floor of live tasks keeps rising, JSON; `?format=text` as text ([`crate::leaks`]) |
//! | `GET /_ui` | a live page for all of it: the count over time, sites and suspects, the dump on demand (one self-contained HTML page) |
//! | `GET /metrics` | Prometheus text, see [`crate::metrics`] |
//!
//! # Safe under load
//!
//! A debug route is used when something is already wrong, so none of them may make it
//! worse. `/_count` is one atomic load. `/_stack` and `/_tasks` read the task registry,
//! which never pauses the runtime, group on the blocking pool, and answer within
//! [`ROUTE_BOUND`] or with `503` and a one-line reason; one report is built at a time
//! (`429` for the next). tokio's own dump, which pauses every worker and can hang a busy
//! runtime for good, runs only when the server allowed it **and** the runtime is quiet
//! (see [`crate::report::tokio_dump`]); otherwise it is refused at once with the reason.
//!
//! ```
//! use axum::{Router, routing::get};
//!
//! let app = leak_probe::http::instrument(Router::new().route("/", get(|| async { "hi" })));
//! # let _: Router = app;
//! ```

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::get;

use crate::metrics::{self, HttpMetrics};
use crate::report::{self, ReportError, ReportOptions, TraceSource};

/// Longest a `/_stack` or `/_tasks` request may take before it is answered `503`.
pub const ROUTE_BOUND: Duration = Duration::from_secs(4);

/// Adds the debug routes to `app` (served, tokio dumps off) and counts every request (by
/// route and status) for `/metrics`.
pub fn instrument(app: Router) -> Router {
    instrument_with(app, DebugConfig::default())
}

/// Whether `/_count`, `/_stack`, `/_tasks`, `/_leaks` and `/_ui` are served. They reveal internals (spawn
/// sites, source paths), so they are not for the internet. `/metrics` is served either
/// way: it is meant to be scraped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DebugAccess {
    /// Served.
    #[default]
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

/// How the debug routes are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DebugConfig {
    /// Whether they are served at all.
    pub access: DebugAccess,
    /// Whether `/_stack?trace=tokio` may take tokio's task dump (on a quiet runtime only).
    /// Off by default: the dump pauses every worker, and on a busy runtime tokio 1.54's
    /// dump can hang the process for good (see [`crate::report`]). Servers turn it on
    /// with `--tokio-dump`.
    pub tokio_dump: bool,
}

impl DebugConfig {
    /// For a server listening on `addr`: debug routes on loopback (elsewhere only with
    /// `expose`, `--expose-debug`), tokio dumps only with `tokio_dump` (`--tokio-dump`).
    pub fn for_addr(addr: std::net::SocketAddr, expose: bool, tokio_dump: bool) -> DebugConfig {
        DebugConfig {
            access: DebugAccess::for_addr(addr, expose),
            tokio_dump,
        }
    }
}

/// [`instrument`], with the debug routes configured.
pub fn instrument_with(app: Router, config: DebugConfig) -> Router {
    let http = Arc::new(HttpMetrics::default());
    let debug = match config.access {
        DebugAccess::Open => debug_routes(Arc::clone(&http), config),
        DebugAccess::Closed => metrics_route(Arc::clone(&http)),
    };
    // `with_state(())` turns every handler into its finished, layered route now. A
    // router called as a service (inside another layer, as both servers do) would
    // otherwise build each handler's route, and apply this layer to it, on every request.
    app.merge(debug)
        .layer(TrackRequestsLayer::new(http))
        .with_state(())
}

/// Just the four debug routes, reading request metrics from `http`.
pub fn debug_routes(http: Arc<HttpMetrics>, config: DebugConfig) -> Router {
    Router::new()
        .route("/_count", get(count))
        .route("/_stack", get(stack))
        .route("/_tasks", get(tasks))
        .route("/_leaks", get(leaks))
        .route("/_ui", get(ui))
        .with_state(config)
        .merge(metrics_route(http))
}

/// Only `/metrics`.
pub fn metrics_route(http: Arc<HttpMetrics>) -> Router {
    Router::new()
        .route("/metrics", get(prometheus))
        .with_state(http)
}

/// Records the route, status and latency of every request (a tower layer), and labels
/// the tasks each request spawns with its route ([`crate::labels`]).
///
/// The route label is the router's pattern (`/users/{id}`), never the raw path, so the
/// label set stays bounded whatever clients send. It is a hand-written service with its
/// own future rather than `axum::middleware::from_fn`, because that boxes a future and a
/// service clone per request: this one allocates nothing.
#[derive(Debug, Clone)]
pub struct TrackRequestsLayer(Arc<HttpMetrics>);

impl TrackRequestsLayer {
    /// Records into `http`.
    pub fn new(http: Arc<HttpMetrics>) -> Self {
        TrackRequestsLayer(http)
    }
}

impl<S> tower::Layer<S> for TrackRequestsLayer {
    type Service = TrackRequests<S>;

    fn layer(&self, inner: S) -> TrackRequests<S> {
        TrackRequests {
            inner,
            route: Arc::new(RouteTracker {
                http: Arc::clone(&self.0),
                route: OnceLock::new(),
            }),
        }
    }
}

/// The service of [`TrackRequestsLayer`].
#[derive(Debug, Clone)]
pub struct TrackRequests<S> {
    inner: S,
    route: Arc<RouteTracker>,
}

/// What one route's copy of the middleware shares with its requests. (`Router::layer`
/// makes a copy per route, so the requests of two routes share no reference count.)
#[derive(Debug)]
struct RouteTracker {
    http: Arc<HttpMetrics>,
    /// The route this copy serves, and its label: learned from its first request, so
    /// the next ones compare a few bytes instead of hashing the route to intern it.
    route: OnceLock<(Box<str>, crate::labels::LabelId)>,
}

impl RouteTracker {
    /// The label of `route` (interned on this copy's first request).
    fn label(&self, route: &str) -> crate::labels::LabelId {
        match self.route.get() {
            Some((known, label)) if **known == *route => *label,
            // The first request, or (should a copy ever serve two routes) another one.
            _ => {
                let label = crate::labels::intern(route);
                let _ = self.route.set((route.into(), label));
                label
            }
        }
    }
}

impl<S> tower::Service<Request> for TrackRequests<S>
where
    S: tower::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Tracked<S::Future>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // The route is the label of every task the request spawns (crate::labels), and
        // its label id finds its counters (0: no route matched). Borrowed, not cloned:
        // `MatchedPath` is one reference-counted string per route, and bumping its count
        // on every request would be a cache line both workers fight over.
        let label = req
            .extensions()
            .get::<MatchedPath>()
            .map_or(0, |route| self.route.label(route.as_str()));
        Tracked {
            inner: self.inner.call(req),
            label,
            started: Instant::now(),
            route: Arc::clone(&self.route),
        }
    }
}

pin_project_lite::pin_project! {
    /// A request being answered; records it when the answer is ready.
    pub struct Tracked<F> {
        #[pin]
        inner: F,
        label: crate::labels::LabelId,
        started: Instant,
        route: Arc<RouteTracker>,
    }
}

impl<F, E> std::future::Future for Tracked<F>
where
    F: std::future::Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let this = self.project();
        let output = {
            let _label = crate::labels::enter(*this.label);
            std::task::ready!(this.inner.poll(cx))
        };
        if let Ok(response) = &output {
            this.route.http.record_label(
                *this.label,
                response.status().as_u16(),
                this.started.elapsed(),
            );
        }
        std::task::Poll::Ready(output)
    }
}

// ANCHOR: count_route
/// `GET /_count`: the number of live tasks, as the blog's `runtime.NumGoroutine()` handler.
async fn count() -> String {
    crate::live_tasks().to_string()
}
// ANCHOR_END: count_route

/// The query of `/_stack` and `/_tasks`, checked: every bad value is a `400` that says
/// what is allowed.
fn parse_query(
    pairs: &[(String, String)],
    config: DebugConfig,
) -> Result<ReportOptions, (StatusCode, String)> {
    let bad = |why: String| (StatusCode::BAD_REQUEST, format!("{why}\n"));
    let mut opts = ReportOptions::default();
    for (key, value) in pairs {
        match (key.as_str(), value.as_str()) {
            ("debug", "0" | "1") => opts.list_tasks = false,
            ("debug", "2") => opts.list_tasks = true,
            ("trace", "0") => opts.source = TraceSource::SitesOnly,
            ("trace", "1") => opts.source = TraceSource::AwaitPoints,
            ("trace", "tokio") => opts.source = TraceSource::TokioDump,
            ("all_traces", "0") => opts.traces_per_site = Some(report::DEFAULT_TRACES_PER_SITE),
            ("all_traces", "1") => opts.traces_per_site = None,
            ("debug", v) => {
                return Err(bad(format!(
                    "debug must be 1 (grouped) or 2 (every task), not `{}`",
                    clip(v)
                )));
            }
            ("trace", v) => {
                return Err(bad(format!(
                    "trace must be 1 (await points, the default), 0 (spawn sites only) or tokio (tokio's task dump), not `{}`",
                    clip(v)
                )));
            }
            ("all_traces", v) => {
                return Err(bad(format!(
                    "all_traces must be 0 (a sample per spawn site) or 1 (every task), not `{}`",
                    clip(v)
                )));
            }
            (k, _) => {
                return Err(bad(format!(
                    "unknown parameter `{}`; these routes take debug, trace and all_traces",
                    clip(k)
                )));
            }
        }
    }
    if opts.source == TraceSource::TokioDump && !config.tokio_dump {
        return Err((
            StatusCode::FORBIDDEN,
            "tokio task dumps are off on this server: they pause every worker and can hang a \
             busy runtime for good (tokio 1.54); start it with --tokio-dump to allow them on a \
             quiet runtime. /_stack without trace=tokio shows spawn sites and await points \
             with no pause\n"
                .to_owned(),
        ));
    }
    Ok(opts)
}

/// At most 40 characters of a client's input, for an error message.
fn clip(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

/// The report for a request, or its refusal, within [`ROUTE_BOUND`].
async fn report(
    pairs: &[(String, String)],
    config: DebugConfig,
) -> Result<report::TaskReport, (StatusCode, String)> {
    let opts = parse_query(pairs, config)?;
    match tokio::time::timeout(ROUTE_BOUND, report::current(&opts)).await {
        Ok(Ok(report)) => Ok(report),
        Ok(Err(busy @ ReportError::Busy)) => {
            Err((StatusCode::TOO_MANY_REQUESTS, format!("{busy}\n")))
        }
        Ok(Err(busy @ ReportError::RuntimeBusy(_))) => {
            Err((StatusCode::SERVICE_UNAVAILABLE, format!("{busy}\n")))
        }
        Err(_) => Err((
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the task report took longer than {ROUTE_BOUND:?}; try ?trace=0, or again later\n"
            ),
        )),
    }
}

/// How `/_stack` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StackFormat {
    Text,
    Json,
    Pprof,
}

/// Takes `format` out of `pairs`.
fn take_format(pairs: &mut Vec<(String, String)>) -> Result<StackFormat, (StatusCode, String)> {
    let mut format = StackFormat::Text;
    let mut bad = None;
    pairs.retain(|(key, value)| {
        if key != "format" {
            return true;
        }
        match value.as_str() {
            "text" => format = StackFormat::Text,
            "json" => format = StackFormat::Json,
            "pprof" => format = StackFormat::Pprof,
            v => bad = Some(clip(v)),
        }
        false
    });
    match bad {
        Some(v) => Err((
            StatusCode::BAD_REQUEST,
            format!("format must be text (the default), json or pprof, not `{v}`\n"),
        )),
        None => Ok(format),
    }
}

/// `GET /_stack`: the task report as text (or `?format=json`, `?format=pprof`).
async fn stack(
    State(config): State<DebugConfig>,
    Query(mut pairs): Query<Vec<(String, String)>>,
) -> Response {
    let format = match take_format(&mut pairs) {
        Ok(format) => format,
        Err(error) => return error.into_response(),
    };
    match (report(&pairs, config).await, format) {
        (Ok(report), StackFormat::Text) => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            report.to_string(),
        )
            .into_response(),
        (Ok(report), StackFormat::Json) => axum::Json(report).into_response(),
        (Ok(report), StackFormat::Pprof) => (
            [
                (header::CONTENT_TYPE, "application/octet-stream"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"tasks.pb.gz\"",
                ),
            ],
            report::pprof::encode(&report),
        )
            .into_response(),
        (Err(error), _) => error.into_response(),
    }
}

/// `GET /_leaks`: leak suspects by spawn site, JSON (or `?format=text`).
async fn leaks(Query(pairs): Query<Vec<(String, String)>>) -> Response {
    let mut text = false;
    for (key, value) in &pairs {
        match (key.as_str(), value.as_str()) {
            ("format", "json") => text = false,
            ("format", "text") => text = true,
            ("format", v) => {
                return (
                    StatusCode::BAD_REQUEST,
                    format!(
                        "format must be json (the default) or text, not `{}`\n",
                        clip(v)
                    ),
                )
                    .into_response();
            }
            (k, _) => {
                return (
                    StatusCode::BAD_REQUEST,
                    format!("unknown parameter `{}`; /_leaks takes format\n", clip(k)),
                )
                    .into_response();
            }
        }
    }
    // Reading the registry per site is one pass over it: keep it off the workers (the
    // blocking pool runs in the runtime's context, so the report is of this runtime).
    let report = tokio::task::spawn_blocking(crate::leaks::current).await;
    match (report, text) {
        (Ok(Ok(report)), true) => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            report.to_string(),
        )
            .into_response(),
        (Ok(Ok(report)), false) => axum::Json(report).into_response(),
        (Ok(Err(busy)), _) => (StatusCode::TOO_MANY_REQUESTS, format!("{busy}\n")).into_response(),
        (Err(_), _) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the leak report failed\n",
        )
            .into_response(),
    }
}

/// `GET /_ui`: the live leak page (see `leak-probe/src/ui.html`).
async fn ui() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // Everything the page needs is in it; it may only talk to this server.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'",
            ),
        ],
        UI_PAGE,
    )
        .into_response()
}

/// The page `/_ui` serves: HTML, CSS and script in one file, no download from anywhere.
pub const UI_PAGE: &str = include_str!("ui.html");

/// `GET /_tasks`: the task report as JSON.
async fn tasks(
    State(config): State<DebugConfig>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    match report(&pairs, config).await {
        Ok(report) => axum::Json(report).into_response(),
        Err(error) => error.into_response(),
    }
}

/// `GET /metrics`: Prometheus text format 0.0.4.
async fn prometheus(State(http): State<Arc<HttpMetrics>>) -> Response {
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        metrics::render(&http),
    )
        .into_response()
}
