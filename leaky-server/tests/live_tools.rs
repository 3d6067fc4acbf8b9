//! The live tools of leak-probe against the leaky-server binary, in its own process:
//! `/_leaks` names the leaking spawn sites (and load-client's verdict with it), the pprof
//! export reads in `go tool pprof`, and `/_ui` renders in a real browser.
//!
//! fixed-server's twin of the first test (`fixed-server/tests/live_tools.rs`) runs the
//! same load and expects no suspect at all.
//!
//! `go` and `chromium` are Debian packages (`.ci/run` installs both). Without them the
//! two tests that need them say so on stderr and pass, unless `REQUIRE_GO=1` or
//! `REQUIRE_CHROMIUM=1` (set by `.ci/run`) makes them fail instead.

use std::process::Command;

use load_client::process::ServerProcess;
use load_client::run::{self, RunReport, RunSpec};
use scenarios::Tag;

const BIN: &str = env!("CARGO_BIN_EXE_leaky-server");

/// The five leaks a request makes and keeps (L6 needs clients that give up, L7 slow
/// connections, L8 a shutdown).
const LEAKING: [Tag; 5] = [Tag::L1, Tag::L2, Tag::L3, Tag::L4, Tag::L5];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Two rounds of 50 requests at once on `path`, as `load-client --rounds 2` runs them.
async fn two_rounds(server: &ServerProcess, path: &str) -> RunReport {
    let spec = RunSpec::rounds(server.url(path), server.url("/_count"), 2, 50, 50);
    run::run_quietly(&spec).await.unwrap()
}

async fn get(url: reqwest::Url) -> (u16, Vec<u8>) {
    let response = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(url.clone())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap()
}

#[test]
fn leaks_names_the_leaking_sites_and_so_does_the_verdict() {
    if !have_registry() {
        return;
    }
    let server = ServerProcess::start(&[BIN.into()]).unwrap();
    runtime().block_on(async {
        for tag in LEAKING {
            let route = tag.route();
            let report = two_rounds(&server, route).await;
            assert_eq!(report.total.leaked, 100, "{route}: {report:?}");
            // The verdict names the spawn site in the route's own file, and the line its
            // tasks wait at.
            let file = format!("leaky-server/src/{}.rs:", route.trim_start_matches('/'));
            let verdict = run::verdict_line(&report.total);
            assert!(
                verdict.starts_with("LEAK, 1.00 per request, at ") && verdict.contains(&file),
                "{route}: {verdict}"
            );
            let site = &report.total.leaking_at[0];
            assert_eq!((site.grew, site.alive), (100, 100), "{route}: {site:?}");
            assert!(site.waiting_at[0].starts_with(&file), "{route}: {site:?}");
        }
        // Every leaking site is a suspect, and nothing else is.
        let (status, body) = get(server.url("/_leaks")).await;
        assert_eq!(status, 200);
        let leaks = json(&body);
        let mut suspects: Vec<String> = leaks["suspects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["site"].as_str().unwrap().to_owned())
            .collect();
        suspects.sort();
        let mut expected: Vec<String> = LEAKING
            .iter()
            .map(|t| format!("leaky-server/src/{}.rs", t.route().trim_start_matches('/')))
            .collect();
        expected.sort();
        assert_eq!(suspects.len(), 5, "{leaks:#}");
        for (site, file) in suspects.iter().zip(&expected) {
            assert!(site.starts_with(file), "{site} vs {file}: {leaks:#}");
        }
        for s in leaks["suspects"].as_array().unwrap() {
            assert_eq!(s["alive"], 100, "{s:#}");
            assert_eq!(s["rise"][2], 100, "{s:#}");
            // Labelled with the route of the requests that spawned them.
            let file = s["site"].as_str().unwrap();
            let route = format!(
                "/{}",
                file.split('/').nth(2).unwrap().split('.').next().unwrap()
            );
            assert_eq!(s["label"], route.as_str(), "{s:#}");
        }
        // The task report groups and labels them the same way, and names the parent task.
        let (_, tasks) = get(server.url("/_tasks?debug=2")).await;
        let tasks = json(&tasks);
        for group in tasks["groups"].as_array().unwrap() {
            if group["spawned_at"]
                .as_str()
                .unwrap()
                .starts_with("leaky-server/src/")
            {
                assert_eq!(group["count"], 100, "{group:#}");
                assert!(group["label"].is_string(), "{group:#}");
            }
        }
        let task = tasks["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| {
                t["spawned_at"]
                    .as_str()
                    .unwrap()
                    .starts_with("leaky-server/src/sum.rs")
            })
            .unwrap();
        assert!(task["spawned_by"].as_u64().unwrap() > 0, "{task:#}");
        assert_eq!(task["label"], Tag::L1.route(), "{task:#}");
        // The text form says the same.
        let (_, text) = get(server.url("/_leaks?format=text")).await;
        let text = String::from_utf8(text).unwrap();
        assert!(text.starts_with("leak suspects: 5 "), "{text}");
        assert_eq!(text.matches("SUSPECT 100 alive").count(), 5, "{text}");
        // Bad input is a 400 with the reason.
        let (status, body) = get(server.url("/_leaks?format=xml")).await;
        assert_eq!(status, 400);
        assert!(String::from_utf8(body).unwrap().contains("format must be"));
    });
}

