//! Hostile clients against the fixed-server binary, each in its own process: more clients
//! than it has file descriptors, clients that reset mid-request on every route, and
//! requests that are not HTTP or far too big. After each, the server still answers and
//! its live task count is back to where it was.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use load_client::count::Counter;
use load_client::process::ServerProcess;
use load_client::soak::{malformed_requests, send_raw};
use scenarios::{SCENARIOS, Tag};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BIN: &str = env!("CARGO_BIN_EXE_fixed-server");

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The live count once it has not moved for a second (at most 15 s).
async fn settled(counter: &Counter) -> usize {
    let started = Instant::now();
    let mut last = counter.read().await.unwrap();
    let mut since = Instant::now();
    while since.elapsed() < Duration::from_secs(1) && started.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = counter.read().await.unwrap();
        if now != last {
            (last, since) = (now, Instant::now());
        }
    }
    last
}

/// The sum of `1,2,3` is answered, `6`, within two seconds.
async fn sum_answers(addr: SocketAddr) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let response = client
        .get(format!("http://{addr}{}?nums=1,2,3", Tag::L1.route()))
        .send()
        .await
        .expect("the server still answers");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "6");
}

/// One client that holds a keep-alive connection: a request, its answer, then a second
/// of silence. `Ok(status)`, or why not.
async fn client_that_holds(addr: SocketAddr) -> Result<u16, String> {
    let work = async {
        let mut stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let request = format!(
            "GET {}?nums=1,2 HTTP/1.1\r\nhost: x\r\n\r\n",
            Tag::L1.route()
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut buf = [0u8; 512];
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| format!("read: {e}"))?;
        let status = std::str::from_utf8(&buf[..n])
            .ok()
            .and_then(|t| t.get(9..12))
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("no status line in {n} bytes"))?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok(status)
    };
    tokio::time::timeout(Duration::from_secs(30), work)
        .await
        .map_err(|_| "no answer within 30 s".to_owned())?
}

/// 600 clients at once against a server limited to 256 file descriptors: it cannot
/// accept them all, waits for descriptors instead of failing or spinning, answers every
/// client it accepts with a 200, and afterwards answers and is back to its count.
#[test]
fn more_clients_than_file_descriptors() {
    let server = ServerProcess::start(&[
        "sh".into(),
        "-c".into(),
        r#"ulimit -n 256 && exec "$0" "$@""#.into(),
        BIN.into(),
    ])
    .unwrap();
    runtime().block_on(async {
        let counter = Counter::new(server.url("/_count"));
        let before = settled(&counter).await;
        let clients: Vec<_> = (0..600)
            .map(|_| tokio::spawn(client_that_holds(server.addr)))
            .collect();
        let (mut ok, mut other) = (0, Vec::new());
        for client in clients {
            match client.await.unwrap() {
                Ok(200) => ok += 1,
                outcome => other.push(outcome),
            }
        }
        println!(
            "600 clients, 256 descriptors: {ok} answered 200; others: {:?}",
            &other[..other.len().min(5)]
        );
        // Every client gets its answer eventually: those the server could not accept at
        // once wait in the listen queue until descriptors free up.
        assert_eq!(ok, 600, "{other:?}");
        assert!(
            server
                .lines()
                .iter()
                .any(|l| l.contains("accept failed") && l.contains("retrying")),
            "the server ran out of descriptors (else this test tests nothing): {:?}",
            server.lines()
        );
        sum_answers(server.addr).await;
        assert_eq!(settled(&counter).await, before, "back to its count");
    });
}

/// 180 clients that reset their connection (an RST) mid-request, on every route: none
/// leaves a task behind, and the server answers afterwards.
#[test]
fn clients_that_reset_mid_request_leave_nothing() {
    let server = ServerProcess::start(&[BIN.into()]).unwrap();
    runtime().block_on(async {
        let counter = Counter::new(server.url("/_count"));
        let before = settled(&counter).await;
        let routes: Vec<String> = SCENARIOS
            .iter()
            .filter(|s| s.route.is_some())
            .map(|s| s.path_and_query())
            .collect();
        let clients: Vec<_> = (0..180)
            .map(|i| {
                let request = Arc::new(
                    format!(
                        "GET {} HTTP/1.1\r\nhost: x\r\n\r\n",
                        routes[i % routes.len()]
                    )
                    .into_bytes(),
                );
                // Reset at once, or while the handler runs.
                let after = Duration::from_millis([0, 5, 20][i % 3]);
                let addr = server.addr;
                tokio::spawn(async move { send_raw(addr, &request, Some(after), None).await })
            })
            .collect();
        for client in clients {
            client.await.unwrap().expect("connected and reset");
        }
        sum_answers(server.addr).await;
        assert_eq!(settled(&counter).await, before, "nothing left behind");
    });
}

/// Bytes that are not HTTP get a 400 (or a closed connection), a 1 MiB header a 431, a
/// 16 KiB URI a 414, a 2 MiB body a 413; the server answers afterwards, nothing left.
#[test]
fn malformed_and_oversized_requests_are_refused() {
    let server = ServerProcess::start(&[BIN.into()]).unwrap();
    runtime().block_on(async {
        let counter = Counter::new(server.url("/_count"));
        let before = settled(&counter).await;
        let sum = Tag::L1.route();
        for bad in malformed_requests(sum) {
            let outcome = send_raw(server.addr, &bad.bytes, None, bad.status).await;
            assert!(outcome.is_ok(), "{}: {outcome:?}", bad.what);
            sum_answers(server.addr).await;
        }
        assert_eq!(settled(&counter).await, before, "nothing left behind");
    });
}

/// A request head is read up to `MAX_HEAD_BYTES` (32 KiB): a head 1 KiB under it is
/// served, one 1 KiB over it is refused with a 431 (hyper's default, which leaky-server
/// keeps, would read about 400 KB of it), and so is one that goes on and never ends.
#[test]
fn a_request_head_is_read_up_to_its_limit() {
    let server = ServerProcess::start(&[BIN.into()]).unwrap();
    let head = |total: usize| {
        let start = format!(
            "GET {}?nums=1,2,3 HTTP/1.1\r\nhost: x\r\nx-pad: ",
            Tag::L1.route()
        );
        let pad = total - start.len() - "\r\n\r\n".len();
        format!("{start}{}\r\n\r\n", "a".repeat(pad)).into_bytes()
    };
    let limit = fixed_server::conn::MAX_HEAD_BYTES;
    runtime().block_on(async {
        let under = send_raw(server.addr, &head(limit - 1024), None, Some(200)).await;
        assert!(under.is_ok(), "a head of {} bytes: {under:?}", limit - 1024);
        let over = send_raw(server.addr, &head(limit + 1024), None, Some(431)).await;
        assert!(over.is_ok(), "a head of {} bytes: {over:?}", limit + 1024);
        // A head that never ends is refused once it is over the limit, not held until
        // its deadline (10 s).
        let mut endless = head(limit + 1024);
        endless.truncate(endless.len() - "\r\n\r\n".len());
        let asked = Instant::now();
        let endless = send_raw(server.addr, &endless, None, Some(431)).await;
        assert!(endless.is_ok(), "a head that never ends: {endless:?}");
        assert!(
            asked.elapsed() < Duration::from_secs(5),
            "{:?}",
            asked.elapsed()
        );
        sum_answers(server.addr).await;
    });
}
