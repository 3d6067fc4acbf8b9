//! The soak, short: fixed-server as its own process under the mixed load of
//! `load-client soak` for `SOAK_SECS` seconds (15 by default), then nothing left behind.
//! `scripts/soak.sh` runs the million-request one; leaky-server's tests show the same soak
//! failing there.

use std::time::Duration;

use load_client::soak::{self, Kind, SoakSpec};

const BIN: &str = env!("CARGO_BIN_EXE_fixed-server");

#[test]
fn fixed_server_soaks_without_leaving_anything_behind() {
    let secs: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let spec = SoakSpec {
        command: ["--header-timeout", "1s", "--idle-timeout", "2s"]
            .iter()
            .fold(vec![BIN.to_owned()], |mut c, a| {
                c.push((*a).to_owned());
                c
            }),
        requests: None,
        duration: Some(Duration::from_secs(secs)),
        concurrency: 64,
        slow_clients: 8,
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let report = runtime.block_on(soak::run(&spec)).unwrap();
    println!("{}{}", report.details(), report.line());

    assert!(report.ok(), "{}", report.line());
    // The line says what the verdict checked.
    assert!(report.line().starts_with("soak: ") && report.line().ends_with(": ok"));
    assert_eq!(report.errors, 0);
    assert!(report.tasks_after.abs_diff(report.tasks_before) <= soak::TASK_SLACK);
    // Every kind of client came, and each was answered the way it allows.
    for kind in [
        Kind::Route,
        Kind::BadInput,
        Kind::NotFound,
        Kind::Reset,
        Kind::Garbage,
        Kind::Oversized,
        Kind::SlowHead,
        Kind::Idle,
    ] {
        let k = &report.kinds[&kind];
        assert!(k.sent > 0 && k.ok == k.sent, "{kind:?}: {k:?}");
    }
    for code in [200, 202, 400, 404, 414, 431, 504] {
        assert!(report.status.contains_key(&code), "{:?}", report.status);
    }
    assert!(
        report.requests > 1_000,
        "a soak is load: {}",
        report.requests
    );
    // A clean stop: every save written, no task left.
    assert!(
        report.shutdown.contains(" 0 lost;") && report.shutdown.ends_with("0 task(s) left running"),
        "{}",
        report.shutdown
    );
}
