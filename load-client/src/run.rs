//! A whole run: the blog's experiment, round after round.
//!
//! Each round reads the task count, sends the load, reads the count again (the blog's
//! "after"), then keeps reading until the count stops moving (the *settled* count).
//!
//! Why settle: right after a load test the count still includes connection tasks that
//! are closing, so a single "after" snapshot lies (the Go demo's "after" swings from 55 to
//! 151 for the same 50 leaked goroutines). The settled count is read once it has not
//! changed for [`STABLE_FOR`], or as soon as it is back to the "before" count (read
//! [`CONFIRM_READS`] times); the leak is `settled - before`. The "before" count itself is
//! read until a few reads agree, so a previous round's closing connections are not in it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Url;
use serde::Serialize;

use crate::Error;
use crate::count::Counter;
use crate::load::{self, LoadSpec, Stats};
use crate::sites::{self, LeakSite, SiteCounts, SiteReader};
use crate::windows::LatencyWindows;

/// How long the count must stay put to count as settled.
pub const STABLE_FOR: Duration = Duration::from_millis(500);
/// How often the count is read while settling, and for the chart.
pub const POLL_EVERY: Duration = Duration::from_millis(50);

/// One run's settings.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// The endpoint under test.
    pub url: Url,
    /// Where the task count is read.
    pub count_url: Url,
    /// Rounds of load (the blog runs its test twice).
    pub rounds: u32,
    /// The load of each round.
    pub load: LoadSpec,
    /// Longest wait for the count to settle after a round.
    pub settle: Duration,
    /// Leaked tasks per request tolerated before the verdict is "leak".
    pub leak_threshold: f64,
}

impl RunSpec {
    /// The blog's experiment as the demo runs it: `rounds` rounds of `requests` requests
    /// to `url`, `concurrency` at a time, the count read at `count_url`; a request not
    /// answered within 10 s is an error, the count gets up to 5 s to settle, and any
    /// leaked task is a leak.
    pub fn rounds(
        url: Url,
        count_url: Url,
        rounds: u32,
        requests: u64,
        concurrency: usize,
    ) -> RunSpec {
        RunSpec {
            url,
            count_url,
            rounds,
            load: LoadSpec {
                requests: Some(requests),
                concurrency,
                duration: None,
                rate: None,
                abandon_after: None,
                timeout: Duration::from_secs(10),
                latency_over_time: false,
            },
            settle: Duration::from_secs(5),
            leak_threshold: 0.0,
        }
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest answer.
    pub max: f64,
}

/// Whether a run leaked, by the threshold it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    /// More than the threshold of leaked tasks per request.
    #[serde(rename = "leak")]
    Leak,
    /// At most the threshold.
    #[serde(rename = "no leak")]
    NoLeak,
}

/// The count once it stopped moving after a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    /// The count.
    pub count: usize,
    /// How long settling took.
    pub took: Duration,
    /// Whether it stopped moving within the window (else: the last reading).
    pub stable: bool,
}

/// The numbers of one round, or of a whole run (`RunReport` flattens one of these).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    /// Requests sent.
    pub requests: u64,
    /// Requests answered (any status); the rest gave up or failed.
    pub answered: u64,
    /// Live tasks before the load.
    pub tasks_before: usize,
    /// Live tasks right after the load (the blog's "after").
    pub tasks_after: usize,
    /// Live tasks once the count stopped moving.
    pub tasks_after_settled: usize,
    /// `tasks_after_settled - tasks_before` (negative if tasks ended meanwhile).
    pub leaked: i64,
    /// `leaked / requests`.
    pub leaked_per_request: f64,
    /// Whether `leaked_per_request` is above the threshold (`"leak"` / `"no leak"` in JSON).
    pub verdict: Verdict,
    /// Answered requests per second.
    pub requests_per_sec: f64,
    /// Latency percentiles of answered requests, in milliseconds.
    pub latency_ms: Latency,
    /// Status code → answers.
    pub status: BTreeMap<String, u64>,
    /// Error kind → requests (`abandoned`, `timeout`, `connect`, `body`, `request`).
    pub errors: BTreeMap<String, u64>,
    /// How long settling took, in milliseconds.
    pub settle_ms: u64,
    /// Whether the count stopped moving within the settle window.
    pub settled: bool,
    /// Where the leaked tasks were spawned (from the server's `/_leaks`; empty without
    /// a leak, or on a server that has no `/_leaks`): the sites that grew most, enough
    /// of them to account for `leaked`.
    pub leaking_at: Vec<LeakSite>,
}

