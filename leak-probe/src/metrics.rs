//! `/metrics`: Prometheus text exposition (format 0.0.4), encoded by `prometheus-client`.
//!
//! Everything is read at scrape time: the live count from the runtime, per-site counts
//! from the registry, request counts and latencies from [`HttpMetrics`]. No background task
//! samples anything, so the scrape never lags and never adds a task of its own.
//!
//! Series:
//!
//! | name | type | labels |
//! |---|---|---|
//! | `tokio_tasks_alive` | gauge | |
//! | `tokio_tasks_alive_by_spawn_site` | gauge | `site` (top [`MAX_SITE_LABELS`], then `other`) |
//! | `tokio_tasks_spawned_total` | counter | |
//! | `http_requests_total` | counter | `route`, `status` |
//! | `http_request_duration_seconds` | histogram | `route` |
//!
//! Label sets are bounded: `route` is the router's matched path (or `unmatched`), and
//! spawn sites beyond the busiest [`MAX_SITE_LABELS`] are summed under `other`.
//!
//! # Why the request path is not `prometheus-client`'s own metric types
//!
//! The encoding is the official crate's ([`prometheus_client::encoding`], through a
//! [`Collector`]). The *recording*, which every request pays for, is not: that crate's
//! `Family` finds a series behind a read lock and its `Histogram` takes a mutex on every
//! observation, a lock every request of the process would share. Here a request finds
//! its route's counters at its route label's index in an array (no lock, no hashing, no
//! shared reference count) and records with three relaxed atomic additions.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::labels::LabelId;
use crate::registry;

/// How many spawn sites get a label of their own in `tokio_tasks_alive_by_spawn_site`.
pub const MAX_SITE_LABELS: usize = 20;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Status codes `100..=599`, one counter each.
const STATUSES: usize = 500;

/// Request counts and latencies of one server, by route.
///
/// Shared (behind an `Arc`) by the request-tracking middleware, which writes it, and the
/// `/metrics` route, which reads it. One per router, so two servers in one process (tests,
/// the demo) keep separate numbers.
///
/// A route's counters sit at its label's index ([`crate::labels`]: the middleware
/// interns each route pattern as the label its tasks carry, so the id is already known):
/// finding them is an array index, with no lock, no hashing and no reference count that
/// every request would bump. Label ids are bounded by [`crate::labels::MAX_LABELS`].
#[derive(Debug)]
pub struct HttpMetrics {
    /// By label id; index 0 (no label) holds requests no route matched.
    routes: Box<[OnceLock<Box<RouteStats>>]>,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        HttpMetrics {
            routes: (0..crate::labels::MAX_LABELS + 2)
                .map(|_| OnceLock::new())
                .collect(),
        }
    }
}

/// Stripes per route: each thread records into one of its own (picked once per thread),
/// so two workers recording the same route do not fight over one cache line.
const STRIPES: usize = 4;

#[derive(Debug, Default)]
struct RouteStats {
    stripes: [Stripe; STRIPES],
}

#[derive(Debug)]
#[repr(align(128))]
struct Stripe {
    /// One counter per bucket (cumulative counts are summed at scrape time) plus `+Inf`.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
    /// Answers by status code (`code - 100`).
    statuses: Box<[AtomicU64]>,
}

