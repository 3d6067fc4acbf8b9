//! fixed-server's side of `leaky-server/tests/live_tools.rs`: the same two rounds of 50
//! requests on each of the five routes that leak there leave no suspect here, and
//! load-client's verdict names no site.

use load_client::process::ServerProcess;
use load_client::run::{self, RunSpec, Verdict};
use scenarios::Tag;

const BIN: &str = env!("CARGO_BIN_EXE_fixed-server");

#[test]
fn leaks_names_no_site_after_the_same_load() {
    if !leak_probe::runtime::HAS_REGISTRY {
        eprintln!("skipped: built without tokio_unstable, no spawn sites to watch");
        return;
    }
    let server = ServerProcess::start(&[BIN.into()]).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for tag in [Tag::L1, Tag::L2, Tag::L3, Tag::L4, Tag::L5] {
            let spec = RunSpec::rounds(server.url(tag.route()), server.url("/_count"), 2, 50, 50);
            let report = run::run_quietly(&spec).await.unwrap();
            assert_eq!(report.total.answered, 100, "{report:?}");
            assert_eq!(report.total.verdict, Verdict::NoLeak, "{report:?}");
            assert!(report.total.leaking_at.is_empty(), "{report:?}");
        }
        let body = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .get(server.url("/_leaks"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let leaks: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(leaks["suspects"], serde_json::json!([]), "{leaks:#}");
        // The sites were watched: the requests' own tasks came and went.
        assert!(
            leaks["sites"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["site"].as_str().unwrap().starts_with("fixed-server/src/")),
            "{leaks:#}"
        );
        assert!(leaks["sampled_ms"].as_u64().unwrap() > 1000, "{leaks:#}");
    });
}
