//! Bench 5: what each layer costs per request, in-process (no network, so criterion's
//! figures are stable): the sum route at every stage of `benches::layers`, then
//! leaky-server's and fixed-server's own routers. It also counts heap allocations per
//! request, the figure the CPU profile points at (`malloc`/`free` were the top entries).

use std::time::Duration;

use benches::layers::{Stage, app};
use benches::{get, runtime, size};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use scenarios::Tag;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// Heap allocations per request of `app`, over `n` requests (after a warm-up).
fn allocations_per_request(rt: &tokio::runtime::Runtime, app: &axum::Router, n: usize) -> f64 {
    rt.block_on(async {
        for _ in 0..100 {
            get(app, Tag::L1.route()).await;
        }
        let region = Region::new(GLOBAL);
        for _ in 0..n {
            get(app, Tag::L1.route()).await;
        }
        region.change().allocations as f64 / n as f64
    })
}

fn layers(c: &mut Criterion) {
    let mut apps: Vec<(String, bool, axum::Router)> = Stage::ALL
        .iter()
        .map(|s| (s.label().to_owned(), s.hooks(), app(*s)))
        .collect();
    apps.push((
        "fixed-server".into(),
        true,
        fixed_server::app(fixed_server::AppState::new()),
    ));
    let mut group = c.benchmark_group("layers (sum route, in-process)");
    for (name, hooks, app) in &apps {
        let rt = runtime(*hooks);
        let allocs = allocations_per_request(&rt, app, size(10_000, 100));
        println!("layers/{name}: {allocs:.1} heap allocations per request");
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.to_async(&rt).iter(|| async {
                let (status, _) = get(app, Tag::L1.route()).await;
                assert_eq!(status, 200);
            });
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
}

criterion_group! {
    name = benches;
    config = config();
    targets = layers
}
criterion_main!(benches);