impl Default for Stripe {
    fn default() -> Self {
        Stripe {
            buckets: Default::default(),
            sum_micros: AtomicU64::new(0),
            statuses: (0..STATUSES).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl RouteStats {
    fn bucket(&self, i: usize) -> u64 {
        self.stripes
            .iter()
            .map(|s| s.buckets[i].load(Ordering::Relaxed))
            .sum()
    }

    fn status(&self, code: usize) -> u64 {
        self.stripes
            .iter()
            .map(|s| s.statuses[code].load(Ordering::Relaxed))
            .sum()
    }

    fn sum_micros(&self) -> u64 {
        self.stripes
            .iter()
            .map(|s| s.sum_micros.load(Ordering::Relaxed))
            .sum()
    }
}

static NEXT_STRIPE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

thread_local! {
    /// This thread's stripe of every route.
    static STRIPE: usize = NEXT_STRIPE.fetch_add(1, Ordering::Relaxed) % STRIPES;
}

impl HttpMetrics {
    /// Records one finished request of `route` (a route pattern, or `unmatched`).
    pub fn record(&self, route: &str, status: u16, elapsed: Duration) {
        let label = match route {
            UNMATCHED => 0,
            route => crate::labels::intern(route),
        };
        self.record_label(label, status, elapsed);
    }

    /// Records one finished request of the route whose label is `label` (0: no route
    /// matched). The middleware's path: three relaxed atomic additions on this thread's
    /// stripe.
    pub fn record_label(&self, label: LabelId, status: u16, elapsed: Duration) {
        let stats = self.stats(label);
        let stripe = &stats.stripes[STRIPE.with(|s| *s)];
        let secs = elapsed.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|&le| secs <= le)
            .unwrap_or(BUCKETS.len());
        stripe.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        stripe.sum_micros.fetch_add(micros, Ordering::Relaxed);
        let code = usize::from(status.clamp(100, 599)) - 100;
        stripe.statuses[code].fetch_add(1, Ordering::Relaxed);
    }

    /// The counters of `label`, made on its first request.
    fn stats(&self, label: LabelId) -> &RouteStats {
        let at = (label as usize).min(self.routes.len() - 1);
        self.routes[at].get_or_init(Box::default)
    }

    /// Requests recorded for `route` with `status` so far.
    pub fn requests(&self, route: &str, status: u16) -> u64 {
        let label = match route {
            UNMATCHED => Some(0),
            route => crate::labels::lookup(route),
        };
        label
            .and_then(|label| self.routes.get(label as usize)?.get())
            .map_or(0, |s| s.status(usize::from(status.clamp(100, 599)) - 100))
    }

    /// Every route with requests, by name: `(route, counters)`, sorted.
    fn by_route(&self) -> Vec<(String, &RouteStats)> {
        let mut routes: Vec<(String, &RouteStats)> = self
            .routes
            .iter()
            .enumerate()
            .filter_map(|(label, stats)| {
                // Only the routes that had requests (most slots are empty).
                let stats = &**stats.get()?;
                let name = match label {
                    0 => UNMATCHED,
                    label => crate::labels::name(LabelId::try_from(label).ok()?)?,
                };
                Some((name.to_owned(), stats))
            })
            .collect();
        routes.sort_by(|a, b| a.0.cmp(&b.0));
        routes
    }
}

/// The `route` of requests no route matched.
pub const UNMATCHED: &str = "unmatched";

/// What `/metrics` encodes: the runtime's tasks (read at scrape time, on the scraping
/// runtime) and one server's requests.
#[derive(Debug)]
struct Scrape(Arc<HttpMetrics>);

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let live = crate::live_tasks() as u64;
        encoder
            .encode_descriptor(
                "tokio_tasks_alive",
                "Tasks alive in this tokio runtime (what /_count returns).",
                None,
                MetricType::Gauge,
            )?
            .encode_gauge(&live)?;

        if let Some(registry) = registry::for_current_runtime() {
            let sites = registry.count_by_site();
            let mut by_site = encoder.encode_descriptor(
                "tokio_tasks_alive_by_spawn_site",
                "Tasks alive in this tokio runtime by spawn site (the busiest sites; the rest as \"other\").",
                None,
                MetricType::Gauge,
            )?;
            for (site, count) in sites.iter().take(MAX_SITE_LABELS) {
                let labels = [("site", registry::site_string(site))];
                by_site
                    .encode_family(&labels)?
                    .encode_gauge(&(*count as u64))?;
            }
            if sites.len() > MAX_SITE_LABELS {
                let other: usize = sites.iter().skip(MAX_SITE_LABELS).map(|(_, c)| c).sum();
                let labels = [("site", "other".to_owned())];
                by_site
                    .encode_family(&labels)?
                    .encode_gauge(&(other as u64))?;
            }
            encoder
                .encode_descriptor(
                    "tokio_tasks_spawned",
                    "Tasks spawned on this tokio runtime since it started.",
                    None,
                    MetricType::Counter,
                )?
                .encode_counter::<prometheus_client::encoding::NoLabelSet, _, u64>(
                    &registry.spawned_total(),
                    None,
                )?;
        }

        let routes = self.0.by_route();
        let mut requests = encoder.encode_descriptor(
            "http_requests",
            "HTTP requests answered, by route and status.",
            None,
            MetricType::Counter,
        )?;
        for (route, stats) in routes.iter() {
            for code in 0..STATUSES {
                let count = stats.status(code);
                if count > 0 {
                    let labels = [
                        ("route", route.clone()),
                        ("status", (code + 100).to_string()),
                    ];
                    requests
                        .encode_family(&labels)?
                        .encode_counter::<prometheus_client::encoding::NoLabelSet, _, u64>(
                            &count, None,
                        )?;
                }
            }
        }
        let mut durations = encoder.encode_descriptor(
            "http_request_duration_seconds",
            "Time from request to response head, by route.",
            None,
            MetricType::Histogram,
        )?;
        for (route, stats) in routes.iter() {
            let counts: Vec<u64> = (0..=BUCKETS.len()).map(|i| stats.bucket(i)).collect();
            let buckets: Vec<(f64, u64)> = BUCKETS
                .iter()
                .copied()
                .chain([f64::INFINITY])
                .zip(counts.iter().copied())
                .collect();
            let sum = stats.sum_micros() as f64 / 1e6;
            let labels = [("route", route.clone())];
            durations
                .encode_family(&labels)?
                .encode_histogram::<prometheus_client::encoding::NoLabelSet>(
                    sum,
                    counts.iter().sum(),
                    &buckets,
                    None,
                )?;
        }
        Ok(())
    }
}

