//! Bench 4: what the probes cost.
//!
//! * `/_count` with 0, 10k, 100k live tasks: one atomic load, so it must stay flat;
//! * `/_stack` (registry and await points, no runtime pause) and `/_stack?trace=tokio`
//!   (tokio's task dump, which pauses the runtime) at 1k, 10k, 100k live tasks;
//! * the spawn registry's cost per spawn: spawn + join of an empty task on a runtime with
//!   leak-probe's hooks and on one without.

use std::time::Duration;

use benches::{get, runtime, size, spawn_idle, wait_for_live_tasks};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

fn count_and_stack(c: &mut Criterion) {
    let rt = runtime(true);
    // `--tokio-dump`, so `?trace=tokio` is allowed (the runtime is quiet between samples).
    let debug = leak_probe::http::DebugConfig {
        tokio_dump: true,
        ..Default::default()
    };
    let app = fixed_server::app_with(fixed_server::AppState::new(), debug);
    let mut spawned = 0;
    let mut count = c.benchmark_group("probes/_count");
    let sizes = [0, size(10_000, 100), size(100_000, 1000)];
    for target in sizes {
        let live = rt.block_on(async {
            spawn_idle(target - spawned);
            spawned = target;
            wait_for_live_tasks(target).await
        });
        count.bench_function(
            BenchmarkId::from_parameter(format!("{live} live tasks")),
            |b| {
                b.to_async(&rt)
                    .iter(|| async { assert_eq!(get(&app, "/_count").await.0, 200) });
            },
        );
    }
    count.finish();

    // Dumps: fewer samples, they take up to a second each at 100k.
    let rt = runtime(true);
    let mut stack = c.benchmark_group("probes/_stack");
    stack.sample_size(10);
    let mut spawned = 0;
    for target in [size(1_000, 10), size(10_000, 100), size(100_000, 1000)] {
        let live = rt.block_on(async {
            spawn_idle(target - spawned);
            spawned = target;
            wait_for_live_tasks(target).await
        });
        for (name, path) in [
            ("tokio dump", "/_stack?trace=tokio"),
            ("registry", "/_stack"),
        ] {
            stack.bench_function(BenchmarkId::new(name, format!("{live} live tasks")), |b| {
                b.to_async(&rt)
                    .iter(|| async { assert_eq!(get(&app, path).await.0, 200) });
            });
        }
    }
    stack.finish();
}

fn registry(c: &mut Criterion) {
    // 1000 tasks spawned and joined per iteration: the per-task cost is the time / 1000,
    // without the wake-up latency of one task at a time dominating it.
    let mut group = c.benchmark_group("probes/spawn + join 1000 empty tasks");
    for (name, instrumented) in [("without registry", false), ("with registry", true)] {
        let rt = runtime(instrumented);
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                let handles: Vec<_> = (0..1000).map(|_| tokio::spawn(async {})).collect();
                for h in handles {
                    h.await.unwrap();
                }
            });
        });
    }
    group.finish();
    // What the hooks do per task, alone: one insert and one remove.
    let registry = leak_probe::registry::Registry::new();
    let site = std::panic::Location::caller();
    let mut id = 0u64;
    c.bench_function("probes/registry insert + remove", |b| {
        b.iter(|| {
            id += 1;
            registry.on_spawn(id, site, Some(1));
            registry.on_terminate(id);
        });
    });
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
}

criterion_group! {
    name = benches;
    config = config();
    targets = count_and_stack, registry
}
criterion_main!(benches);
