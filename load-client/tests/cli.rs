//! The `load-client` binary against real servers on `127.0.0.1:0`: verdicts per route,
//! JSON, exit codes, `--stack` (also on Go's goroutine dump), `--plot`, and the demo.

use std::process::Output;

use load_client::demo::Running;
use scenarios::{Load, SCENARIOS, Server, Tag};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_load-client");

/// A fresh leaky-server and fixed-server for one test. Tests run in parallel, and a
/// leaked task from one test would otherwise land in another test's count.
fn servers() -> (Running, Running) {
    (
        Running::start(Server::Leaky).unwrap(),
        Running::start(Server::Fixed).unwrap(),
    )
}

fn load_client(args: &[&str]) -> Output {
    std::process::Command::new(BIN).args(args).output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json_run(url: &str, extra: &[&str]) -> Value {
    let mut args = vec!["--json", "-n", "20", "-c", "20"];
    args.extend_from_slice(extra);
    args.push(url);
    let out = load_client(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(&out)))
}

/// Every leaky route of the scenario table: "leak, 1.0 per request"; every fixed route: "no
/// leak". (Routes whose tasks end by themselves, L8's, leak only at shutdown.)
#[test]
fn verdict_is_one_task_per_request_on_leaky_and_none_on_fixed() {
    let (leaky, fixed) = &servers();
    for scenario in SCENARIOS
        .iter()
        .filter(|s| matches!(s.load, Load::Requests { .. }))
    {
        let route = scenario.path_and_query();
        let give_up = scenario.give_up().map(|d| format!("{}ms", d.as_millis()));
        let extra: Vec<&str> = match &give_up {
            Some(after) => vec!["--abandon-after", after],
            None => Vec::new(),
        };
        let (route, extra) = (route.as_str(), extra.as_slice());
        let report = json_run(leaky.url(route).as_str(), extra);
        assert_eq!(report["verdict"], "leak", "leaky {route}: {report:#}");
        assert_eq!(report["leaked"], 20, "leaky {route}: {report:#}");
        assert_eq!(
            report["leaked_per_request"], 1.0,
            "leaky {route}: {report:#}"
        );
        // Where: the spawn site in the route's own file (from the server's /_leaks).
        if leak_probe::runtime::HAS_REGISTRY {
            let file = format!(
                "leaky-server/src/{}.rs:",
                scenario.tag.route().trim_start_matches('/')
            );
            let site = &report["leaking_at"][0];
            assert!(
                site["site"].as_str().unwrap().starts_with(&file),
                "leaky {route}: {report:#}"
            );
            assert_eq!(site["grew"], 20, "leaky {route}: {report:#}");
            assert_eq!(
                report["leaking_at"].as_array().unwrap().len(),
                1,
                "{report:#}"
            );
        } else {
            // Built without tokio_unstable: the servers know no spawn sites.
            assert_eq!(report["leaking_at"], serde_json::json!([]), "{report:#}");
        }

        let report = json_run(fixed.url(route).as_str(), extra);
        assert_eq!(report["verdict"], "no leak", "fixed {route}: {report:#}");
        assert_eq!(report["leaked"], 0, "fixed {route}: {report:#}");
        assert_eq!(report["leaking_at"], serde_json::json!([]), "{report:#}");
    }
}

/// The JSON object has every documented field, per run and per round, and the whole-run
/// figures are made of the rounds'.
#[test]
fn json_has_every_field_and_adds_up() {
    let (leaky, _) = &servers();
    let report = json_run(leaky.url(Tag::L1.route()).as_str(), &["--rounds", "2"]);
    let fields = [
        "requests",
        "answered",
        "tasks_before",
        "tasks_after",
        "tasks_after_settled",
        "leaked",
        "leaked_per_request",
        "verdict",
        "requests_per_sec",
        "latency_ms",
        "status",
        "errors",
        "settle_ms",
        "settled",
        "leaking_at",
    ];
    for field in ["url", "count_url", "concurrency", "rounds"]
        .iter()
        .chain(&fields)
    {
        assert!(!report[field].is_null(), "missing {field}: {report:#}");
    }
    for p in ["p50", "p90", "p99", "max"] {
        assert!(
            report["latency_ms"][p].as_f64().unwrap() > 0.0,
            "{report:#}"
        );
    }
    let rounds = report["rounds"].as_array().unwrap();
    assert_eq!(rounds.len(), 2);
    for round in rounds {
        for field in &fields {
            assert!(!round[field].is_null(), "round misses {field}: {round:#}");
        }
        assert_eq!(round["leaked"], 20, "{round:#}");
        assert_eq!(round["status"]["200"], 20, "{round:#}");
    }
    assert_eq!(report["requests"], 40);
    assert_eq!(report["concurrency"], 20);
    assert_eq!(report["status"]["200"], 40);
    assert_eq!(report["tasks_before"], rounds[0]["tasks_before"]);
    assert_eq!(report["tasks_after"], rounds[1]["tasks_after"]);
    assert_eq!(
        report["tasks_after_settled"],
        rounds[1]["tasks_after_settled"]
    );
    assert_eq!(report["leaked"], 40);
    assert_eq!(report["url"], leaky.url(Tag::L1.route()).as_str());
    assert_eq!(report["count_url"], leaky.url("/_count").as_str());
}

