//! The two servers under the same load, scenario by scenario of `scenarios::SCENARIOS`:
//! leaky-server keeps exactly the tasks its scenario says (one per request, or per request
//! whose client gave up), fixed-server keeps none, also when clients give up mid-request.
//! Each case runs twice: in-process (`Router` + `oneshot`) and over real HTTP on
//! `127.0.0.1:0`. Connections (L7) and shutdown (L8) have tests of their own
//! (`slow_connections.rs`, `shutdown.rs`).
//!
//! Every case gets its own runtime, so the counts of cases running in parallel never mix.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use leak_probe::{Baseline, LeakCheck};
use scenarios::{Leaks, SCENARIOS, Scenario, Server, ShutdownReport, Tag};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tower::ServiceExt;

/// Requests per case: the blog's 50 concurrent requests.
const N: usize = 50;

fn app(server: Server) -> Router {
    match server {
        Server::Leaky => leaky_server::app(leaky_server::AppState::new()),
        Server::Fixed => fixed_server::app(fixed_server::AppState::new()),
    }
}

async fn serve(
    server: Server,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<ShutdownReport> {
    match server {
        Server::Leaky => leaky_server::serve(listener, shutdown).await,
        Server::Fixed => fixed_server::serve(listener, shutdown).await,
    }
}

/// What `server` answers to a scenario's request when its client waits: the status and
/// the body. (A `match` on every tag: a new scenario must say what it answers.)
fn answer(server: Server, tag: Tag) -> (u16, &'static str) {
    match (tag, server) {
        // The blog's bug: leaky-server answers the first half's sum only.
        (Tag::L1, Server::Leaky) => (200, "17"),
        (Tag::L1 | Tag::L2 | Tag::L3 | Tag::L4, _) => (200, "12"),
        (Tag::L5, _) => (504, "upstream did not answer within 100ms\n"),
        (Tag::L6, _) => (200, "worked 20 ms\n"),
        (Tag::L7, _) => unreachable!("L7 has no route"),
        (Tag::L8, _) => (202, "accepted 3 number(s)\n"),
    }
}

/// One scenario's route under load.
#[derive(Debug, Clone)]
struct Case {
    scenario: &'static Scenario,
    /// Route and query.
    path: String,
    /// The client gives up after this long (a disconnect), if set.
    give_up: Option<Duration>,
}

impl Case {
    /// Tasks each request leaves on `server`.
    fn leaks_per_request(&self, server: Server) -> usize {
        match (server, self.scenario.leaks, self.give_up) {
            (Server::Fixed, _, _) => 0,
            // A client who waits for its answer on a give-up route leaks nothing.
            (Server::Leaky, Leaks::PerRequest, None) if self.scenario.give_up().is_some() => 0,
            (Server::Leaky, Leaks::PerRequest, _) => 1,
            // Its tasks end by themselves (they are lost only at shutdown).
            (Server::Leaky, Leaks::LostAtShutdown | Leaks::PerSlowConnection, _) => 0,
        }
    }
}

/// Every scenario with a route, with clients that wait for their answers.
fn waiting() -> Vec<Case> {
    SCENARIOS
        .iter()
        .filter(|s| s.route.is_some())
        .map(|s| {
            // A route whose demo clients give up is asked for short work instead.
            let path = match s.give_up() {
                Some(_) => format!("{}?ms=20", s.route.unwrap_or_default()),
                None => s.path_and_query(),
            };
            Case {
                scenario: s,
                path,
                give_up: None,
            }
        })
        .collect()
}

/// Clients that give up mid-request: every scenario whose demo does, and an upstream
/// call left before its timeout.
fn giving_up() -> Vec<Case> {
    let mut cases: Vec<Case> = SCENARIOS
        .iter()
        .filter_map(|s| {
            Some(Case {
                scenario: s,
                path: s.path_and_query(),
                give_up: Some(s.give_up()?),
            })
        })
        .collect();
    let upstream = Tag::L5.scenario();
    cases.push(Case {
        scenario: upstream,
        path: upstream.path_and_query(),
        give_up: Some(Duration::from_millis(50)),
    });
    assert!(cases.len() >= 2);
    cases
}

/// Answers seen by the load: `Some((status, body))`, or `None` for a client that gave up.
type Answers = Vec<Option<(u16, String)>>;

/// Runs `load` on a fresh instrumented runtime and checks that exactly `expected` tasks
/// outlive it (while the server is still up, so its shared state is alive too).
fn run_case<F, Fut>(server: Server, case: &Case, transport: &str, load: F)
where
    F: FnOnce(Baseline) -> Fut,
    Fut: Future<Output = (Answers, Result<(), leak_probe::Leak>)>,
{
    let runtime = leak_probe::runtime::build({
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(2);
        b
    })
    .unwrap();
    let (answers, leaks) = runtime.block_on(async { load(Baseline::take()).await });
    runtime.shutdown_timeout(Duration::from_secs(1));

    let what = format!("{server} {} {} ({transport})", case.scenario.tag, case.path);
    if let Err(leak) = leaks {
        panic!("{what}:\n{leak}");
    }
    assert_eq!(answers.len(), N, "{what}");
    for got in answers {
        match (case.give_up, got) {
            (Some(_), None) => {}
            (Some(_), Some(got)) => panic!("{what}: the client should have given up, got {got:?}"),
            (None, None) => panic!("{what}: a request failed"),
            (None, Some((status, body))) => {
                let (want_status, want_body) = answer(server, case.scenario.tag);
                assert_eq!((status, body.as_str()), (want_status, want_body), "{what}");
            }
        }
    }
}

fn expected(server: Server, case: &Case) -> LeakCheck {
    LeakCheck::new()
        .settle(Duration::from_secs(5))
        .expect_leaked(case.leaks_per_request(server) * N)
}

/// `N` concurrent requests through `Router::oneshot`, no network involved.
fn in_process(server: Server, case: &Case) {
    run_case(server, case, "in-process", |baseline| async move {
        let app = app(server);
        let mut load = JoinSet::new();
        for _ in 0..N {
            let app = app.clone();
            let request = Request::get(&case.path).body(Body::empty()).unwrap();
            let give_up = case.give_up;
            load.spawn(async move {
                let call = async {
                    let response = app.oneshot(request).await.unwrap();
                    let status = response.status().as_u16();
                    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                        .await
                        .unwrap();
                    (status, String::from_utf8(body.to_vec()).unwrap())
                };
                match give_up {
                    // Dropping the response future is exactly what hyper does when a
                    // client disconnects.
                    Some(after) => tokio::time::timeout(after, call).await.ok(),
                    None => Some(call.await),
                }
            });
        }
        let answers = load.join_all().await;
        // `app` (and so the server's shared state) is alive while we count.
        let leaks = baseline.settle(&expected(server, case)).await;
        drop(app);
        (answers, leaks)
    });
}

/// `N` concurrent requests over HTTP to the real `serve` on `127.0.0.1:0`.
fn over_http(server: Server, case: &Case) {
    run_case(server, case, "HTTP", |_| async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let url = format!("{origin}{}", case.path);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(serve(server, listener, async {
            let _ = stopped.await;
        }));
        // The server's own tasks (its accept loop, axum's shutdown watcher) belong in the
        // baseline, but some are spawned lazily: make one request first, and wait until
        // its connection is gone.
        warm_up(&format!("{origin}/_count")).await;
        let baseline = Baseline::take();
        let client = reqwest::Client::builder()
            // No idle connections: each one closes after its response.
            .pool_max_idle_per_host(0)
            .timeout(case.give_up.unwrap_or(Duration::from_secs(10)))
            .build()
            .unwrap();
        let mut load = JoinSet::new();
        for _ in 0..N {
            let request = client.get(&url).send();
            load.spawn(async move {
                let response = request.await.ok()?;
                let status = response.status().as_u16();
                Some((status, response.text().await.ok()?))
            });
        }
        let answers = load.join_all().await;
        drop(client);
        let leaks = baseline.settle(&expected(server, case)).await;
        let _ = stop.send(());
        serving.await.unwrap().unwrap();
        (answers, leaks)
    });
}

