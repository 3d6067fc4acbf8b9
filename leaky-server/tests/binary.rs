//! The `leaky-server` binary itself: it serves, leaks as advertised, and exits 0 on
//! SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_leaky-server");

/// A minimal HTTP/1.1 GET: `(status, body)`.
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The blog's session by hand: `/_count`, the sum route twice, `/_count` again; then
/// SIGTERM, and the shutdown line.
#[test]
fn serves_leaks_and_exits_0_on_sigterm() {
    let mut child = Command::new(BIN)
        .args(["--addr", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();

    let count = |addr: &str| get(addr, "/_count").1.parse::<usize>().unwrap();
    let before = count(&addr);
    let sum = scenarios::Tag::L1.route();
    assert_eq!(get(&addr, sum), (200, "17".into()));
    assert_eq!(get(&addr, sum), (200, "17".into()));
    // Connection tasks end a moment after each response: wait for the count to settle.
    let deadline = Instant::now() + Duration::from_secs(5);
    while count(&addr) != before + 2 {
        assert!(
            Instant::now() < deadline,
            "count never reached {}",
            before + 2
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "{status}");
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("leaky-server: shutdown in "), "{rest}");
    assert!(rest.contains("tasks not tracked"), "{rest}");
}