/// The human output says the same as the JSON: the blog's lines, settled count, leak per
/// request, verdict, latency and statuses.
#[test]
fn human_output_tells_the_blogs_story() {
    let (leaky, fixed) = &servers();
    let out = load_client(&[
        "-n",
        "20",
        "-c",
        "20",
        "--rounds",
        "2",
        leaky.url(Tag::L1.route()).as_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for needle in [
        "round 1:",
        "round 2:",
        "whole run (2 rounds):",
        " tasks before the load test in the server.",
        " tasks after the load test in the server.",
        " tasks after settling (",
        "leaked: 20 task(s) for 20 request(s) = 1.00 per request -> LEAK, 1.00 per request",
        "leaked: 40 task(s) for 40 request(s) = 1.00 per request -> LEAK, 1.00 per request",
        "latency p50 ",
        "status 200: 40; errors none",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    // The "before" of round 2 is round 1's settled count: the leak stays.
    let settled: Vec<usize> = numbers_before(&text, " tasks after settling");
    let before: Vec<usize> = numbers_before(&text, " tasks before the load test");
    assert_eq!(before[1], settled[0], "{text}");

    let out = load_client(&["-n", "20", "-c", "20", fixed.url(Tag::L1.route()).as_str()]);
    let text = stdout(&out);
    assert!(text.contains("= 0.00 per request -> no leak"), "{text}");
}

fn numbers_before(text: &str, marker: &str) -> Vec<usize> {
    text.lines()
        .filter(|l| l.contains(marker))
        .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
        .collect()
}

/// `--fail-on-leak`: exit 1 on leaky, 0 on fixed; `--leak-threshold` tolerates some.
#[test]
fn fail_on_leak_sets_the_exit_code() {
    let (leaky, fixed) = &servers();
    let run = |url: &str, extra: &[&str]| {
        let mut args = vec!["-n", "10", "-c", "10", "--fail-on-leak"];
        args.extend_from_slice(extra);
        args.push(url);
        load_client(&args).status.code()
    };
    assert_eq!(run(leaky.url(Tag::L1.route()).as_str(), &[]), Some(1));
    assert_eq!(run(fixed.url(Tag::L1.route()).as_str(), &[]), Some(0));
    assert_eq!(
        run(
            leaky.url(Tag::L1.route()).as_str(),
            &["--leak-threshold", "1.5"]
        ),
        Some(0)
    );
}

/// An unreachable target: exit 3 with a one-line message, no panic.
#[test]
fn unreachable_target_exits_3() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}{}", closed.local_addr().unwrap(), Tag::L1.route());
    drop(closed);
    let out = load_client(&[&url]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(err.starts_with("load-client: cannot read http://"), "{err}");
    assert!(
        err.contains("/_count") && !err.contains("panicked"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// A target that goes away mid-run: load-client stops within seconds (not at the end of
/// its 30 s), exits 3 with one line on stderr, and `--json` still prints the figures.
#[test]
fn a_target_that_dies_mid_run_stops_the_run_with_exit_3() {
    let server = Running::start(Server::Fixed).unwrap();
    let url = server.url(Tag::L1.route()).to_string();
    let child = std::process::Command::new(BIN)
        .args(["--json", "-c", "8", "--duration", "30s", &url])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    server.stop().unwrap();
    let gone = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    let took = gone.elapsed();
    let (err, text) = (stderr(&out), stdout(&out));
    assert_eq!(out.status.code(), Some(3), "{err}");
    // DEAD_AFTER is 3 s; a loaded CI machine gets a few seconds more, still far from 30.
    assert!(
        took < std::time::Duration::from_secs(10),
        "stopped {took:?} after the server"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("load-client: http://") && err.contains("stopped answering"),
        "{err}"
    );
    let json: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    assert!(
        json["stopped"]
            .as_str()
            .unwrap()
            .contains("stopped answering")
    );
    assert_eq!(json["round"], 1);
    let (requests, answered) = (
        json["requests"].as_u64().unwrap(),
        json["answered"].as_u64().unwrap(),
    );
    assert!(answered > 100 && requests >= answered, "{json}");
    assert_eq!(json["status"]["200"].as_u64(), Some(answered), "{json}");
    assert!(json["errors"]["connect"].as_u64().unwrap() >= 20, "{json}");
    assert!(json["latency_ms"]["p99"].as_f64().unwrap() > 0.0, "{json}");
    assert!(json["tasks_before"].as_u64().is_some(), "{json}");
}

/// A `/_count` that answers something else than a count: exit 3 with a message.
#[test]
fn garbage_count_exits_3() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/_count", axum::routing::get(|| async { "hello" }))
        .route(
            "/broken/_count",
            axum::routing::get(|| async {
                (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "oops")
            }),
        );
    runtime.spawn(async move { axum::serve(listener, app).await });

    let out = load_client(&[&format!("http://{addr}{}", Tag::L1.route())]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(
        err.contains("did not answer a task count (a bare integer) but \"hello\""),
        "{err}"
    );

    let out = load_client(&[
        "--count-url",
        &format!("http://{addr}/broken/_count"),
        &format!("http://{addr}/"),
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("answered 500 Internal Server Error"),
        "{}",
        stderr(&out)
    );
}

/// Bad usage: exit 2 with a message, never a panic.
#[test]
fn bad_usage_exits_2() {
    for args in [
        &[][..],
        &["ftp://127.0.0.1/x"],
        &["not a url"],
        &["-c", "0", "http://127.0.0.1:1/x"],
        &["-n", "zero", "http://127.0.0.1:1/x"],
        &["--rate", "-5", "http://127.0.0.1:1/x"],
        &["--settle", "5 parsecs", "http://127.0.0.1:1/x"],
        &["--abandon-after", "0s", "http://127.0.0.1:1/x"],
        &["--count-url", "nope", "http://127.0.0.1:1/x"],
    ] {
        let out = load_client(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            !stderr(&out).contains("panicked"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(!stderr(&out).is_empty(), "{args:?}");
    }
}

/// `--stack` on leaky-server names the spawn site in this repository, and the line the
/// leaked tasks wait at.
#[test]
fn stack_shows_the_top_spawn_sites() {
    let (leaky, _) = &servers();
    let out = load_client(&[
        "-n",
        "10",
        "-c",
        "10",
        "--stack",
        leaky.url(Tag::L3.route()).as_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("top of http://"), "{text}");
    if leak_probe::runtime::HAS_REGISTRY {
        assert!(text.contains(" × leaky-server/src/range.rs:"), "{text}");
        assert!(
            text.contains("waiting at leaky-server/src/range.rs:"),
            "{text}"
        );
    }
}

/// Go's goroutine dump (stored from the blog's server after 100 leaked requests) is
/// grouped by identical stack, like pprof's debug=1.
#[test]
fn go_goroutine_dumps_are_grouped_by_stack() {
    let dump = include_str!("data/go-goroutine-dump.txt");
    let groups = load_client::stack::summarize(dump);
    let top = &groups[0];
    assert_eq!(top.count, 100, "{groups:#?}");
    assert_eq!(top.state, "chan send");
    assert!(
        top.origin.starts_with("created by main.sumConcurrent at "),
        "{}",
        top.origin
    );
    assert!(
        top.frames[0].starts_with("main.sum(...) at "),
        "{:?}",
        top.frames
    );
    let total: usize = groups.iter().map(|g| g.count).sum();
    assert_eq!(
        total,
        dump.lines().filter(|l| l.starts_with("goroutine ")).count()
    );
}

/// `--plot` writes an SVG chart with the task count and latency.
#[test]
fn plot_writes_an_svg_chart() {
    let (leaky, _) = &servers();
    let dir = std::env::temp_dir().join(format!("load-client-plot-{}", std::process::id()));
    let path = dir.join("chart.svg");
    let out = load_client(&[
        "-n",
        "20",
        "--plot",
        path.to_str().unwrap(),
        leaky.url(Tag::L4.route()).as_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("live tasks") && svg.contains("p99"));
    let _ = std::fs::remove_dir_all(dir);
}

/// `--flamegraph` writes an SVG flame graph of the live tasks: the leak is the widest
/// tower, spawn site at its root and the line its tasks wait at on top. The human
/// verdict names the spawn site.
#[test]
fn flamegraph_draws_the_live_tasks_and_the_verdict_names_the_site() {
    if !leak_probe::runtime::HAS_REGISTRY {
        return; // No spawn sites or await points to draw without tokio_unstable.
    }
    let (leaky, _) = &servers();
    let dir = std::env::temp_dir().join(format!("load-client-flame-{}", std::process::id()));
    let path = dir.join("tasks.svg");
    let out = load_client(&[
        "-n",
        "30",
        "--flamegraph",
        path.to_str().unwrap(),
        leaky.url(Tag::L1.route()).as_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("-> LEAK, 1.00 per request, at leaky-server/src/sum.rs:"),
        "{text}"
    );
    assert!(text.contains("flame graph of "), "{text}");
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.starts_with("<?xml") && svg.contains("<svg"), "{svg}");
    // inferno writes each frame's name and its count in the frame's title.
    let sum = svg
        .lines()
        .find(|l| l.contains("<title>waiting at leaky-server/src/sum.rs:"))
        .unwrap_or_else(|| panic!("no sum frame in {svg}"));
    assert!(sum.contains("(30 tasks"), "{sum}");
    assert!(svg.contains("<title>spawned at leaky-server/src/sum.rs:"));
    let _ = std::fs::remove_dir_all(dir);
}

/// `--rate` and `--duration` bound an open-loop run by time.
#[test]
fn open_loop_runs_are_bounded_by_time() {
    let (_, fixed) = &servers();
    let started = std::time::Instant::now();
    let out = load_client(&[
        "--json",
        "--rate",
        "200",
        "--duration",
        "500ms",
        fixed.url(Tag::L1.route()).as_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let sent = report["requests"].as_u64().unwrap();
    assert!((80..=101).contains(&sent), "200/s for 0.5 s sent {sent}");
    assert_eq!(report["verdict"], "no leak");
}

/// `load-client demo` runs end to end: both servers, every scenario, a table, a chart.
#[test]
fn demo_runs_end_to_end() {
    let dir = std::env::temp_dir().join(format!("load-client-demo-{}", std::process::id()));
    let path = dir.join("demo.svg");
    let out = load_client(&["demo", "--plot", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for scenario in &SCENARIOS {
        let tag = format!("{} ", scenario.tag);
        let rows: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with(&tag) && l.contains("-server "))
            .collect();
        assert!(
            rows.iter()
                .any(|l| l.contains("leaky-server") && l.contains("LEAK, ")),
            "{}: {text}",
            scenario.tag
        );
        assert!(
            rows.iter()
                .any(|l| l.contains("fixed-server") && l.ends_with("no leak")),
            "{}: {text}",
            scenario.tag
        );
        assert!(
            !rows
                .iter()
                .any(|l| l.contains("fixed-server") && l.contains("LEAK")),
            "{}: {text}",
            scenario.tag
        );
    }
    assert!(
        text.contains("leaky-server leaked in 8 of 8 scenarios, fixed-server in 0 of 8."),
        "{text}"
    );
    assert!(text.contains(&format!(
        "chart of the task count over time: {}",
        path.display()
    )));
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.contains("leaky-server") && svg.contains("fixed-server"));
    let _ = std::fs::remove_dir_all(dir);
}

/// `load-client slow` (L7): leaky-server keeps one task per slow client; fixed-server
/// (the demo's deadlines, 1 s for a head and 2 s idle) closes them all within the hold.
#[test]
fn slow_clients_are_held_by_leaky_and_closed_by_fixed() {
    let (leaky, fixed) = &servers();
    for (server, leaks) in [(leaky, true), (fixed, false)] {
        let out = load_client(&[
            "slow",
            "--clients",
            "40",
            "--hold",
            "3s",
            "--json",
            server.url("/").as_str(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
        let (before, held) = (
            report["tasks_before"].as_u64().unwrap(),
            report["tasks_held"].as_u64().unwrap(),
        );
        if leaks {
            assert_eq!(held, before + 40, "{report:#}");
            assert_eq!(report["closed_by_server"], 0, "{report:#}");
            assert_eq!(report["verdict"], "leak", "{report:#}");
        } else {
            assert!(held <= before, "{report:#}");
            assert_eq!(report["closed_by_server"], 40, "{report:#}");
            assert_eq!(report["verdict"], "no leak", "{report:#}");
        }
    }
}

/// `load-client scenarios` prints the table, one row per scenario, in both formats.
#[test]
fn scenarios_lists_every_scenario() {
    let out = load_client(&["scenarios", "--format", "tsv"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), SCENARIOS.len() + 1, "{text}");
    for s in &SCENARIOS {
        assert!(text.contains(&format!("{}\t", s.tag)), "{text}");
    }
    let out = load_client(&["scenarios"]);
    assert!(stdout(&out).contains("| L8 |"), "{}", stdout(&out));
    let out = load_client(&["scenarios", "--format", "yaml"]);
    assert_eq!(out.status.code(), Some(2));
}
