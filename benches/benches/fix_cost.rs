//! Bench 3: what each fix costs per request, next to what it replaces.
//!
//! * `timeout`: `tokio::time::timeout` around an immediately ready call, vs the bare call;
//! * `child token + drop guard`: fixed-server's per-request scope, vs nothing;
//! * spawn and join through `JoinSet`, `TaskTracker`, `AbortOnDropHandle`, vs a bare
//!   `tokio::spawn` whose handle is awaited.
//!
//! And end to end: a whole sum request (L1) on both servers is bench 1.

use std::time::Duration;

use benches::runtime;
use criterion::{Criterion, criterion_group, criterion_main};
use tokio_util::sync::CancellationToken;
use tokio_util::task::{AbortOnDropHandle, TaskTracker};

fn fixes(c: &mut Criterion) {
    let rt = runtime(true);
    let mut group = c.benchmark_group("fix-cost");

    group.bench_function("bare call", |b| {
        b.to_async(&rt)
            .iter(|| async { std::hint::black_box(std::future::ready(1).await) });
    });
    group.bench_function("timeout(call)", |b| {
        b.to_async(&rt).iter(|| async {
            std::hint::black_box(
                tokio::time::timeout(Duration::from_secs(1), std::future::ready(1)).await,
            )
        });
    });

    let root = CancellationToken::new();
    group.bench_function("child token + drop guard", |b| {
        b.iter(|| {
            let token = root.child_token();
            let guard = token.clone().drop_guard();
            std::hint::black_box(&token);
            drop(guard);
        });
    });

    group.bench_function("spawn + join (bare JoinHandle)", |b| {
        b.to_async(&rt)
            .iter(|| async { tokio::spawn(async { 1 }).await.unwrap() });
    });
    group.bench_function("spawn + join (JoinSet)", |b| {
        b.to_async(&rt).iter(|| async {
            let mut set = tokio::task::JoinSet::new();
            set.spawn(async { 1 });
            set.join_next().await.unwrap().unwrap()
        });
    });
    let tracker = TaskTracker::new();
    group.bench_function("spawn + join (TaskTracker)", |b| {
        b.to_async(&rt)
            .iter(|| async { tracker.spawn(async { 1 }).await.unwrap() });
    });
    group.bench_function("spawn + join (AbortOnDropHandle)", |b| {
        b.to_async(&rt).iter(|| async {
            AbortOnDropHandle::new(tokio::spawn(async { 1 }))
                .await
                .unwrap()
        });
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
}

criterion_group! {
    name = benches;
    config = config();
    targets = fixes
}
criterion_main!(benches);
