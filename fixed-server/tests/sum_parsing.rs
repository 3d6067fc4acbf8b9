//! Property tests of the sum route's query parsing, on both servers: whatever the query, the
//! answer is a 200 or a 400 with a one-line reason, never a 5xx or a panic; and for
//! numbers, the answer is the exact sum or "out of range", never a wrapped one.

use axum::body::Body;
use axum::http::Request;
use proptest::prelude::*;
use scenarios::Tag;
use tower::ServiceExt;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn get(rt: &tokio::runtime::Runtime, app: &axum::Router, uri: &str) -> (u16, String) {
    rt.block_on(async {
        let request = Request::get(uri).body(Body::empty()).unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    })
}

/// Percent-encodes everything but unreserved characters, so any string is a valid query.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b',' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Any `nums` value: a 200 or a 400 with one line, never a 5xx.
    #[test]
    fn any_query_is_a_200_or_a_400(raw in ".{0,60}", numbery in "[-0-9, ]{0,40}") {
        let rt = runtime();
        let app = fixed_server::app(fixed_server::AppState::new());
        for value in [raw.as_str(), numbery.as_str()] {
            let (status, body) = get(&rt, &app, &format!("{}?nums={}", Tag::L1.route(), encode(value)));
            prop_assert!(status == 200 || status == 400, "{value:?} -> {status} {body:?}");
            prop_assert!(body.ends_with('\n') == (status == 400), "{value:?} -> {body:?}");
            prop_assert_eq!(body.trim_end().lines().count(), 1);
        }
    }

    /// Lists of integers: the exact sum (both halves, fixed-server), or "out of range"
    /// exactly when the true sum does not fit in an i64.
    #[test]
    fn sums_are_exact_or_out_of_range(nums in prop::collection::vec(any::<i64>(), 1..40)) {
        let rt = runtime();
        let app = fixed_server::app(fixed_server::AppState::new());
        let list: Vec<String> = nums.iter().map(i64::to_string).collect();
        let (status, body) = get(&rt, &app, &format!("{}?nums={}", Tag::L1.route(), list.join(",")));
        let exact: i128 = nums.iter().map(|&n| i128::from(n)).sum();
        match i64::try_from(exact) {
            Ok(sum) => prop_assert_eq!((status, body), (200, sum.to_string())),
            Err(_) => prop_assert_eq!(
                (status, body),
                (400, "the sum is out of range for a 64-bit integer\n".to_owned())
            ),
        }
    }
}
