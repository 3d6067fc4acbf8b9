//! `/metrics`: Prometheus text exposition (format 0.0.4), written by hand.
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

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use crate::registry;

/// How many spawn sites get a label of their own in `tokio_tasks_alive_by_spawn_site`.
pub const MAX_SITE_LABELS: usize = 20;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Request counts and latencies of one server, by route.
///
/// Shared (behind an `Arc`) by the request-tracking middleware, which writes it, and the
/// `/metrics` route, which reads it. One per router, so two servers in one process (tests,
/// the demo) keep separate numbers.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    routes: RwLock<BTreeMap<String, Arc<RouteStats>>>,
}

#[derive(Debug, Default)]
struct RouteStats {
    /// One counter per bucket (cumulative counts are summed at scrape time) plus `+Inf`.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
    /// Status code → count. A handful of codes per route: a small lock is fine.
    statuses: RwLock<BTreeMap<u16, AtomicU64>>,
}

impl HttpMetrics {
    /// Records one finished request.
    pub fn record(&self, route: &str, status: u16, elapsed: Duration) {
        let stats = self.route(route);
        let secs = elapsed.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|&le| secs <= le)
            .unwrap_or(BUCKETS.len());
        stats.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        stats.sum_micros.fetch_add(micros, Ordering::Relaxed);
        {
            let statuses = stats
                .statuses
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(count) = statuses.get(&status) {
                count.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        let mut statuses = stats
            .statuses
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        statuses
            .entry(status)
            .or_default()
            .fetch_add(1, Ordering::Relaxed);
    }

    fn route(&self, route: &str) -> Arc<RouteStats> {
        if let Some(stats) = self
            .routes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(route)
        {
            return Arc::clone(stats);
        }
        let mut routes = self.routes.write().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(routes.entry(route.to_owned()).or_default())
    }

    /// Requests recorded for `route` with `status` so far.
    pub fn requests(&self, route: &str, status: u16) -> u64 {
        let routes = self.routes.read().unwrap_or_else(PoisonError::into_inner);
        routes
            .get(route)
            .and_then(|s| {
                s.statuses
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(&status)
                    .map(|c| c.load(Ordering::Relaxed))
            })
            .unwrap_or(0)
    }
}

/// Renders every series for the current runtime and `http`.
pub fn render(http: &HttpMetrics) -> String {
    let mut out = String::with_capacity(4096);
    let live = crate::live_tasks();
    gauge_header(
        &mut out,
        "tokio_tasks_alive",
        "Tasks alive in this tokio runtime (what /_count returns).",
        "gauge",
    );
    let _ = writeln!(out, "tokio_tasks_alive {live}");

    if let Some(registry) = registry::for_current_runtime() {
        gauge_header(
            &mut out,
            "tokio_tasks_alive_by_spawn_site",
            "Tasks alive in this tokio runtime by spawn site (the busiest sites; the rest as \"other\").",
            "gauge",
        );
        let sites = registry.count_by_site();
        for (site, count) in sites.iter().take(MAX_SITE_LABELS) {
            let label = escape(&registry::site_string(site));
            let _ = writeln!(
                out,
                "tokio_tasks_alive_by_spawn_site{{site=\"{label}\"}} {count}"
            );
        }
        let other: usize = sites.iter().skip(MAX_SITE_LABELS).map(|(_, c)| c).sum();
        if sites.len() > MAX_SITE_LABELS {
            let _ = writeln!(
                out,
                "tokio_tasks_alive_by_spawn_site{{site=\"other\"}} {other}"
            );
        }
        gauge_header(
            &mut out,
            "tokio_tasks_spawned_total",
            "Tasks spawned on this tokio runtime since it started.",
            "counter",
        );
        let _ = writeln!(
            out,
            "tokio_tasks_spawned_total {}",
            registry.spawned_total()
        );
    }

    let routes = http.routes.read().unwrap_or_else(PoisonError::into_inner);
    gauge_header(
        &mut out,
        "http_requests_total",
        "HTTP requests answered, by route and status.",
        "counter",
    );
    for (route, stats) in routes.iter() {
        let route = escape(route);
        let statuses = stats
            .statuses
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        for (status, count) in statuses.iter() {
            let count = count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "http_requests_total{{route=\"{route}\",status=\"{status}\"}} {count}"
            );
        }
    }
    gauge_header(
        &mut out,
        "http_request_duration_seconds",
        "Time from request to response head, by route.",
        "histogram",
    );
    for (route, stats) in routes.iter() {
        let route = escape(route);
        let mut cumulative = 0;
        for (i, le) in BUCKETS.iter().enumerate() {
            cumulative += stats.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {cumulative}"
            );
        }
        cumulative += stats.buckets[BUCKETS.len()].load(Ordering::Relaxed);
        let sum = stats.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(
            out,
            "http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {cumulative}"
        );
        let _ = writeln!(
            out,
            "http_request_duration_seconds_sum{{route=\"{route}\"}} {sum}"
        );
        let _ = writeln!(
            out,
            "http_request_duration_seconds_count{{route=\"{route}\"}} {cumulative}"
        );
    }
    out
}

fn gauge_header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Escapes a label value: backslash, double quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let _inside = rt.enter();
        let http = HttpMetrics::default();
        http.record("/sum", 200, Duration::from_micros(300));
        http.record("/sum", 200, Duration::from_millis(30));
        http.record("/sum", 400, Duration::from_secs(60));
        assert_eq!(http.requests("/sum", 200), 2);
        assert_eq!(http.requests("/sum", 400), 1);
        let text = render(&http);
        assert!(
            text.contains("http_request_duration_seconds_bucket{route=\"/sum\",le=\"0.0005\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("http_request_duration_seconds_bucket{route=\"/sum\",le=\"0.05\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("http_request_duration_seconds_bucket{route=\"/sum\",le=\"10\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("http_request_duration_seconds_bucket{route=\"/sum\",le=\"+Inf\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("http_request_duration_seconds_count{route=\"/sum\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("http_requests_total{route=\"/sum\",status=\"400\"} 1"),
            "{text}"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
