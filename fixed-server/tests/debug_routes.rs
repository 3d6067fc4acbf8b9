//! The debug routes both servers mount (from leak-probe): `/_count`, `/_stack`, `/_tasks`
//! and `/metrics`, read after leaky-server has leaked a known number of tasks.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use leak_probe::LeakCheck;
use tower::ServiceExt;

/// The blog's route (L1).
const SUM: &str = scenarios::SCENARIOS[0].route.unwrap();

/// GETs `path` from `app` in-process: `(status, body)`.
async fn get(app: &Router, path: &str) -> (StatusCode, String) {
    let response = app
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 16 << 20)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// leaky-server after `n` sum requests (L1): `n` leaked tasks, all at one site. Its
/// `/_stack?trace=tokio` is allowed (like `--tokio-dump`).
async fn leaky_after_sums(n: usize) -> Router {
    let debug = leak_probe::http::DebugConfig {
        tokio_dump: true,
        ..Default::default()
    };
    let app = leaky_server::app_with(leaky_server::AppState::new(), debug);
    for _ in 0..n {
        assert_eq!(get(&app, SUM).await, (StatusCode::OK, "17".into()));
    }
    // Let the first-half tasks finish; only the n leaked ones remain, each parked at its
    // send (a task spawned just before the answer may not have run yet).
    let settled = || {
        let parked = leak_probe::registry::for_current_runtime().is_none_or(|registry| {
            let tasks = registry.snapshot();
            tasks.len() == n && tasks.iter().all(|t| t.waiting_at().next().is_some())
        });
        leak_probe::live_tasks() == n && parked
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !settled() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    app
}

/// `/_count` is a bare integer, like the blog's, and grows by one per leaky request.
#[test]
fn count_is_a_bare_integer_that_grows_with_the_leak() {
    let _app = LeakCheck::new().expect_leaked(10).run(|| async {
        let app = leaky_server::app(leaky_server::AppState::new());
        assert_eq!(get(&app, "/_count").await, (StatusCode::OK, "0".into()));
        let app = leaky_after_sums(10).await;
        assert_eq!(get(&app, "/_count").await, (StatusCode::OK, "10".into()));
        app
    });
}

/// `/_stack` names the spawn site in this repository and the line the tasks wait at, with
/// the count and ages, without pausing the runtime; `?trace=tokio` adds tokio's own trace.
#[test]
fn stack_groups_leaked_tasks_by_spawn_site() {
    let _app = LeakCheck::new().expect_leaked(10).run(|| async {
        let app = leaky_after_sums(10).await;
        let (status, text) = get(&app, "/_stack").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            text.starts_with("tokio task report: 10 live task(s)"),
            "{text}"
        );
        if leak_probe::runtime::HAS_REGISTRY {
            assert!(
                text.contains("10 task(s) [age ")
                    && text.contains(" ms] spawned at leaky-server/src/sum.rs:")
                    && text.contains("\n    waiting at leaky-server/src/sum.rs:"),
                "{text}"
            );
            assert!(text.contains("runtime not paused"), "{text}");
        } else {
            assert!(
                text.contains("tokio_unstable"),
                "should say what is missing: {text}"
            );
        }
        assert!(!text.contains("runtime paused"), "{text}");

        // trace=tokio: tokio's dump too (the runtime is quiet here).
        let (status, traced) = get(&app, "/_stack?trace=tokio").await;
        assert_eq!(status, StatusCode::OK, "{traced}");
        if leak_probe::runtime::HAS_TASK_DUMPS {
            assert!(
                traced.contains(
                    "leaky_server::gochan::Send<T> as core::future::future::Future> at leaky-server/src/gochan.rs:"
                ),
                "{traced}"
            );
            assert!(traced.contains("runtime paused "), "{traced}");
        }

        // debug=2: every task on its own, oldest first.
        let (_, every) = get(&app, "/_stack?debug=2").await;
        if leak_probe::runtime::HAS_REGISTRY {
            assert_eq!(every.matches("\ntask ").count(), 10, "{every}");
        }
        // trace=0: spawn sites only.
        let (_, quick) = get(&app, "/_stack?trace=0").await;
        assert!(!quick.contains("waiting at"), "{quick}");
        if leak_probe::runtime::HAS_REGISTRY {
            assert!(quick.contains("10 task(s) [age "), "{quick}");
        }
        app
    });
}