/// The `--json` object. See the README's schema.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The endpoint under test.
    pub url: String,
    /// Where the count was read.
    pub count_url: String,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// The whole run: first round's "before" to last round's "after".
    #[serde(flatten)]
    pub total: Figures,
    /// Each round on its own.
    pub rounds: Vec<Figures>,
    /// `(seconds, live tasks)` sampled during the run (for the chart; not in JSON).
    #[serde(skip)]
    pub count_samples: Vec<(f64, f64)>,
    /// Latency per time window since the run started (for the chart; not in JSON).
    #[serde(skip)]
    pub latency_over_time: LatencyWindows,
}

/// What a run that lost its target has to show (`--json` prints it): the rounds that
/// finished, and the load figures of the one that did not. Its task counts after the
/// load cannot be read, so it has none.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LostReport {
    /// The endpoint under test.
    pub url: String,
    /// Where the count was read.
    pub count_url: String,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Why the run stopped (one line; also printed on stderr).
    pub stopped: String,
    /// The round that did not finish (1-based).
    pub round: u32,
    /// Live tasks before that round.
    pub tasks_before: usize,
    /// Requests sent in that round.
    pub requests: u64,
    /// Requests answered in that round (any status).
    pub answered: u64,
    /// Answered requests per second in that round.
    pub requests_per_sec: f64,
    /// Latency percentiles of that round's answered requests, in milliseconds.
    pub latency_ms: Latency,
    /// Status code → answers, in that round.
    pub status: BTreeMap<String, u64>,
    /// Error kind → requests, in that round.
    pub errors: BTreeMap<String, u64>,
    /// The rounds that finished before it.
    pub rounds: Vec<Figures>,
}

impl RunReport {
    /// Whether the whole run leaked more than the threshold allows.
    pub fn leaked(&self) -> bool {
        self.total.verdict == Verdict::Leak
    }
}

// ANCHOR: settle
/// Reads the count until it stops moving (or is back to `before`), at most `window`.
pub async fn settle(
    counter: &Counter,
    before: usize,
    window: Duration,
    samples: &Sampler,
) -> Result<Settled, Error> {
    let started = Instant::now();
    let mut last = counter.read().await?;
    samples.push(last);
    let mut last_change = Instant::now();
    let mut at_or_below_before = 0;
    loop {
        // Back to the "before" count: no need to wait for the full stable period, but
        // read it a few times, since closing connections can still come and go.
        at_or_below_before = if last <= before {
            at_or_below_before + 1
        } else {
            0
        };
        let settled = |stable| Settled {
            count: last,
            took: started.elapsed(),
            stable,
        };
        if at_or_below_before >= CONFIRM_READS || last_change.elapsed() >= STABLE_FOR {
            return Ok(settled(true));
        }
        if started.elapsed() >= window {
            return Ok(settled(false));
        }
        tokio::time::sleep(POLL_EVERY).await;
        let now = counter.read().await?;
        samples.push(now);
        if now != last {
            last = now;
            last_change = Instant::now();
        }
    }
}
// ANCHOR_END: settle

/// Reads of the "before" count in a row that must agree before the load starts, and of a
/// count back at "before" to call it settled.
pub const CONFIRM_READS: u32 = 3;

/// The count before a round: read until [`CONFIRM_READS`] reads in a row agree (at most
/// one second), so connections still closing from an earlier round are not in it.
pub async fn steady_count(counter: &Counter, samples: &Sampler) -> Result<usize, Error> {
    let started = Instant::now();
    let mut last = counter.read().await?;
    samples.push(last);
    let mut agreeing = 1;
    while agreeing < CONFIRM_READS && started.elapsed() < Duration::from_secs(1) {
        tokio::time::sleep(POLL_EVERY / 2).await;
        let now = counter.read().await?;
        samples.push(now);
        agreeing = if now == last { agreeing + 1 } else { 1 };
        last = now;
    }
    Ok(last)
}

