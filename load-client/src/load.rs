//! Sending the load: one round of requests, bounded in count and in time.
//!
//! `concurrency` workers share one HTTP client (one keep-alive connection each) and claim
//! request numbers from a shared counter until the round's request count or its duration
//! runs out. Each worker keeps its own latency histogram; they are merged at the end, so
//! the hot path takes no lock.
//!
//! * **Closed loop** (default): a worker sends its next request as soon as the previous
//!   one is answered. Latency is measured from the send.
//! * **Open loop** (`--rate`): request `i` is *due* at `start + i / rate`. A worker sleeps
//!   until it is due and measures latency from that intended time, so a server that
//!   stalls is charged for the requests it delayed too (no coordinated omission, as in
//!   wrk2).
//! * **Giving up** (`--abandon-after`): a request not answered within the limit is
//!   dropped, which closes its connection: the server sees a client that went away.
//! * **A dead target**: when every request for [`DEAD_AFTER`] has failed to connect or
//!   was cut off (at least [`DEAD_STREAK`] in a row, none answered or given up on
//!   meanwhile), the round stops and says why in [`Stats::lost`], instead of hammering a
//!   closed port until its duration runs out.
//!
//! Memory does not grow with the run: latencies go into HDR histograms, and the chart's
//! latency over time into bounded windows ([`crate::windows`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use reqwest::Url;

use crate::windows::{LatencyWindows, Recorder};

/// The shape of one round.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// At most this many requests (`None`: until `duration` runs out).
    pub requests: Option<u64>,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Stop sending after this long.
    pub duration: Option<Duration>,
    /// Open loop: requests per second, latency from the intended send time.
    pub rate: Option<f64>,
    /// Give up on (disconnect from) a request after this long.
    pub abandon_after: Option<Duration>,
    /// A request not answered within this is an error (`timeout`).
    pub timeout: Duration,
    /// Keep latency per time window, for the chart.
    pub latency_over_time: bool,
}

/// No round sends more than this, whatever its bounds say.
pub const MAX_REQUESTS_PER_ROUND: u64 = 10_000_000;

/// A round stops once every request for this long has failed (see [`Health`]).
pub const DEAD_AFTER: Duration = Duration::from_secs(3);
/// ... and at least this many failed in a row.
pub const DEAD_STREAK: u64 = 20;
/// A worker whose request failed to connect waits this long before its next one, so a
/// dead target is not hammered in a tight loop while [`DEAD_AFTER`] runs.
const RETRY_PAUSE: Duration = Duration::from_millis(20);

/// What one round saw.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Requests started.
    pub sent: u64,
    /// Latency (µs) of every answered request, whatever its status.
    pub latency_us: Histogram<u64>,
    /// Status code → answers.
    pub status: BTreeMap<u16, u64>,
    /// Error kind → requests (`abandoned` for those the client gave up on).
    pub errors: BTreeMap<String, u64>,
    /// From the first send to the last answer.
    pub elapsed: Duration,
    /// Latency per time window since the run started (if the spec asked for it).
    pub over_time: LatencyWindows,
    /// Why the round stopped early: the target stopped answering.
    pub lost: Option<String>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats::new()
    }
}

impl Stats {
    /// Nothing seen yet.
    pub fn new() -> Stats {
        Stats {
            sent: 0,
            latency_us: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds"),
            status: BTreeMap::new(),
            errors: BTreeMap::new(),
            elapsed: Duration::ZERO,
            over_time: LatencyWindows::new(),
            lost: None,
        }
    }

    /// Adds `other`'s figures to these (elapsed times are not added).
    pub fn merge(&mut self, other: Stats) {
        self.sent += other.sent;
        self.latency_us.add(&other.latency_us).expect("same bounds");
        for (code, n) in other.status {
            *self.status.entry(code).or_default() += n;
        }
        for (kind, n) in other.errors {
            *self.errors.entry(kind).or_default() += n;
        }
        self.over_time.merge(&other.over_time);
        self.lost = self.lost.take().or(other.lost);
    }

    /// Answered requests (any status).
    pub fn answered(&self) -> u64 {
        self.latency_us.len()
    }

    /// Latency percentile in milliseconds (0 when nothing was answered).
    pub fn latency_ms(&self, percentile: f64) -> f64 {
        if self.latency_us.is_empty() {
            return 0.0;
        }
        self.latency_us.value_at_percentile(percentile) as f64 / 1000.0
    }

    /// Answered requests per second.
    pub fn requests_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.answered() as f64 / secs
        } else {
            0.0
        }
    }
}

/// The HTTP client for one round's load: a connection per worker, kept alive.
pub fn client(spec: &LoadSpec) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(spec.concurrency)
        .timeout(spec.timeout)
        .tcp_nodelay(true)
        .no_proxy()
        .build()
        .expect("a plain HTTP client always builds")
}