/// Bad query values get a `400` that says what is allowed, never a `500`; tokio's dump on
/// a server that did not allow it gets a `403` with the reason.
#[test]
fn bad_debug_queries_get_a_400_with_the_reason() {
    LeakCheck::new().run(|| async {
        let app = fixed_server::app(fixed_server::AppState::new());
        for (query, says) in [
            ("debug=x", "debug must be 1 (grouped) or 2 (every task)"),
            ("debug=99999999999999999999", "debug must be"),
            ("trace=yes", "trace must be 1"),
            ("all_traces=-1", "all_traces must be 0"),
        ] {
            for route in ["/_stack", "/_tasks"] {
                let (status, body) = get(&app, &format!("{route}?{query}")).await;
                assert_eq!(status, StatusCode::BAD_REQUEST, "{route}?{query}: {body}");
                assert!(body.starts_with(says), "{route}?{query}: {body}");
                assert_eq!(body.lines().count(), 1, "{body}");
            }
        }
        for (path, says) in [
            (
                "/_stack?format=nope",
                "format must be text (the default), json or pprof",
            ),
            ("/_tasks?format=pprof", "unknown parameter `format`"),
            (
                "/_leaks?format=html",
                "format must be json (the default) or text",
            ),
            ("/_leaks?debug=2", "unknown parameter `debug`"),
        ] {
            let (status, body) = get(&app, path).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
            assert!(body.starts_with(says), "{path}: {body}");
            assert_eq!(body.lines().count(), 1, "{body}");
        }
        let (status, body) = get(&app, "/_stack?trace=tokio").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(body.contains("--tokio-dump"), "{body}");
        assert_eq!(body.lines().count(), 1, "{body}");
    });
}

/// `/_tasks` is the same report as JSON.
#[test]
fn tasks_is_the_report_as_json() {
    let _app = LeakCheck::new().expect_leaked(10).run(|| async {
        let app = leaky_after_sums(10).await;
        let (status, body) = get(&app, "/_tasks").await;
        assert_eq!(status, StatusCode::OK);
        let report: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(report["live_tasks"], 10, "{report:#}");
        assert_eq!(report["traces_captured"], false, "{report:#}");
        assert_eq!(report["paused_ms"], 0, "{report:#}");
        if leak_probe::runtime::HAS_REGISTRY {
            let group = &report["groups"][0];
            assert_eq!(group["count"], 10, "{report:#}");
            assert!(
                group["spawned_at"]
                    .as_str()
                    .unwrap()
                    .starts_with("leaky-server/src/sum.rs:")
            );
            assert!(group["youngest_ms"].as_u64() <= group["oldest_ms"].as_u64());
            assert!(
                group["waiting_at"][0]
                    .as_str()
                    .unwrap()
                    .starts_with("leaky-server/src/sum.rs:"),
                "{report:#}"
            );
            assert!(group["trace"].is_null(), "no tokio dump unless asked");
            let (_, body) = get(&app, "/_tasks?trace=tokio").await;
            let traced: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(
                traced["groups"][0]["trace"].is_string(),
                leak_probe::runtime::HAS_TASK_DUMPS,
                "{traced:#}"
            );
        }
        app
    });
}

/// `/metrics`: live tasks, per spawn site, spawned, requests by route and status, and a
/// latency histogram; and `promtool check metrics` accepts it.
#[test]
fn metrics_are_valid_prometheus_text() {
    let text = LeakCheck::new().expect_leaked(10).run(|| async {
        let app = leaky_after_sums(10).await;
        assert_eq!(
            get(&app, &format!("{SUM}?nums=x")).await.0,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(get(&app, "/nowhere").await.0, StatusCode::NOT_FOUND);
        let (status, text) = get(&app, "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        (text, app).0
    });
    for line in [
        "tokio_tasks_alive 10\n".to_owned(),
        format!("http_requests_total{{route=\"{SUM}\",status=\"200\"}} 10\n"),
        format!("http_requests_total{{route=\"{SUM}\",status=\"400\"}} 1\n"),
        "http_requests_total{route=\"unmatched\",status=\"404\"} 1\n".to_owned(),
        format!("http_request_duration_seconds_count{{route=\"{SUM}\"}} 11\n"),
        "# TYPE http_request_duration_seconds histogram\n".to_owned(),
    ] {
        assert!(text.contains(&line), "missing {line:?} in:\n{text}");
    }
    if leak_probe::runtime::HAS_REGISTRY {
        assert!(
            text.contains("tokio_tasks_alive_by_spawn_site{site=\"leaky-server/src/sum.rs:"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE tokio_tasks_spawned_total counter\n"),
            "{text}"
        );
    }
    promtool_check(&text);
}

/// Runs `promtool check metrics` on `text`. Without promtool the check is skipped, loudly;
/// with `REQUIRE_PROMTOOL=1` (CI sets it) a missing promtool fails the test.
fn promtool_check(text: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            let required = std::env::var_os("REQUIRE_PROMTOOL").is_some_and(|v| v == "1");
            assert!(!required, "REQUIRE_PROMTOOL=1 but promtool cannot run: {e}");
            eprintln!(
                "\n*** SKIPPED promtool check metrics: promtool not found ({e}); apt-get install prometheus ***\n"
            );
            return;
        }
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics failed:\n{}{}\n--- metrics ---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// On a runtime that leak-probe did not build (plain `#[tokio::main]`), the count still
/// works and `/_stack` says what is missing instead of failing.
#[test]
fn stack_explains_what_is_missing_on_a_plain_runtime() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let app = fixed_server::app(fixed_server::AppState::new());
        let (status, count) = get(&app, "/_count").await;
        assert_eq!(status, StatusCode::OK);
        count.parse::<usize>().unwrap();
        let (status, text) = get(&app, "/_stack").await;
        assert_eq!(status, StatusCode::OK);
        if leak_probe::runtime::HAS_REGISTRY {
            assert!(
                text.contains("not built with leak_probe::runtime::build"),
                "{text}"
            );
        } else {
            assert!(
                text.contains("RUSTFLAGS=\"--cfg tokio_unstable\""),
                "{text}"
            );
        }
    });
}