/// Renders every series for the current runtime and `http`.
pub fn render(http: &Arc<HttpMetrics>) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape(Arc::clone(http))));
    let mut out = String::with_capacity(4096);
    prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)
        .expect("writing to a String does not fail");
    out
}

/// The `Content-Type` of [`render`]'s output.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let _inside = rt.enter();
        let http = Arc::new(HttpMetrics::default());
        http.record("/orders", 200, Duration::from_micros(300));
        http.record("/orders", 200, Duration::from_millis(30));
        http.record("/orders", 400, Duration::from_secs(60));
        assert_eq!(http.requests("/orders", 200), 2);
        assert_eq!(http.requests("/orders", 400), 1);
        let text = render(&http);
        for line in [
            "http_request_duration_seconds_bucket{route=\"/orders\",le=\"0.0005\"} 1\n",
            "http_request_duration_seconds_bucket{route=\"/orders\",le=\"0.05\"} 2\n",
            "http_request_duration_seconds_bucket{route=\"/orders\",le=\"10\"} 2\n",
            "http_request_duration_seconds_bucket{route=\"/orders\",le=\"+Inf\"} 3\n",
            "http_request_duration_seconds_count{route=\"/orders\"} 3\n",
            "http_requests_total{route=\"/orders\",status=\"400\"} 1\n",
            "# TYPE http_requests_total counter\n",
            "tokio_tasks_alive 0\n",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }

    #[test]
    fn two_servers_keep_their_own_numbers() {
        let (a, b) = (HttpMetrics::default(), HttpMetrics::default());
        a.record("/x", 200, Duration::from_millis(1));
        a.record("/x", 200, Duration::from_millis(1));
        b.record("/x", 200, Duration::from_millis(1));
        assert_eq!((a.requests("/x", 200), b.requests("/x", 200)), (2, 1));
    }
}