/// Spawn sites, suspects and await points need `--cfg tokio_unstable` (the workspace's
/// `.cargo/config.toml`); CI also builds without it, where these tests have nothing to
/// check and say so.
fn have_registry() -> bool {
    if !leak_probe::runtime::HAS_REGISTRY {
        eprintln!("skipped: built without tokio_unstable, no spawn sites to name");
    }
    leak_probe::runtime::HAS_REGISTRY
}

/// Whether a test that needs `tool` may skip without it: it says so, unless the
/// environment variable `require` is set, which makes the missing tool a failure.
fn have(tool: &str, require: &str) -> bool {
    let found = Command::new(tool).arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var_os(require).is_none(),
            "{require} is set but `{tool}` is not installed"
        );
        eprintln!("skipped: `{tool}` is not installed (apt-get install it, or see .ci/run)");
    }
    found
}

#[test]
fn go_tool_pprof_reads_the_task_profile() {
    if !have_registry() {
        return;
    }
    let server = ServerProcess::start(&[BIN.into()]).unwrap();
    let profile = runtime().block_on(async {
        let report = two_rounds(&server, Tag::L1.route()).await;
        assert_eq!(report.total.leaked, 100);
        let (status, profile) = get(server.url("/_stack?format=pprof")).await;
        assert_eq!(status, 200);
        profile
    });
    // Read back with prost: one sample per group, 100 tasks under the sum frames.
    let decoded = leak_probe::report::pprof::decode(&profile).unwrap();
    let name = |id: u64| {
        let f = &decoded.function[id as usize - 1];
        decoded.string_table[f.name as usize].clone()
    };
    let sum = decoded
        .sample
        .iter()
        .find(|s| name(s.location_id[0]).contains("leaky-server/src/sum.rs"))
        .expect("a sample waiting in sum.rs");
    assert_eq!(sum.value, [100]);
    assert!(name(*sum.location_id.last().unwrap()).starts_with("spawn leaky-server/src/sum.rs:"));

    if !have("go", "REQUIRE_GO") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("leak-probe-pprof-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("tasks.pb.gz");
    std::fs::write(&file, &profile).unwrap();
    let out = Command::new("go")
        .args(["tool", "pprof", "-top"])
        .arg(&file)
        .env("PPROF_TMPDIR", &dir)
        .env("GOTOOLCHAIN", "local")
        .env("HOME", &dir)
        .output()
        .unwrap();
    let top = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{top}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `flat flat% sum% cum cum% name`: the await in sum.rs holds the 100 leaked tasks.
    let row = top
        .lines()
        .find(|l| l.contains("await leaky-server/src/sum.rs:"))
        .unwrap_or_else(|| panic!("no sum frame in:\n{top}"));
    let flat: u64 = row.split_whitespace().next().unwrap().parse().unwrap();
    assert!(flat >= 100, "{top}");
    assert!(top.contains("Type: goroutine"), "{top}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_ui_renders_the_count_and_the_leaking_site_in_chromium() {
    if !have_registry() {
        return;
    }
    if !have("chromium", "REQUIRE_CHROMIUM") {
        return;
    }
    let server = ServerProcess::start(&[BIN.into()]).unwrap();
    runtime().block_on(async {
        let report = two_rounds(&server, Tag::L1.route()).await;
        assert_eq!(report.total.leaked, 100);
        let (status, page) = get(server.url("/_ui")).await;
        assert_eq!(status, 200);
        // Self-contained: nothing is fetched from anywhere else.
        let page = String::from_utf8(page).unwrap();
        assert!(!page.contains("http://") && !page.contains("https://"));
    });
    let profile = std::env::temp_dir().join(format!("leak-probe-chromium-{}", std::process::id()));
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--virtual-time-budget=4000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(server.url("/_ui").as_str())
        .output()
        .unwrap();
    std::fs::remove_dir_all(&profile).ok();
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The live count, as the page's script filled it in from /_count.
    let count: u64 = between(&dom, "id=\"count\">", "<")
        .parse()
        .unwrap_or_else(|_| panic!("no count in:\n{dom}"));
    assert!(count >= 100, "count {count}:\n{dom}");
    // The leaking site, highlighted as a suspect, in the page's own markup.
    let suspects = between(&dom, "<div id=\"suspects\">", "<h2>");
    assert!(
        suspects.contains("class=\"suspect\"") && suspects.contains("leaky-server/src/sum.rs"),
        "{dom}"
    );
    assert!(dom.contains("<tr class=\"is-suspect\">"), "{dom}");
}

/// The text between the first `start` and the next `end`.
fn between<'a>(s: &'a str, start: &str, end: &str) -> &'a str {
    let Some(at) = s.find(start) else { return "" };
    let rest = &s[at + start.len()..];
    &rest[..rest.find(end).unwrap_or(rest.len())]
}