/// One request on a connection that is closed afterwards; returns once the server is back
/// to its idle tasks (the count unchanged for 100 ms).
async fn warm_up(url: &str) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    client.get(url).send().await.unwrap();
    drop(client);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let (mut last, mut since) = (usize::MAX, tokio::time::Instant::now());
    loop {
        let now = leak_probe::live_tasks();
        if now != last {
            (last, since) = (now, tokio::time::Instant::now());
        } else if since.elapsed() >= Duration::from_millis(100) && now <= 3 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server did not settle after the warm-up: {now} tasks"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// leaky-server, in-process: one task per request on every route (none where the client
/// waits on a route whose leak needs it to give up, none where tasks end by themselves).
#[test]
fn leaky_server_leaks_one_task_per_request_in_process() {
    for case in waiting() {
        in_process(Server::Leaky, &case);
    }
}

/// fixed-server, in-process: the same load leaves no task behind.
#[test]
fn fixed_server_leaks_nothing_in_process() {
    for case in waiting() {
        in_process(Server::Fixed, &case);
    }
}

/// leaky-server over HTTP: the blog's arithmetic, 50 requests, 50 more tasks.
#[test]
fn leaky_server_leaks_one_task_per_request_over_http() {
    for case in waiting() {
        over_http(Server::Leaky, &case);
    }
}

/// fixed-server over HTTP: the same load leaves no task behind.
#[test]
fn fixed_server_leaks_nothing_over_http() {
    for case in waiting() {
        over_http(Server::Fixed, &case);
    }
}

/// Clients that give up: leaky-server keeps one task per abandoned request, fixed-server
/// none (in-process disconnects).
#[test]
fn clients_that_give_up_in_process() {
    for case in giving_up() {
        in_process(Server::Leaky, &case);
        in_process(Server::Fixed, &case);
    }
}

/// Clients that give up, over HTTP: hyper sees the disconnect and drops the handler.
#[test]
fn clients_that_give_up_over_http() {
    for case in giving_up() {
        over_http(Server::Leaky, &case);
        over_http(Server::Fixed, &case);
    }
}

/// Both routers serve every scenario that has a route (and the debug routes), so a row
/// added to the table without a handler is caught here.
#[test]
fn both_routers_serve_every_scenario() {
    LeakCheck::new()
        .settle(Duration::from_secs(5))
        .expect_leaked(
            waiting()
                .iter()
                .map(|c| c.leaks_per_request(Server::Leaky))
                .sum(),
        )
        .run(|| async {
            let mut apps = Vec::new();
            for server in Server::BOTH {
                let app = app(server);
                for case in waiting() {
                    let response = app
                        .clone()
                        .oneshot(Request::get(&case.path).body(Body::empty()).unwrap())
                        .await
                        .unwrap();
                    let (want, _) = answer(server, case.scenario.tag);
                    assert_eq!(response.status().as_u16(), want, "{server} {}", case.path);
                }
                for debug in ["/_count", "/_stack", "/_tasks", "/metrics"] {
                    let response = app
                        .clone()
                        .oneshot(Request::get(debug).body(Body::empty()).unwrap())
                        .await
                        .unwrap();
                    assert_eq!(response.status(), StatusCode::OK, "{server} {debug}");
                }
                apps.push(app);
            }
            apps
        });
}

/// Bad input on the summing routes and the work route is a 400 with a one-line reason,
/// on both servers.
#[test]
fn bad_input_gets_a_400_with_a_reason() {
    let (sum, range, abandon) = (Tag::L1.route(), Tag::L3.route(), Tag::L6.route());
    let cases: Vec<(String, &str)> = vec![
        (
            format!("{sum}?nums=1,x"),
            "number 2 (\"x\") is not an integer\n",
        ),
        (
            format!("{sum}?nums="),
            "nums is empty: give comma-separated integers, e.g. nums=1,2,3\n",
        ),
        (
            format!("{sum}?nums=1,,2"),
            "number 2 is empty (two commas in a row?)\n",
        ),
        (
            format!("{sum}?nums=99999999999999999999"),
            "number 1 (\"99999999999999999999\") is out of range for a 64-bit integer\n",
        ),
        (
            format!("{sum}?nums=9223372036854775807,1,1,1"),
            "the sum is out of range for a 64-bit integer\n",
        ),
        (
            format!("{sum}?num=1"),
            "unknown query parameter \"num\": this route takes nums=1,2,3\n",
        ),
        (format!("{sum}?nums=1&nums=2"), "nums is given twice\n"),
        (
            format!("{range}?nums=1;2"),
            "number 1 (\"1;2\") is not an integer\n",
        ),
        (
            format!("{abandon}?ms=-1"),
            "ms must be a whole number of milliseconds from 0 to 60000\n",
        ),
        (
            format!("{abandon}?ms=60001"),
            "ms must be a whole number of milliseconds from 0 to 60000\n",
        ),
        (
            "/_stack?debug=7".into(),
            "debug must be 1 (grouped) or 2 (every task), not `7`\n",
        ),
    ];
    let too_many = format!("{sum}?nums={}", vec!["1"; 1001].join(","));
    // Requests rejected before the handler runs spawn nothing, but leaky-server's sum
    // overflow case is rejected after its sum tasks started: one leaked task there.
    for (server, leaks) in [(Server::Leaky, 1), (Server::Fixed, 0)] {
        let _app = LeakCheck::new().expect_leaked(leaks).run(|| async {
            let app = app(server);
            for (path, message) in cases
                .iter()
                .map(|(p, m)| (p.as_str(), *m))
                .chain([(too_many.as_str(), "too many numbers: at most 1000\n")])
            {
                let response = app
                    .clone()
                    .oneshot(Request::get(path).body(Body::empty()).unwrap())
                    .await
                    .unwrap();
                assert_eq!(
                    response.status(),
                    StatusCode::BAD_REQUEST,
                    "{server} {path}"
                );
                let body = axum::body::to_bytes(response.into_body(), 1 << 16)
                    .await
                    .unwrap();
                assert_eq!(
                    std::str::from_utf8(&body).unwrap(),
                    message,
                    "{server} {path}"
                );
            }
            app
        });
    }
}

/// Exact sums, both halves on fixed-server, the first half only on leaky-server (the
/// blog's bug), at the limits of `i64`.
#[test]
fn sums_are_exact() {
    LeakCheck::new().expect_leaked(1).run(|| async {
        let (sum, range) = (Tag::L1.route(), Tag::L3.route());
        let cases = [
            (
                Server::Fixed,
                format!("{sum}?nums=9223372036854775807,1,-1"),
                "9223372036854775807",
            ),
            (
                Server::Fixed,
                format!("{sum}?nums=-9223372036854775808"),
                "-9223372036854775808",
            ),
            (Server::Leaky, format!("{sum}?nums=1,2,3,4"), "3"),
            (Server::Fixed, format!("{sum}?nums=1,2,3,4"), "10"),
            (Server::Fixed, format!("{range}?nums=5"), "5"),
        ];
        let mut apps = Vec::new();
        for (server, path, want) in cases {
            let app = app(server);
            let response = app
                .clone()
                .oneshot(Request::get(&path).body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{server} {path}");
            let body = axum::body::to_bytes(response.into_body(), 1 << 16)
                .await
                .unwrap();
            assert_eq!(std::str::from_utf8(&body).unwrap(), want, "{server} {path}");
            apps.push(app); // keep each server's state alive while the check counts
        }
        apps
    });
}
