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

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use reqwest::Url;

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
    /// Keep `(time, latency)` of every request, for the chart.
    pub keep_samples: bool,
}

/// No round sends more than this, whatever its bounds say.
pub const MAX_REQUESTS_PER_ROUND: u64 = 10_000_000;

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
    /// `(seconds since the run started, latency in ms)` per answered request.
    pub samples: Vec<(f64, f64)>,
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
            samples: Vec::new(),
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
        self.samples.extend(other.samples);
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

    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..spec.concurrency.max(1) {
        let (client, url, spec, next, on_done) = (
            client.clone(),
            url.clone(),
            spec.clone(),
            Arc::clone(&next),
            Arc::clone(&on_done),
        );
        workers.spawn(async move {
            let mut stats = Stats::new();
            loop {
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
                        if spec.keep_samples {
                            let at = run_start.elapsed().as_secs_f64();
                            stats.samples.push((at, latency.as_secs_f64() * 1e3));
                        }
                    }
                    Some(Err(e)) => *stats.errors.entry(error_kind(&e)).or_default() += 1,
                    None => *stats.errors.entry("abandoned".into()).or_default() += 1,
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
    // Dropping the client closes its keep-alive connections, so the server's connection
    // tasks end and do not count as leaks.
    drop(client);
    total
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
