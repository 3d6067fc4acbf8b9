//! Hostile clients against the leaky-server binary, in its own process. Its leaks are
//! the scenarios', not these: malformed and oversized requests are refused the same way
//! as by fixed-server (the hardening is on both). And the debug routes under load: a big
//! task report while the sum route is loaded completes, reports asked for at the same
//! moment get `429` with a reason, and the sum route keeps answering (its p99 during the
//! dumps is printed).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use load_client::process::ServerProcess;
use load_client::soak::{malformed_requests, send_raw};
use scenarios::Tag;

const BIN: &str = env!("CARGO_BIN_EXE_leaky-server");

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn get(client: &reqwest::Client, addr: SocketAddr, path: &str) -> (u16, String) {
    let response = client
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[test]
fn malformed_and_oversized_requests_are_refused() {
    let server = ServerProcess::start(&[BIN.into()]).unwrap();
    runtime().block_on(async {
        let sum = Tag::L1.route();
        let client = client();
        for bad in malformed_requests(sum) {
            let (what, outcome) = (
                bad.what,
                send_raw(server.addr, &bad.bytes, None, bad.status).await,
            );
            assert!(outcome.is_ok(), "{what}: {outcome:?}");
            // (leaky-server's sum answers the first half's sum: the blog's bug.)
            assert_eq!(
                get(&client, server.addr, &format!("{sum}?nums=1,2"))
                    .await
                    .0,
                200,
                "still serving after: {what}"
            );
        }
    });
}

/// leaky-server is served by `axum::serve`, which keeps hyper's head limit (about 400 KB):
/// a 64 KiB head, which fixed-server refuses with a 431 after 32 KiB, is read whole and
/// answered. Each slow client can make it buffer that much (L7).
#[test]
fn a_large_request_head_is_read_whole() {
    let server = ServerProcess::start(&[BIN.into()]).unwrap();
    let start = format!(
        "GET {}?nums=1,2,3 HTTP/1.1\r\nhost: x\r\nx-pad: ",
        Tag::L1.route()
    );
    let head = format!("{start}{}\r\n\r\n", "a".repeat(64 * 1024)).into_bytes();
    let outcome = runtime().block_on(send_raw(server.addr, &head, None, Some(200)));
    assert!(outcome.is_ok(), "a 64 KiB head: {outcome:?}");
}

/// 20 000 leaked tasks make a report worth waiting for. While 16 clients load L1, 8
/// clients ask for `/_stack?debug=2` at the same moment, three times: each report is built
/// (200) or refused at once with `429` and a one-line reason (one report at a time), at
/// least one is built each time, and the sum route answers every request meanwhile.
#[test]
fn dumps_under_load_one_at_a_time_and_sum_keeps_answering() {
    if !leak_probe::runtime::HAS_REGISTRY {
        // Without tokio_unstable the report is the count and a note: nothing to build,
        // nothing to refuse. (debug_routes.rs checks that note.)
        return;
    }
    let server = ServerProcess::start(&[BIN.into()]).unwrap();
    runtime().block_on(async {
        let client = client();
        let addr = server.addr;
        // The leak: 20 000 sums leave 20 000 tasks (LEAK(L1)).
        let sum = format!("{}?nums=1,2", Tag::L1.route());
        let leakers: Vec<_> = (0..16)
            .map(|_| {
                let (client, sum) = (client.clone(), sum.clone());
                tokio::spawn(async move {
                    for _ in 0..1_250 {
                        get(&client, addr, &sum).await;
                    }
                })
            })
            .collect();
        for l in leakers {
            l.await.unwrap();
        }

        // The load, and its latencies, until `stop`.
        let stop = Arc::new(AtomicBool::new(false));
        let load: Vec<_> = (0..16)
            .map(|_| {
                let (client, stop, sum) = (client.clone(), Arc::clone(&stop), sum.clone());
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let sent = Instant::now();
                        let (status, _) = get(&client, addr, &sum).await;
                        assert_eq!(status, 200);
                        latencies.push(sent.elapsed());
                    }
                    latencies
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;

        let (mut built, mut refused) = (0, 0);
        for _ in 0..3 {
            let dumps: Vec<_> = (0..8)
                .map(|_| {
                    let client = client.clone();
                    tokio::spawn(async move { get(&client, addr, "/_stack?debug=2").await })
                })
                .collect();
            let mut built_now = 0;
            for dump in dumps {
                match dump.await.unwrap() {
                    (200, body) => {
                        let head: String = body.lines().take(5).collect::<Vec<_>>().join("\n");
                        // The 20 000, and those the load leaks meanwhile, in one group.
                        let leaked = body
                            .lines()
                            .find(|l| l.contains("spawned at leaky-server/src/sum.rs"))
                            .and_then(|l| l.split(' ').next()?.parse::<usize>().ok());
                        assert!(
                            leaked.is_some_and(|n| n >= 20_000),
                            "the leaked tasks, in one group: {head}"
                        );
                        built_now += 1;
                    }
                    (429, body) => {
                        assert_eq!(body.trim().lines().count(), 1, "{body}");
                        refused += 1;
                    }
                    (status, body) => panic!("/_stack: {status} {body}"),
                }
            }
            assert!(built_now >= 1, "each time, one report is built");
            built += built_now;
        }
        stop.store(true, Ordering::Relaxed);
        let mut latencies: Vec<Duration> = Vec::new();
        for l in load {
            latencies.extend(l.await.unwrap());
        }
        latencies.sort();
        let p99 = latencies[latencies.len() * 99 / 100];
        println!(
            "24 reports asked for under load: {built} built, {refused} refused (429); \
             sums: {} answered during them, p99 {p99:?}, max {:?}",
            latencies.len(),
            latencies.last().unwrap()
        );
        assert!(
            refused >= 1,
            "reports asked for at the same moment: all but one are refused"
        );
        assert!(!latencies.is_empty());
    });
}