/// `/_stack?format=json` is `/_tasks`; `?format=pprof` a gzipped pprof profile with the
/// leaked tasks under the sum frames; `/_leaks` lists the sum site; `/_ui` is the page.
#[test]
fn stack_exports_json_and_pprof_and_the_ui_is_served() {
    if !leak_probe::runtime::HAS_REGISTRY {
        return; // No groups, no sites without the registry.
    }
    let _app = LeakCheck::new().expect_leaked(10).run(|| async {
        let app = leaky_after_sums(10).await;
        let (status, json) = get(&app, "/_stack?format=json").await;
        assert_eq!(status, StatusCode::OK);
        let report: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(report["groups"][0]["count"], 10, "{report:#}");

        let response = app
            .clone()
            .oneshot(
                Request::get("/_stack?format=pprof")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(&bytes[..2], &[0x1f, 0x8b], "gzip");
        let profile = leak_probe::report::pprof::decode(&bytes).unwrap();
        let tasks: i64 = profile.sample.iter().map(|s| s.value[0]).sum();
        assert_eq!(tasks, report["reported_tasks"].as_i64().unwrap());
        assert!(profile.sample.iter().any(|s| s.value == [10]));

        let (status, leaks) = get(&app, "/_leaks").await;
        assert_eq!(status, StatusCode::OK);
        let leaks: serde_json::Value = serde_json::from_str(&leaks).unwrap();
        let sum = leaks["sites"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| {
                s["site"]
                    .as_str()
                    .unwrap()
                    .starts_with("leaky-server/src/sum.rs:")
            })
            .unwrap_or_else(|| panic!("{leaks:#}"));
        assert_eq!(sum["alive"], 10);
        assert!(
            sum["waiting_at"][0]
                .as_str()
                .unwrap()
                .starts_with("leaky-server/src/sum.rs:")
        );
        // A first read started the sampler: no history yet, and it says so.
        assert!(
            leaks["note"].as_str().unwrap().contains("sampling for"),
            "{leaks:#}"
        );

        let (status, page) = get(&app, "/_ui").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.starts_with("<!doctype html>") && page.contains("fetch(\"_leaks\""));
        app
    });
}

/// With many tasks from one site, `/_stack?trace=tokio` renders the tokio traces of a
/// sample of them (100 per site) and still counts every task; `&all_traces=1` renders
/// them all.
#[test]
fn stack_renders_a_sample_of_traces_per_site() {
    if !leak_probe::runtime::HAS_TASK_DUMPS {
        return; // No traces at all without task dumps.
    }
    let _app = LeakCheck::new().expect_leaked(150).run(|| async {
        let app = leaky_after_sums(150).await;
        let (_, text) = get(&app, "/_stack?trace=tokio").await;
        assert!(text.contains("100 task(s) [age "), "{text}");
        assert!(text.contains("50 task(s) [age "), "{text}");
        assert!(
            text.contains("    (trace not rendered: only a sample"),
            "{text}"
        );
        let (_, all) = get(&app, "/_stack?trace=tokio&all_traces=1").await;
        assert!(all.contains("150 task(s) [age "), "{all}");
        assert!(!all.contains("trace not rendered"), "{all}");
        app
    });
}

/// Bound to a non-loopback address, a server hides `/_count`, `/_stack` and `/_tasks`
/// (404) unless `--expose-debug`; `/metrics` stays for scraping.
#[test]
fn debug_routes_are_closed_off_loopback_unless_exposed() {
    use leak_probe::http::DebugAccess;
    let loopback = "127.0.0.1:8002".parse().unwrap();
    let v6_loopback = "[::1]:8002".parse().unwrap();
    let public = "192.0.2.10:8002".parse().unwrap();
    assert_eq!(DebugAccess::for_addr(loopback, false), DebugAccess::Open);
    assert_eq!(DebugAccess::for_addr(v6_loopback, false), DebugAccess::Open);
    assert_eq!(DebugAccess::for_addr(public, false), DebugAccess::Closed);
    assert_eq!(DebugAccess::for_addr(public, true), DebugAccess::Open);
    let closed = leak_probe::http::DebugConfig::for_addr(public, false, false);
    assert_eq!(closed.access, DebugAccess::Closed);

    LeakCheck::new().run(|| async {
        for app in [
            fixed_server::app_with(fixed_server::AppState::new(), closed),
            leaky_server::app_with(leaky_server::AppState::new(), closed),
        ] {
            for path in ["/_count", "/_stack", "/_tasks", "/_leaks", "/_ui"] {
                assert_eq!(get(&app, path).await.0, StatusCode::NOT_FOUND, "{path}");
            }
            assert_eq!(get(&app, "/metrics").await.0, StatusCode::OK);
        }
    });
}
