//! Bench 1: the sum route's latency (L1), leaky-server vs fixed-server, in-process (`Router` +
//! `oneshot`) and over loopback HTTP (one keep-alive connection, one request at a time).
//!
//! leaky-server leaks one task per sum request, so its task count grows during the bench;
//! bench 2 (`pile_up`) looks at that growth on purpose.

use std::time::Duration;

use benches::{get, runtime};
use criterion::{Criterion, criterion_group, criterion_main};
use load_client::demo::Running;
use scenarios::{Server, Tag};

fn in_process(c: &mut Criterion) {
    let rt = runtime(true);
    let mut group = c.benchmark_group("sum/in-process");
    for (name, app) in [
        ("leaky", leaky_server::app(leaky_server::AppState::new())),
        ("fixed", fixed_server::app(fixed_server::AppState::new())),
    ] {
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                let (status, _) = get(&app, Tag::L1.route()).await;
                assert_eq!(status, 200);
            });
        });
    }
    group.finish();
}

fn over_http(c: &mut Criterion) {
    let rt = runtime(false);
    let servers = [
        (
            "leaky",
            Running::start(Server::Leaky).expect("leaky-server starts"),
        ),
        (
            "fixed",
            Running::start(Server::Fixed).expect("fixed-server starts"),
        ),
    ];
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .no_proxy()
        .build()
        .expect("a client");
    let mut group = c.benchmark_group("sum/http");
    for (name, server) in &servers {
        let url = server.url(Tag::L1.route());
        group.bench_function(*name, |b| {
            b.to_async(&rt).iter(|| async {
                let response = client.get(url.clone()).send().await.expect("an answer");
                assert!(response.status().is_success());
                response.bytes().await.expect("a body");
            });
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
}

criterion_group! {
    name = benches;
    config = config();
    targets = in_process, over_http
}
criterion_main!(benches);
