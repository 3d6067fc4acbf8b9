//! The `fixed-server` binary itself: flags, `--help`, and a clean exit on SIGTERM with a
//! slow request in flight.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_fixed-server");

/// Starts the binary on a free loopback port; returns it and its address.
fn start(extra: &[&str]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["--addr", "127.0.0.1:0"])
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stderr.read_to_string(&mut rest);
        eprint!("{rest}");
    });
    (child, addr)
}

/// A minimal HTTP/1.1 GET: `(status, body)`.
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
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

fn sigterm(child: &Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -TERM failed");
}

fn wait_with_deadline(child: &mut Child, deadline: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            panic!("the server did not exit within {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// SIGTERM with a slow request in flight: the request is cancelled at the 300 ms deadline
/// (503), and the process exits 0 soon after.
#[test]
fn sigterm_cancels_slow_requests_at_the_deadline_and_exits_0() {
    let (mut child, addr) = start(&["--shutdown-timeout", "300ms"]);
    assert_eq!(get(&addr, scenarios::Tag::L1.route()), (200, "12".into()));
    let slow = {
        let addr = addr.clone();
        let slow = format!("{}?ms=10000", scenarios::Tag::L6.route());
        std::thread::spawn(move || get(&addr, &slow))
    };
    std::thread::sleep(Duration::from_millis(100));
    let signalled = Instant::now();
    sigterm(&child);
    let status = wait_with_deadline(&mut child, Duration::from_secs(3));
    assert!(status.success(), "exit status {status}");
    assert!(signalled.elapsed() < Duration::from_millis(300 + 1000));
    assert_eq!(slow.join().unwrap().0, 503);
}

/// Bad flags: a one-line reason on stderr and exit code 2, never a panic.
#[test]
fn bad_flags_exit_2_with_a_message() {
    for args in [
        &["--shutdown-timeout", "soon"][..],
        &["--header-timeout", "-1s"][..],
        &["--idle-timeout", "forever"][..],
        &["--header-timeout", "0s"][..],
        &["--idle-timeout", "0ms"][..],
        &["--addr", "localhost"][..],
        &["--no-such-flag"][..],
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("error:"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    let help = Command::new(BIN).arg("--help").output().unwrap();
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        [
            "--shutdown-timeout",
            "--header-timeout",
            "--idle-timeout",
            "--tokio-dump",
            "127.0.0.1:8002"
        ]
        .iter()
        .all(|flag| help.contains(flag)),
        "{help}"
    );
}

/// An address that is already taken: a clear message and exit code 1.
#[test]
fn a_taken_address_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Command::new(BIN).args(["--addr", &addr]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
}