/// The most count readings a [`Sampler`] keeps; beyond it every other one is dropped
/// (a long run keeps its shape at half the resolution, in bounded memory).
pub const MAX_POINTS: usize = 8192;

/// Collects `(seconds since start, count)` points for the chart.
#[derive(Debug, Clone)]
pub struct Sampler {
    start: Instant,
    points: Arc<Mutex<Vec<(f64, f64)>>>,
}

impl Sampler {
    /// A sampler whose time zero is `start`.
    pub fn new(start: Instant) -> Sampler {
        Sampler {
            start,
            points: Arc::default(),
        }
    }

    /// Records one reading, now.
    pub fn push(&self, count: usize) {
        let at = self.start.elapsed().as_secs_f64();
        let mut points = self
            .points
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if points.len() >= MAX_POINTS {
            let mut i = 0;
            points.retain(|_| {
                i += 1;
                i % 2 == 1
            });
        }
        points.push((at, count as f64));
    }

    /// Every point so far, in time order.
    pub fn points(&self) -> Vec<(f64, f64)> {
        let mut points = self
            .points
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        points
    }
}

/// Reads the count in the background for the chart, every `every`, until dropped.
///
/// Owned, so a run that ends early (an error, a dropped future) cannot leave it running:
/// dropping a `Watch` aborts its task (a spawned task whose handle is merely dropped
/// would be detached, the very leak L4 of this workspace).
pub struct Watch {
    _task: tokio_util::task::AbortOnDropHandle<()>,
}

impl Watch {
    /// Starts reading `counter` into `sampler`.
    pub fn start(counter: Arc<Counter>, sampler: Sampler, every: Duration) -> Watch {
        let task = tokio::spawn(async move {
            loop {
                if let Ok(n) = counter.read().await {
                    sampler.push(n);
                }
                tokio::time::sleep(every).await;
            }
        });
        Watch {
            _task: tokio_util::task::AbortOnDropHandle::new(task),
        }
    }
}

/// [`run`] with nothing printed and a count reader of its own (for tests and tools).
pub async fn run_quietly(spec: &RunSpec) -> Result<RunReport, Error> {
    let counter = Arc::new(Counter::new(spec.count_url.clone()));
    run(
        spec,
        counter,
        Sampler::new(Instant::now()),
        Arc::new(|| {}),
        |_, _| {},
    )
    .await
}

/// Runs every round of `spec`. `on_done` is called after each request (progress);
/// `on_round` after each round with its figures (live output).
pub async fn run(
    spec: &RunSpec,
    counter: Arc<Counter>,
    sampler: Sampler,
    on_done: Arc<dyn Fn() + Send + Sync>,
    mut on_round: impl FnMut(u32, &Figures),
) -> Result<RunReport, Error> {
    let run_start = Instant::now();
    // Read the count all through the run, for the chart; stops when `_watch` is dropped.
    let _watch = Watch::start(Arc::clone(&counter), sampler.clone(), POLL_EVERY * 2);
    let sites = SiteReader::new(leaks_url(&spec.count_url), Arc::clone(&counter));
    let (rounds, latency_over_time, (first_sites, last_sites)) = rounds(
        spec,
        &counter,
        &sites,
        &sampler,
        run_start,
        on_done,
        &mut on_round,
    )
    .await?;

    let mut all = Stats::new();
    let (mut settle_ms, mut settled) = (0, true);
    for (figures, stats) in &rounds {
        all.merge(stats.clone());
        all.elapsed += stats.elapsed;
        settle_ms += figures.settle_ms;
        settled &= figures.settled;
    }
    let first = &rounds[0].0;
    let last = &rounds[rounds.len() - 1].0;
    let settled = Settled {
        count: last.tasks_after_settled,
        took: Duration::from_millis(settle_ms),
        stable: settled,
    };
    let mut total = figures(
        &all,
        first.tasks_before,
        last.tasks_after,
        settled,
        spec.leak_threshold,
    );
    total.leaking_at = leaking_at(&total, first_sites.as_ref(), last_sites.as_ref());
    Ok(RunReport {
        url: spec.url.to_string(),
        count_url: spec.count_url.to_string(),
        concurrency: spec.load.concurrency,
        total,
        rounds: rounds.into_iter().map(|(f, _)| f).collect(),
        count_samples: sampler.points(),
        latency_over_time,
    })
}

