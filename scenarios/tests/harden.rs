//! The request limits both servers run under: a panicking handler is a 500 and the
//! server goes on; a slow request is a 408; a huge URI a 414; a huge body a 413; the
//! requests in flight are counted.

mod common;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use common::{call, get_req};
use leak_probe::LeakCheck;
use scenarios::harden::{InFlight, Limits, MAX_BODY_BYTES, MAX_URI_BYTES, harden};

async fn boom() -> &'static str {
    panic!("boom")
}

/// A handler that panics answers 500, and the next request is served as usual.
#[test]
fn a_panicking_handler_is_a_500_not_a_crash() {
    LeakCheck::new().run(|| async {
        let app = harden(
            Router::new()
                .route("/boom", get(boom))
                .route("/fine", get(|| async { "fine" })),
            Limits::default(),
            &InFlight::default(),
        );
        assert_eq!(
            call(&app, get_req("/boom")).await,
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error: the handler panicked\n".into()
            )
        );
        assert_eq!(
            call(&app, get_req("/fine")).await,
            (StatusCode::OK, "fine".into())
        );
    });
}

/// A request that runs past the limit is answered 408, and leaves nothing running.
#[test]
fn a_slow_request_is_a_408_and_leaves_nothing() {
    LeakCheck::new().run(|| async {
        let app = harden(
            Router::new().route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    "late"
                }),
            ),
            Limits {
                request_timeout: Duration::from_millis(50),
                ..Limits::default()
            },
            &InFlight::default(),
        );
        assert_eq!(
            call(&app, get_req("/slow")).await.0,
            StatusCode::REQUEST_TIMEOUT
        );
    });
}

/// A too-long URI is a 414, a too-large body a 413; within the limits, requests are
/// served, and each is counted in flight while it runs.
#[test]
fn oversized_requests_are_refused_with_a_reason() {
    LeakCheck::new().run(|| async {
        let in_flight = InFlight::default();
        let (entered, mut inside) = tokio::sync::mpsc::channel::<()>(1);
        let (release, released) = tokio::sync::watch::channel(false);
        let app = harden(
            Router::new()
                .route("/echo", get(|| async { "echo" }))
                .route(
                    "/held",
                    get(move || async move {
                        let _ = entered.send(()).await;
                        let _ = released.clone().wait_for(|go| *go).await;
                        "released"
                    }),
                ),
            Limits::default(),
            &in_flight,
        );
        let long = format!("/echo?q={}", "1,".repeat(MAX_URI_BYTES / 2));
        let (status, message) = call(&app, get_req(&long)).await;
        assert_eq!(status, StatusCode::URI_TOO_LONG, "{message}");
        assert!(message.contains("at most 8192 are accepted"), "{message}");

        let big = Request::get("/echo")
            .header("content-length", (MAX_BODY_BYTES + 1).to_string())
            .body(Body::from(vec![b'x'; MAX_BODY_BYTES + 1]))
            .unwrap();
        assert_eq!(call(&app, big).await.0, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            call(&app, get_req("/echo")).await,
            (StatusCode::OK, "echo".into())
        );

        assert_eq!(in_flight.now(), 0);
        let held = tokio::spawn({
            let app = app.clone();
            async move { call(&app, get_req("/held")).await }
        });
        inside.recv().await.unwrap();
        assert_eq!(in_flight.now(), 1, "the held request is in flight");
        release.send(true).unwrap();
        assert_eq!(held.await.unwrap().1, "released");
        assert_eq!(in_flight.now(), 0);
    });
}

/// Past `max_concurrent`, a request waits for a slot (counted in flight meanwhile) and
/// runs when one is given back; one that waits longer than the request timeout is a 408.
#[test]
fn requests_past_the_concurrency_limit_wait_for_a_slot() {
    LeakCheck::new().run(|| async {
        let in_flight = InFlight::default();
        let (entered, mut inside) = tokio::sync::mpsc::channel::<&'static str>(4);
        let (release, released) = tokio::sync::watch::channel(false);
        let app = harden(
            Router::new().route(
                "/held",
                get(move || async move {
                    let _ = entered.send("entered").await;
                    let _ = released.clone().wait_for(|go| *go).await;
                    "released"
                }),
            ),
            Limits {
                request_timeout: Duration::from_millis(300),
                max_concurrent: 1,
            },
            &in_flight,
        );
        let spawn_call = || {
            let app = app.clone();
            tokio::spawn(async move { call(&app, get_req("/held")).await })
        };
        let first = spawn_call();
        inside.recv().await.unwrap();
        // The second waits for the first's slot: in flight, but not in the handler.
        let second = spawn_call();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(in_flight.now(), 2, "one running, one waiting");
        assert!(inside.try_recv().is_err(), "the second must not run yet");
        release.send(true).unwrap();
        assert_eq!(first.await.unwrap(), (StatusCode::OK, "released".into()));
        assert_eq!(
            inside.recv().await,
            Some("entered"),
            "the second got the slot"
        );
        assert_eq!(second.await.unwrap(), (StatusCode::OK, "released".into()));
        assert_eq!(in_flight.now(), 0);

        // A request that never gets a slot times out like any other.
        release.send(false).unwrap();
        let holder = spawn_call();
        inside.recv().await.unwrap();
        assert_eq!(
            call(&app, get_req("/held")).await.0,
            StatusCode::REQUEST_TIMEOUT,
            "waited past the request timeout"
        );
        assert_eq!(holder.await.unwrap().0, StatusCode::REQUEST_TIMEOUT);
        assert_eq!(
            in_flight.now(),
            0,
            "the slot and the waiter are both given back"
        );
    });
}