/// Runs one round against `url`. `run_start` is time zero of the chart; `on_done` is
/// called after every request (progress bars).
pub async fn round(
    url: &Url,
    spec: &LoadSpec,
    run_start: Instant,
    on_done: Arc<dyn Fn() + Send + Sync>,
) -> Stats {
    let limit = spec
        .requests
        .unwrap_or(MAX_REQUESTS_PER_ROUND)
        .min(MAX_REQUESTS_PER_ROUND);
    let client = client(spec);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let stop_at = spec.duration.map(|d| start + d);

    let health = Arc::new(Health::new(start));
    let over_time = Arc::new(Mutex::new(LatencyWindows::new()));

    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..spec.concurrency.max(1) {
        let (client, url, spec, next, on_done, health) = (
            client.clone(),
            url.clone(),
            spec.clone(),
            Arc::clone(&next),
            Arc::clone(&on_done),
            Arc::clone(&health),
        );
        let mut recorder = spec
            .latency_over_time
            .then(|| Recorder::new(Arc::clone(&over_time)));
        workers.spawn(async move {
            let mut stats = Stats::new();
            loop {
                if health.lost.get().is_some() {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= limit {
                    break;
                }
                // Open loop: wait until request `i` is due, and charge latency from then.
                let due = match spec.rate {
                    Some(rate) => {
                        let due = start + Duration::from_secs_f64(i as f64 / rate);
                        if stop_at.is_some_and(|stop| due >= stop) {
                            break;
                        }
                        tokio::time::sleep_until(due.into()).await;
                        due
                    }
                    None => Instant::now(),
                };
                // Closed loop: stop at the deadline. (Open loop stopped above, on the due
                // time: a request due before the deadline is sent even if it is late.)
                if spec.rate.is_none() && stop_at.is_some_and(|stop| Instant::now() >= stop) {
                    break;
                }
                stats.sent += 1;
                let request = async {
                    let response = client.get(url.clone()).send().await?;
                    let status = response.status().as_u16();
                    response.bytes().await?;
                    Ok::<u16, reqwest::Error>(status)
                };
                let outcome = match spec.abandon_after {
                    Some(limit) => tokio::time::timeout(limit, request).await.ok(),
                    None => Some(request.await),
                };
                match outcome {
                    Some(Ok(status)) => {
                        let latency = due.elapsed();
                        let us = u64::try_from(latency.as_micros())
                            .unwrap_or(u64::MAX)
                            .max(1);
                        stats.latency_us.saturating_record(us);
                        *stats.status.entry(status).or_default() += 1;
                        if let Some(recorder) = &mut recorder {
                            recorder.record(run_start.elapsed().as_secs_f64(), us);
                        }
                        health.alive();
                    }
                    Some(Err(e)) => {
                        let kind = error_kind(&e);
                        if kind == "connect" || kind == "request" {
                            health.failed(&url, &e);
                            if kind == "connect" {
                                tokio::time::sleep(RETRY_PAUSE).await;
                            }
                        }
                        *stats.errors.entry(kind).or_default() += 1;
                    }
                    None => {
                        health.alive();
                        *stats.errors.entry("abandoned".into()).or_default() += 1;
                    }
                }
                on_done();
            }
            stats
        });
    }
    let mut total = Stats::new();
    while let Some(worker) = workers.join_next().await {
        total.merge(worker.expect("load workers do not panic"));
    }
    total.elapsed = start.elapsed();
    // Every worker (and its recorder) is gone: the windows are complete.
    total.over_time =
        std::mem::take(&mut *over_time.lock().unwrap_or_else(PoisonError::into_inner));
    total.lost = health.lost.get().cloned();
    // Dropping the client closes its keep-alive connections, so the server's connection
    // tasks end and do not count as leaks.
    drop(client);
    total
}

/// Whether the target still answers: the streak of failed requests (refused or cut-off
/// connections; timeouts and give-ups do not count, a slow server is not a dead one).
struct Health {
    start: Instant,
    /// Failures in a row since the last sign of life.
    streak: AtomicU64,
    /// When the streak began, in ms since `start` (meaningful while `streak > 0`).
    streak_since_ms: AtomicU64,
    /// Set once: why the round stops.
    lost: OnceLock<String>,
}

impl Health {
    fn new(start: Instant) -> Health {
        Health {
            start,
            streak: AtomicU64::new(0),
            streak_since_ms: AtomicU64::new(0),
            lost: OnceLock::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// An answer, or a request the client gave up on (the server took it): alive.
    fn alive(&self) {
        if self.streak.load(Ordering::Relaxed) != 0 {
            self.streak.store(0, Ordering::Relaxed);
        }
    }

    fn failed(&self, url: &Url, e: &reqwest::Error) {
        let now = self.now_ms();
        let streak = self.streak.fetch_add(1, Ordering::Relaxed) + 1;
        if streak == 1 {
            self.streak_since_ms.store(now, Ordering::Relaxed);
            return;
        }
        let since = self.streak_since_ms.load(Ordering::Relaxed);
        let failing_for = Duration::from_millis(now.saturating_sub(since));
        if streak >= DEAD_STREAK && failing_for >= DEAD_AFTER {
            let _ = self.lost.set(format!(
                "{url} stopped answering: {streak} requests in a row failed over {:.1} s (last: {})",
                failing_for.as_secs_f64(),
                crate::count::describe(e)
            ));
        }
    }
}

/// A stable, short name for an error: `connect`, `timeout`, `body`, `request`.
fn error_kind(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "connect".into()
    } else if e.is_body() || e.is_decode() {
        "body".into()
    } else {
        "request".into()
    }
}