/// The sites before the first round and after the last (`None`: no `/_leaks`).
type FirstAndLast = (Option<SiteCounts>, Option<SiteCounts>);
type Rounds = (Vec<(Figures, Stats)>, LatencyWindows, FirstAndLast);

/// Where the per-site counts of the server behind `count_url` are: `/_leaks` next to
/// its `/_count` (behind the same path prefix), or at the origin's root.
pub fn leaks_url(count_url: &Url) -> Url {
    let mut url = count_url.clone();
    let path = match count_url.path().strip_suffix("/_count") {
        Some(prefix) => format!("{prefix}/_leaks"),
        None => "/_leaks".to_owned(),
    };
    url.set_path(&path);
    url.set_query(None);
    url
}

/// The sites to blame for a leak in `f`, from the readings around it.
fn leaking_at(
    f: &Figures,
    before: Option<&SiteCounts>,
    after: Option<&SiteCounts>,
) -> Vec<LeakSite> {
    match (f.verdict, before, after) {
        (Verdict::Leak, Some(before), Some(after)) => {
            sites::blame(&sites::grown(before, after), f.leaked)
        }
        _ => Vec::new(),
    }
}

async fn rounds(
    spec: &RunSpec,
    counter: &Counter,
    sites: &SiteReader,
    sampler: &Sampler,
    run_start: Instant,
    on_done: Arc<dyn Fn() + Send + Sync>,
    on_round: &mut impl FnMut(u32, &Figures),
) -> Result<Rounds, Error> {
    let mut out: Vec<(Figures, Stats)> = Vec::new();
    let mut over_time = LatencyWindows::new();
    let (mut first_sites, mut last_sites) = (None, None);
    for round in 1..=spec.rounds.max(1) {
        let before = steady_count(counter, sampler).await?;
        let sites_before = sites.read().await;
        if round == 1 {
            first_sites.clone_from(&sites_before);
        }
        let stats = load::round(&spec.url, &spec.load, run_start, Arc::clone(&on_done)).await;
        // The target died under the load, or right after it: report what was seen.
        let lost = |reason: String, stats: &Stats| {
            Error::TargetLost(Box::new(lost_report(
                spec, round, before, reason, stats, &out,
            )))
        };
        if let Some(reason) = &stats.lost {
            return Err(lost(reason.clone(), &stats));
        }
        let counted = async {
            let after = counter.read().await?;
            sampler.push(after);
            Ok::<_, Error>((after, settle(counter, before, spec.settle, sampler).await?))
        };
        let (after, settled) = match counted.await {
            Ok(counted) => counted,
            Err(Error::Unreachable(reason)) => return Err(lost(reason, &stats)),
            Err(e) => return Err(e),
        };
        let mut figures = figures(&stats, before, after, settled, spec.leak_threshold);
        let sites_after = sites.read().await;
        figures.leaking_at = leaking_at(&figures, sites_before.as_ref(), sites_after.as_ref());
        last_sites = sites_after;
        on_round(round, &figures);
        over_time.merge(&stats.over_time);
        out.push((figures, stats));
    }
    Ok((out, over_time, (first_sites, last_sites)))
}

fn lost_report(
    spec: &RunSpec,
    round: u32,
    before: usize,
    stopped: String,
    stats: &Stats,
    finished: &[(Figures, Stats)],
) -> LostReport {
    LostReport {
        url: spec.url.to_string(),
        count_url: spec.count_url.to_string(),
        concurrency: spec.load.concurrency,
        stopped,
        round,
        tasks_before: before,
        requests: stats.sent,
        answered: stats.answered(),
        requests_per_sec: stats.requests_per_sec(),
        latency_ms: latency(stats),
        status: status(stats),
        errors: stats.errors.clone(),
        rounds: finished.iter().map(|(f, _)| f.clone()).collect(),
    }
}

fn latency(stats: &Stats) -> Latency {
    Latency {
        p50: stats.latency_ms(50.0),
        p90: stats.latency_ms(90.0),
        p99: stats.latency_ms(99.0),
        max: stats.latency_ms(100.0),
    }
}

fn status(stats: &Stats) -> BTreeMap<String, u64> {
    stats
        .status
        .iter()
        .map(|(c, n)| (c.to_string(), *n))
        .collect()
}

