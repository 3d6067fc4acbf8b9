//! A real Prometheus scrapes leaky-server and fixed-server on loopback while load-client
//! drives both; the leak alert of `leak-probe/prometheus/rules.yml` (its windows shortened
//! from minutes to seconds) goes pending or firing for leaky-server and stays silent for
//! fixed-server.
//!
//! Needs the `prometheus` binary (`apt-get install prometheus`). Without it the test skips
//! loudly; with `REQUIRE_PROMETHEUS=1` (CI sets it) a missing binary fails the test.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use load_client::demo::Running;
use load_client::load::{self, LoadSpec};
use scenarios::{Server, Tag};
use serde_json::Value;

struct Prometheus(Child, std::path::PathBuf);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The fleet rule, with 5-minute windows shortened to 10 seconds for a test.
fn short_rules() -> String {
    let rules = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../leak-probe/prometheus/rules.yml"
    ))
    .unwrap();
    rules
        .replace("[5m]", "[10s]")
        .replace("offset 10m", "offset 20s")
        .replace("offset 5m", "offset 10s")
        .replace("for: 5m", "for: 3s")
}

#[test]
fn prometheus_alerts_on_the_leaky_server_only() {
    let binary = ["prometheus", "/usr/bin/prometheus"].into_iter().find(|b| {
        Command::new(b)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let Some(binary) = binary else {
        let required = std::env::var_os("REQUIRE_PROMETHEUS").is_some_and(|v| v == "1");
        assert!(
            !required,
            "REQUIRE_PROMETHEUS=1 but the prometheus binary cannot run"
        );
        eprintln!("\n*** SKIPPED: prometheus is not installed (apt-get install prometheus) ***\n");
        return;
    };
    let leaky = Running::start(Server::Leaky).unwrap();
    let fixed = Running::start(Server::Fixed).unwrap();

    let dir = std::env::temp_dir().join(format!("prometheus-live-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("rules.yml"), short_rules()).unwrap();
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [rules.yml]\n\
             scrape_configs:\n  - job_name: tokio-services\n    static_configs:\n      \
             - targets: ['{}']\n        labels: {{service: leaky-server}}\n      \
             - targets: ['{}']\n        labels: {{service: fixed-server}}\n",
            leaky.addr, fixed.addr
        ),
    )
    .unwrap();
    let port = free_port();
    let child = Command::new(binary)
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus starts");
    let _prometheus = Prometheus(child, dir);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (leaky_alerted, fixed_alerted) = runtime.block_on(async {
        let api = format!("http://127.0.0.1:{port}/api/v1/alerts");
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let spec = LoadSpec {
            requests: Some(20),
            concurrency: 10,
            duration: None,
            rate: None,
            abandon_after: None,
            timeout: Duration::from_secs(10),
            latency_over_time: false,
        };
        let started = Instant::now();
        let (mut leaky_alerted, mut fixed_alerted) = (None, false);
        // Bounded: at most 90 s of load, 20 requests a second to each server.
        while started.elapsed() < Duration::from_secs(90) && leaky_alerted.is_none() {
            for server in [&leaky, &fixed] {
                load::round(
                    &server.url(Tag::L1.route()),
                    &spec,
                    Instant::now(),
                    Arc::new(|| {}),
                )
                .await;
            }
            tokio::time::sleep(Duration::from_millis(800)).await;
            let Ok(response) = client.get(&api).send().await else {
                continue;
            };
            let Ok(bytes) = response.bytes().await else {
                continue;
            };
            let Ok(body) = serde_json::from_slice::<Value>(&bytes) else {
                continue;
            };
            for alert in body["data"]["alerts"].as_array().into_iter().flatten() {
                if alert["labels"]["alertname"] != "TokioTaskLeak" {
                    continue;
                }
                match alert["labels"]["service"].as_str() {
                    Some("leaky-server") => {
                        leaky_alerted = Some(alert["state"].as_str().unwrap_or("").to_owned())
                    }
                    Some("fixed-server") => fixed_alerted = true,
                    _ => {}
                }
            }
        }
        (leaky_alerted, fixed_alerted)
    });
    let state =
        leaky_alerted.expect("the leak alert goes pending or firing for leaky-server within 90 s");
    assert!(state == "pending" || state == "firing", "{state}");
    assert!(
        !fixed_alerted,
        "the leak alert must stay silent for fixed-server"
    );
}
