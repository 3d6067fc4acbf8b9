//! Shutdown (L8). fixed-server's is bounded: requests that can finish within the deadline
//! do, every accepted save is written, requests still running at the deadline are
//! cancelled (503), and when `serve` returns nothing the server started is left running.
//! leaky-server's, under the same load, waits as long as its slowest request and returns
//! while accepted saves are still unwritten: they are lost when the runtime goes.

use std::future::Future;
use std::time::{Duration, Instant};

use leak_probe::LeakCheck;
use scenarios::saves::WRITE_DELAY;
use scenarios::{SCENARIOS, Server, ShutdownReport, Tag};
use tokio::net::TcpListener;

/// Requests per case.
const N: usize = 20;

/// A server of either kind on `127.0.0.1:0`, with fixed-server's shutdown deadline set.
async fn start(
    server: Server,
    deadline: Duration,
) -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<ShutdownReport>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let stopped = async {
        let _ = stopped.await;
    };
    let serving = match server {
        Server::Leaky => tokio::spawn(leaky_server::serve(listener, stopped)),
        Server::Fixed => tokio::spawn(fixed_server::serve_with(
            listener,
            stopped,
            fixed_server::Config {
                shutdown_timeout: fixed_server::server::ShutdownTimeout(deadline),
                ..Default::default()
            },
        )),
    };
    (origin, stop, serving)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// Runs `body` on a fresh runtime and drops the runtime afterwards, as `main` does when
/// `serve` returns.
fn on_own_runtime<F: Future>(body: F) -> F::Output {
    let runtime = leak_probe::runtime::build(tokio::runtime::Builder::new_multi_thread()).unwrap();
    let output = runtime.block_on(body);
    runtime.shutdown_timeout(Duration::from_millis(100));
    output
}

/// Saves accepted just before the signal: fixed-server writes every one before `serve`
/// returns; leaky-server returns at once and every one of them is lost with the runtime.
#[test]
fn saves_accepted_before_shutdown_are_written_or_lost() {
    let save = Tag::L8.scenario().path_and_query();
    for server in Server::BOTH {
        let report = on_own_runtime(async {
            let (origin, stop, serving) = start(server, Duration::from_secs(5)).await;
            let client = client();
            let mut load = tokio::task::JoinSet::new();
            for _ in 0..N {
                load.spawn(client.get(format!("{origin}{save}")).send());
            }
            for answer in load.join_all().await {
                assert_eq!(answer.unwrap().status(), 202, "{server}");
            }
            let signalled = Instant::now();
            stop.send(()).unwrap();
            let report = serving.await.unwrap().unwrap();
            assert!(
                signalled.elapsed() < WRITE_DELAY + Duration::from_secs(2),
                "{server}: {report}"
            );
            report
        });
        assert_eq!(report.saves_accepted, N as u64, "{server}: {report}");
        match server {
            Server::Leaky => {
                assert_eq!(report.saves_lost(), N as u64, "{server}: {report}");
                assert_eq!(report.tasks_left_running, None, "{server}: {report}");
                assert!(report.took < WRITE_DELAY, "{server}: {report}");
            }
            Server::Fixed => {
                assert_eq!(report.saves_written, N as u64, "{server}: {report}");
                assert!(report.drained, "{server}: {report}");
                assert_eq!(report.tasks_left_running, Some(0), "{server}: {report}");
            }
        }
    }
}

/// A slow request in flight at the signal: leaky-server waits as long as it takes (no
/// deadline), fixed-server cancels it at its deadline with a 503.
#[test]
fn a_slow_request_holds_leaky_shutdown_but_not_fixed() {
    let slow = format!("{}?ms=1500", Tag::L6.route());
    let deadline = Duration::from_millis(300);
    for server in Server::BOTH {
        let (report, answer, took) = on_own_runtime(async {
            let (origin, stop, serving) = start(server, deadline).await;
            let request = tokio::spawn(client().get(format!("{origin}{slow}")).send());
            tokio::time::sleep(Duration::from_millis(100)).await;
            let signalled = Instant::now();
            stop.send(()).unwrap();
            let report = serving.await.unwrap().unwrap();
            let took = signalled.elapsed();
            let answer = request.await.unwrap().unwrap();
            (report, answer.status().as_u16(), took)
        });
        assert_eq!(report.requests_in_flight, 1, "{server}: {report}");
        match server {
            Server::Leaky => {
                assert_eq!(answer, 200, "{server}: the request ran to its end");
                assert!(took >= Duration::from_millis(1300), "{server}: {took:?}");
            }
            Server::Fixed => {
                assert_eq!(answer, 503, "{server}: cancelled at the deadline");
                assert_eq!(report.requests_cancelled, 1, "{server}: {report}");
                assert!(!report.drained, "{server}: {report}");
                assert!(
                    took < deadline + Duration::from_millis(700),
                    "{server}: {took:?}"
                );
            }
        }
    }
}