fn figures(
    stats: &Stats,
    before: usize,
    after: usize,
    settled: Settled,
    threshold: f64,
) -> Figures {
    let leaked = settled.count as i64 - before as i64;
    let per_request = if stats.sent > 0 {
        leaked as f64 / stats.sent as f64
    } else {
        0.0
    };
    let verdict = if leaked > 0 && per_request > threshold {
        Verdict::Leak
    } else {
        Verdict::NoLeak
    };
    Figures {
        requests: stats.sent,
        answered: stats.answered(),
        tasks_before: before,
        tasks_after: after,
        tasks_after_settled: settled.count,
        leaked,
        leaked_per_request: per_request,
        verdict,
        requests_per_sec: stats.requests_per_sec(),
        latency_ms: latency(stats),
        status: status(stats),
        errors: stats.errors.clone(),
        settle_ms: u64::try_from(settled.took.as_millis()).unwrap_or(u64::MAX),
        settled: settled.stable,
        leaking_at: Vec::new(),
    }
}

/// The human-readable lines for one round (or the whole run).
pub fn describe(f: &Figures) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line(format!(
        " {} tasks before the load test in the server.",
        f.tasks_before
    ));
    line(format!(
        " {} tasks after the load test in the server.",
        f.tasks_after
    ));
    line(format!(
        " {} tasks after settling ({} ms{}).",
        f.tasks_after_settled,
        f.settle_ms,
        if f.settled {
            ""
        } else {
            ", still moving: raise --settle"
        }
    ));
    line(format!(
        " leaked: {} task(s) for {} request(s) = {:.2} per request -> {}",
        f.leaked,
        f.requests,
        f.leaked_per_request,
        verdict_line(f)
    ));
    for site in &f.leaking_at {
        line(format!(
            "   +{} task(s) spawned at {}{}{}",
            site.grew,
            site.site,
            site.waiting_at
                .first()
                .map_or(String::new(), |w| format!(", waiting at {w}")),
            if site.suspect {
                " (the server's /_leaks calls it a suspect)"
            } else {
                ""
            }
        ));
    }
    if f.answered > 0 {
        line(format!(
            " {} answered, {:.0} requests/s; latency p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            f.answered,
            f.requests_per_sec,
            f.latency_ms.p50,
            f.latency_ms.p90,
            f.latency_ms.p99,
            f.latency_ms.max
        ));
    } else {
        line(" no request was answered (no latency figures)".to_owned());
    }
    let status: Vec<String> = f.status.iter().map(|(c, n)| format!("{c}: {n}")).collect();
    let errors: Vec<String> = f.errors.iter().map(|(k, n)| format!("{k}: {n}")).collect();
    line(format!(
        " status {}; errors {}",
        if status.is_empty() {
            "none".into()
        } else {
            status.join(", ")
        },
        if errors.is_empty() {
            "none".into()
        } else {
            errors.join(", ")
        }
    ));
    out
}

/// `LEAK, 1.00 per request, at leaky-server/src/sum.rs:99:5` (the site when the server
/// has `/_leaks`) or `no leak`.
pub fn verdict_line(f: &Figures) -> String {
    if f.verdict == Verdict::Leak {
        let sites: Vec<&str> = f.leaking_at.iter().map(|s| s.site.as_str()).collect();
        if sites.is_empty() {
            format!("LEAK, {:.2} per request", f.leaked_per_request)
        } else {
            format!(
                "LEAK, {:.2} per request, at {}",
                f.leaked_per_request,
                sites.join(" and ")
            )
        }
    } else {
        "no leak".into()
    }
}

#[cfg(test)]
mod tests {
    use super::leaks_url;

    #[test]
    fn leaks_is_read_next_to_the_count() {
        let url = |s: &str| leaks_url(&reqwest::Url::parse(s).unwrap()).to_string();
        assert_eq!(
            url("http://127.0.0.1:8001/_count"),
            "http://127.0.0.1:8001/_leaks"
        );
        assert_eq!(
            url("http://127.0.0.1:8001/debug/_count?x=1"),
            "http://127.0.0.1:8001/debug/_leaks"
        );
        assert_eq!(
            url("http://127.0.0.1:8001/count"),
            "http://127.0.0.1:8001/_leaks"
        );
    }
}
