//! The two servers under the same load, route by route: leaky-server keeps exactly one
//! task per request (for `/abandon`, per request whose client gave up), fixed-server
//! keeps none, also when clients give up mid-request. Each case runs twice: in-process
//! (`Router` + `oneshot`) and over real HTTP on `127.0.0.1:0`.
//!
//! Every case gets its own runtime, so the counts of cases running in parallel never mix.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use leak_probe::{Baseline, LeakCheck};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tower::ServiceExt;

/// Requests per case: the blog's 50 concurrent requests.
const N: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    Leaky,
    Fixed,
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Server::Leaky => "leaky-server",
            Server::Fixed => "fixed-server",
        })
    }
}

impl Server {
    fn app(self) -> Router {
        match self {
            Server::Leaky => leaky_server::app(leaky_server::AppState::new()),
            Server::Fixed => fixed_server::app(fixed_server::AppState::new()),
        }
    }

    async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        match self {
            Server::Leaky => leaky_server::serve(listener, shutdown).await,
            Server::Fixed => fixed_server::serve(listener, shutdown).await,
        }
    }
}

/// One route under load, and what each server must answer.
#[derive(Debug, Clone, Copy)]
struct Case {
    path: &'static str,
    /// The client gives up after this long (a disconnect), if set.
    give_up: Option<Duration>,
    /// Tasks leaky-server keeps per request.
    leaky_leaks: usize,
    /// Expected `(status, body)` from leaky and fixed, when the client waits.
    leaky_answer: (u16, &'static str),
    fixed_answer: (u16, &'static str),
}

const fn case(path: &'static str, leaky: &'static str, fixed: &'static str) -> Case {
    Case {
        path,
        give_up: None,
        leaky_leaks: 1,
        leaky_answer: (200, leaky),
        fixed_answer: (200, fixed),
    }
}

/// Every route, with clients that wait for their answers.
const WAITING: [Case; 6] = [
    case("/sum", "17", "12"),
    case("/select", "12", "12"),
    case("/range", "12", "12"),
    case("/heartbeat", "12", "12"),
    Case {
        leaky_answer: (504, "upstream did not answer within 100ms\n"),
        fixed_answer: (504, "upstream did not answer within 100ms\n"),
        ..case("/upstream", "", "")
    },
    // A client who waits for its answer leaks nothing, even on leaky-server.
    Case {
        leaky_leaks: 0,
        ..case("/abandon?ms=20", "worked 20 ms\n", "worked 20 ms\n")
    },
];

/// Clients that give up mid-request.
const GIVING_UP: [Case; 2] = [
    // The work (300 ms) outlives the client (50 ms) on leaky-server, then stays stuck.
    Case {
        give_up: Some(Duration::from_millis(50)),
        ..case("/abandon?ms=300", "", "")
    },
    // The client leaves before the 100 ms upstream timeout.
    Case {
        give_up: Some(Duration::from_millis(50)),
        ..case("/upstream", "", "")
    },
];

/// Answers seen by the load: `Some((status, body))`, or `None` for a client that gave up.
type Answers = Vec<Option<(u16, String)>>;

/// Runs `load` on a fresh instrumented runtime and checks that exactly `expected` tasks
/// outlive it (while the server is still up, so its shared state is alive too).
fn run_case<F, Fut>(server: Server, case: Case, transport: &str, load: F)
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

    let what = format!("{server} {} ({transport})", case.path);
    if let Err(leak) = leaks {
        panic!("{what}:\n{leak}");
    }
    assert_eq!(answers.len(), N, "{what}");
    for answer in answers {
        match (case.give_up, answer) {
            (Some(_), None) => {}
            (Some(_), Some(got)) => panic!("{what}: the client should have given up, got {got:?}"),
            (None, None) => panic!("{what}: a request failed"),
            (None, Some((status, body))) => {
                let (want_status, want_body) = match server {
                    Server::Leaky => case.leaky_answer,
                    Server::Fixed => case.fixed_answer,
                };
                assert_eq!((status, body.as_str()), (want_status, want_body), "{what}");
            }
        }
    }
}

fn expected(server: Server, case: Case) -> LeakCheck {
    let per_request = match server {
        Server::Leaky => case.leaky_leaks,
        Server::Fixed => 0,
    };
    LeakCheck::new()
        .settle(Duration::from_secs(5))
        .expect_leaked(per_request * N)
}

/// `N` concurrent requests through `Router::oneshot`, no network involved.
fn in_process(server: Server, case: Case) {
    run_case(server, case, "in-process", |baseline| async move {
        let app = server.app();
        let mut load = JoinSet::new();
        for _ in 0..N {
            let app = app.clone();
            let request = Request::get(case.path).body(Body::empty()).unwrap();
            load.spawn(async move {
                let call = async {
                    let response = app.oneshot(request).await.unwrap();
                    let status = response.status().as_u16();
                    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                        .await
                        .unwrap();
                    (status, String::from_utf8(body.to_vec()).unwrap())
                };
                match case.give_up {
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
fn over_http(server: Server, case: Case) {
    run_case(server, case, "HTTP", |_| async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let url = format!("{origin}{}", case.path);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(server.serve(listener, async {
            let _ = stopped.await;
        }));
        // The server's own tasks (its accept loop, axum's shutdown watcher) belong in the
        // baseline, but axum spawns some of them lazily: make one request first, and
        // wait until its connection is gone.
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
/// to its idle tasks: the serving task and axum's shutdown watcher.
async fn warm_up(url: &str) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    client.get(url).send().await.unwrap();
    drop(client);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while leak_probe::live_tasks() != 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server did not settle after the warm-up: {} tasks",
            leak_probe::live_tasks()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// leaky-server, in-process: one task per request on every route (none on `/abandon`
/// when the client waits).
#[test]
fn leaky_server_leaks_one_task_per_request_in_process() {
    for case in WAITING {
        in_process(Server::Leaky, case);
    }
}

/// fixed-server, in-process: the same load leaves no task behind.
#[test]
fn fixed_server_leaks_nothing_in_process() {
    for case in WAITING {
        in_process(Server::Fixed, case);
    }
}

/// leaky-server over HTTP: the blog's arithmetic, 50 requests, 50 more tasks.
#[test]
fn leaky_server_leaks_one_task_per_request_over_http() {
    for case in WAITING {
        over_http(Server::Leaky, case);
    }
}

/// fixed-server over HTTP: the same load leaves no task behind.
#[test]
fn fixed_server_leaks_nothing_over_http() {
    for case in WAITING {
        over_http(Server::Fixed, case);
    }
}

/// Clients that give up: leaky-server keeps one task per abandoned request, fixed-server
/// none (in-process disconnects).
#[test]
fn clients_that_give_up_in_process() {
    for case in GIVING_UP {
        in_process(Server::Leaky, case);
        in_process(Server::Fixed, case);
    }
}

/// Clients that give up, over HTTP: hyper sees the disconnect and drops the handler.
#[test]
fn clients_that_give_up_over_http() {
    for case in GIVING_UP {
        over_http(Server::Leaky, case);
        over_http(Server::Fixed, case);
    }
}

/// Bad input on `/sum` (and the other summing routes) is a 400 with a one-line reason, on
/// both servers.
#[test]
fn bad_input_gets_a_400_with_a_reason() {
    let cases = [
        ("/sum?nums=1,x", "number 2 (\"x\") is not an integer\n"),
        (
            "/sum?nums=",
            "nums is empty: give comma-separated integers, e.g. nums=1,2,3\n",
        ),
        (
            "/sum?nums=1,,2",
            "number 2 is empty (two commas in a row?)\n",
        ),
        (
            "/sum?nums=99999999999999999999",
            "number 1 (\"99999999999999999999\") is out of range for a 64-bit integer\n",
        ),
        (
            "/sum?nums=9223372036854775807,1,1,1",
            "the sum is out of range for a 64-bit integer\n",
        ),
        (
            "/sum?num=1",
            "unknown query parameter \"num\": this route takes nums=1,2,3\n",
        ),
        ("/sum?nums=1&nums=2", "nums is given twice\n"),
        ("/range?nums=1;2", "number 1 (\"1;2\") is not an integer\n"),
        (
            "/abandon?ms=-1",
            "ms must be a whole number of milliseconds from 0 to 60000\n",
        ),
        (
            "/abandon?ms=60001",
            "ms must be a whole number of milliseconds from 0 to 60000\n",
        ),
        (
            "/_stack?debug=7",
            "debug must be 1 (grouped) or 2 (every task), not `7`\n",
        ),
    ];
    let too_many = format!("/sum?nums={}", vec!["1"; 1001].join(","));
    // Requests rejected before the handler runs spawn nothing, but leaky-server's /sum
    // overflow case is rejected after its sum tasks started: one leaked task there.
    for (server, leaks) in [(Server::Leaky, 1), (Server::Fixed, 0)] {
        let _app = LeakCheck::new().expect_leaked(leaks).run(|| async {
            let app = server.app();
            for (path, message) in cases
                .iter()
                .copied()
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
        let cases = [
            (
                Server::Fixed,
                "/sum?nums=9223372036854775807,1,-1",
                "9223372036854775807",
            ),
            (
                Server::Fixed,
                "/sum?nums=-9223372036854775808",
                "-9223372036854775808",
            ),
            (Server::Leaky, "/sum?nums=1,2,3,4", "3"),
            (Server::Fixed, "/sum?nums=1,2,3,4", "10"),
            (Server::Fixed, "/range?nums=5", "5"),
        ];
        let mut apps = Vec::new();
        for (server, path, want) in cases {
            let app = server.app();
            let response = app
                .clone()
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
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