/// Two slow requests in flight at the signal: one finishes within the deadline, one is
/// cancelled; nothing is left running.
#[test]
fn graceful_shutdown_drains_then_cancels_within_its_deadline() {
    let deadline = Duration::from_millis(500);
    let work = Tag::L6.route();
    LeakCheck::new().run(|| async move {
        let (origin, stop, serving) = start(Server::Fixed, deadline).await;
        let client = client();
        // Finishes 300 ms in: within the deadline.
        let quick = tokio::spawn(client.get(format!("{origin}{work}?ms=300")).send());
        // Would take 10 s: cancelled at the deadline.
        let slow = tokio::spawn(client.get(format!("{origin}{work}?ms=10000")).send());
        tokio::time::sleep(Duration::from_millis(50)).await;

        let signalled = Instant::now();
        stop.send(()).unwrap();

        let quick = quick.await.unwrap().unwrap();
        assert_eq!(quick.status(), 200);
        assert_eq!(quick.text().await.unwrap(), "worked 300 ms\n");

        let slow = slow.await.unwrap().unwrap();
        assert_eq!(slow.status(), 503);
        assert_eq!(
            slow.text().await.unwrap(),
            "the server is shutting down and cancelled this request\n"
        );

        let report = serving.await.unwrap().unwrap();
        let took = signalled.elapsed();
        assert!(!report.drained, "{report:?}");
        assert_eq!(report.tasks_left_running, Some(0), "{report:?}");
        assert_eq!(report.requests_in_flight, 2, "{report:?}");
        assert_eq!(report.requests_cancelled, 1, "{report:?}");
        assert!(
            took < deadline + Duration::from_millis(400),
            "shutdown took {took:?} for a {deadline:?} deadline"
        );

        // New connections are refused once the server is gone.
        assert!(client.get(format!("{origin}/_count")).send().await.is_err());
        // The LeakCheck around this body proves no task is left.
    });
}

/// A client part way through a request head at the signal: the drain waits for it (it may
/// finish and be served), and at the deadline its connection closes; nothing is left
/// running and shutdown takes the deadline, not the head's 10 s.
#[test]
fn a_half_sent_head_is_closed_at_the_shutdown_deadline() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let deadline = Duration::from_millis(500);
    LeakCheck::new().run(|| async move {
        let (origin, stop, serving) = start(Server::Fixed, deadline).await;
        let addr = origin.trim_start_matches("http://").to_owned();
        let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
        slow.write_all(b"GET /_count HTTP/1.1\r\nHost: t\r\n")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;

        let signalled = Instant::now();
        stop.send(()).unwrap();
        let report = serving.await.unwrap().unwrap();
        let took = signalled.elapsed();
        assert!(!report.drained, "the half head held the drain: {report:?}");
        assert_eq!(report.tasks_left_running, Some(0), "{report:?}");
        assert_eq!(report.requests_in_flight, 0, "{report:?}");
        assert!(
            took < deadline + Duration::from_millis(400),
            "shutdown took {took:?} for a {deadline:?} deadline"
        );
        // The server closed it, with no answer: no request was in flight.
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(2), slow.read_to_end(&mut rest)).await;
        assert!(
            matches!(read, Ok(Ok(0)) | Ok(Err(_))),
            "closed without an answer: {read:?}, {:?}",
            String::from_utf8_lossy(&rest)
        );
    });
}

/// With nothing slow in flight, shutdown is immediate and everything drains.
#[test]
fn shutdown_without_slow_requests_drains_at_once() {
    LeakCheck::new().run(|| async {
        let (origin, stop, serving) = start(Server::Fixed, Duration::from_secs(5)).await;
        let client = reqwest::Client::new();
        for scenario in SCENARIOS
            .iter()
            .filter(|s| s.route.is_some() && s.give_up().is_none())
        {
            let answer = client
                .get(format!("{origin}{}", scenario.path_and_query()))
                .send()
                .await
                .unwrap();
            assert_ne!(answer.status(), 404, "{}", scenario.tag);
        }
        drop(client);
        stop.send(()).unwrap();
        let report = serving.await.unwrap().unwrap();
        assert!(report.drained, "{report:?}");
        assert_eq!(report.tasks_left_running, Some(0), "{report:?}");
        assert_eq!(report.saves_lost(), 0, "{report:?}");
        // The one save waits for its batch: shutdown drains it.
        assert!(
            report.took < WRITE_DELAY + Duration::from_secs(1),
            "{report:?}"
        );
    });
}
