//! A bounded soak of fixed-server: a mixed load (every route, clients that give up,
//! upstream timeouts, bad input) for `SOAK_SECS` seconds (20 by default, what CI runs;
//! `scripts/soak.sh` runs it for minutes), then: the live task count is back to its
//! baseline, and memory has not grown beyond noise. The figures are printed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use load_client::count::Counter;
use load_client::demo::Running;
use load_client::load::{self, LoadSpec};
use scenarios::{SCENARIOS, Server, Tag};

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn spec(requests: u64, abandon_after: Option<Duration>) -> LoadSpec {
    LoadSpec {
        requests: Some(requests),
        concurrency: 10,
        duration: None,
        rate: None,
        abandon_after,
        timeout: Duration::from_secs(10),
        keep_samples: false,
    }
}

#[test]
fn fixed_server_survives_a_mixed_soak_without_leaking() {
    let secs: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let server = Running::start(Server::Fixed).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let counter = Counter::new(server.url("/_count"));
        // Each "second" of load: every route of the scenario table as its demo loads it
        // (clients giving up where it says), short work, bad input, an unknown route.
        let mut mix: Vec<(String, LoadSpec)> = SCENARIOS
            .iter()
            .filter(|s| s.route.is_some())
            .map(|s| (s.path_and_query(), spec(20, s.give_up())))
            .collect();
        let (sum, work) = (Tag::L1.route(), Tag::L6.route());
        mix.extend([
            (format!("{work}?ms=5"), spec(10, None)),
            (format!("{sum}?nums=1,,x"), spec(10, None)),
            (format!("{sum}?nums=9223372036854775807,1,1"), spec(10, None)),
            ("/nowhere".into(), spec(5, None)),
        ]);
        // Warm up once, then take the baselines.
        for (path, spec) in &mix {
            load::round(&server.url(path), spec, Instant::now(), Arc::new(|| {})).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let tasks_start = counter.read().await.unwrap();
        let rss_start = rss_bytes();

        let started = Instant::now();
        let (mut requests, mut status, mut errors) = (0u64, BTreeMap::new(), BTreeMap::new());
        let mut rss_mid = None;
        while started.elapsed() < Duration::from_secs(secs) {
            if rss_mid.is_none() && started.elapsed() >= Duration::from_secs(secs / 2) {
                rss_mid = Some(rss_bytes());
            }
            let rounds = mix.iter().map(|(path, spec)| {
                let url = server.url(path);
                let spec = spec.clone();
                async move { load::round(&url, &spec, Instant::now(), Arc::new(|| {})).await }
            });
            for stats in futures_join_all(rounds).await {
                requests += stats.sent;
                for (code, n) in stats.status {
                    *status.entry(code).or_insert(0u64) += n;
                }
                for (kind, n) in stats.errors {
                    *errors.entry(kind).or_insert(0u64) += n;
                }
            }
        }

        // Back to baseline? (connection tasks close a moment after the load stops)
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut tasks_end = counter.read().await.unwrap();
        while tasks_end > tasks_start && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            tasks_end = counter.read().await.unwrap();
        }
        let rss_end = rss_bytes();
        let rss_mid = rss_mid.unwrap_or(rss_end);
        println!(
            "soak: {secs} s, {requests} requests; status {status:?}; errors {errors:?}; \
             tasks {tasks_start} -> {tasks_end}; RSS {:.1} MB at start, {:.1} MB half-way, {:.1} MB at the end",
            rss_start as f64 / 1e6,
            rss_mid as f64 / 1e6,
            rss_end as f64 / 1e6
        );
        assert!(
            status.keys().all(|&code| code < 500 || code == 504),
            "no 5xx but the upstream's 504: {status:?}"
        );
        assert!(
            status.get(&504).copied().unwrap_or(0) > 0,
            "upstream timeouts happened: {status:?}"
        );
        assert!(
            status.get(&400).copied().unwrap_or(0) > 0,
            "bad input was refused: {status:?}"
        );
        assert!(
            errors.get("abandoned").copied().unwrap_or(0) > 0,
            "clients gave up: {errors:?}"
        );
        assert_eq!(
            tasks_end, tasks_start,
            "the live task count is back to its baseline"
        );
        // The client, the server and their buffers share this process; 32 MB is noise,
        // a leak of this load would be far more (100+ requests a second for every second).
        assert!(
            rss_end < rss_start + 32 * 1024 * 1024,
            "RSS {rss_start} -> {rss_end}"
        );
    });
}

/// Runs futures concurrently and collects their outputs in order.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("load rounds do not panic"));
    }
    out
}
