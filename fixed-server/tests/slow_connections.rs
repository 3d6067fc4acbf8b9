//! Connections that never finish a request (L7): 200 clients, half of them sending half a
//! request head, half finishing one request and then sitting idle on the keep-alive
//! connection. leaky-server keeps one task (and one socket) per connection for as long
//! as the clients like; fixed-server, with `--header-timeout 1s --idle-timeout 1s`, closes
//! every one of them and is back to its baseline within 4 s, serving meanwhile.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use scenarios::{Server, Tag};
use tokio::runtime::Runtime;

/// Slow clients per test.
const CLIENTS: usize = 200;

/// `server` on `127.0.0.1:0`, on a runtime of its own (so its count is its own);
/// fixed-server with both deadlines at 1 s.
fn start(server: Server) -> (SocketAddr, Runtime) {
    let one = Duration::from_secs(1);
    start_with(server, one, one)
}

/// [`start`], with fixed-server's header and idle deadlines.
fn start_with(server: Server, header: Duration, idle: Duration) -> (SocketAddr, Runtime) {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(2);
    let runtime = leak_probe::runtime::build(builder).unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let never = std::future::pending::<()>();
    match server {
        Server::Leaky => drop(runtime.spawn(leaky_server::serve(listener, never))),
        Server::Fixed => {
            let config = fixed_server::Config {
                deadlines: fixed_server::conn::Deadlines { header, idle },
                ..Default::default()
            };
            drop(runtime.spawn(fixed_server::serve_with(listener, never, config)));
        }
    }
    (addr, runtime)
}

fn live(runtime: &Runtime) -> usize {
    runtime.handle().metrics().num_alive_tasks()
}

/// Waits until the count has not moved for 200 ms; returns it.
fn settled(runtime: &Runtime) -> usize {
    let (mut last, mut since) = (live(runtime), Instant::now());
    let deadline = Instant::now() + Duration::from_secs(5);
    while since.elapsed() < Duration::from_millis(200) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        let now = live(runtime);
        if now != last {
            (last, since) = (now, Instant::now());
        }
    }
    last
}

/// One request on a fresh connection, closed after the answer: `(status, body)`.
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned());
    (status, body.unwrap_or_default())
}

/// Opens the slow clients: half send half a request head; half send a whole request on
/// a keep-alive connection, read its answer, and then send nothing.
fn open_slow_clients(addr: SocketAddr) -> Vec<TcpStream> {
    (0..CLIENTS)
        .map(|i| {
            if i % 2 == 1 {
                return answered_keep_alive(addr);
            }
            let mut stream = TcpStream::connect(addr).unwrap();
            stream
                .write_all(b"GET /_count HTTP/1.1\r\nHost: t\r\n")
                .unwrap();
            stream
        })
        .collect()
}

/// A keep-alive connection that sent one whole request and read its answer.
fn answered_keep_alive(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .write_all(b"GET /_count HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answer = [0u8; 512];
    let n = stream.read(&mut answer).unwrap();
    assert!(
        answer[..n].starts_with(b"HTTP/1.1 200"),
        "a keep-alive answer"
    );
    stream
}

/// Whether the server closed `stream` (a read sees the end), within `wait`.
fn closed_by_server(stream: &mut TcpStream, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => panic!("nothing more was asked for"),
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

/// leaky-server: one task per slow client, for as long as the clients stay; they end
/// only when the clients go.
#[test]
fn leaky_server_keeps_a_task_per_slow_connection() {
    let (addr, runtime) = start(Server::Leaky);
    assert_eq!(get(addr, "/_count").0, 200);
    let baseline = settled(&runtime);
    let mut clients = open_slow_clients(addr);
    assert_eq!(
        settled(&runtime),
        baseline + CLIENTS,
        "one task per connection"
    );
    // Still there 3 s later: nothing ever times them out.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        live(&runtime),
        baseline + CLIENTS,
        "still one task per connection"
    );
    for client in &mut clients {
        assert!(
            !closed_by_server(client, Duration::from_millis(1)),
            "still open"
        );
    }
    // They were the connections' tasks: gone when the clients hang up.
    drop(clients);
    assert_eq!(settled(&runtime), baseline);
    runtime.shutdown_timeout(Duration::from_secs(1));
}

/// fixed-server: every slow client is disconnected at its deadline, the count is back to
/// its baseline within 4 s, and the server answers while they hang on.
#[test]
fn fixed_server_closes_slow_connections_at_their_deadlines() {
    let (addr, runtime) = start(Server::Fixed);
    assert_eq!(get(addr, "/_count").0, 200);
    let baseline = settled(&runtime);
    let opened = Instant::now();
    let mut clients = open_slow_clients(addr);
    assert!(
        live(&runtime) >= baseline + CLIENTS / 2,
        "the clients are connected"
    );
    // Served meanwhile.
    assert_eq!(get(addr, Tag::L1.route()), (200, "12".into()));
    while live(&runtime) > baseline && opened.elapsed() < Duration::from_secs(4) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let back = opened.elapsed();
    assert_eq!(
        live(&runtime),
        baseline,
        "back to baseline within 4 s ({back:?})"
    );
    for client in &mut clients {
        assert!(
            closed_by_server(client, Duration::from_secs(1)),
            "the server closed the connection"
        );
    }
    runtime.shutdown_timeout(Duration::from_secs(1));
}

/// A connection idle after a request that then sends half a head is held to the header
/// deadline from that first byte (1 s here), not to what was left of the idle one (6 s).
#[test]
fn a_head_begun_on_an_idle_connection_has_the_header_deadline() {
    let (header, idle) = (Duration::from_secs(1), Duration::from_secs(6));
    let (addr, runtime) = start_with(Server::Fixed, header, idle);
    let mut stream = answered_keep_alive(addr);
    // Idle past the watchdog's first look (1 s after accept), then half of the next head.
    std::thread::sleep(Duration::from_millis(1500));
    stream
        .write_all(b"GET /_count HTTP/1.1\r\nHost: t\r\n")
        .unwrap();
    let begun = Instant::now();
    assert!(
        closed_by_server(&mut stream, Duration::from_secs(5)),
        "closed within 5 s of the head's first byte"
    );
    let closed = begun.elapsed();
    assert!(
        closed >= header - Duration::from_millis(100)
            && closed < header + Duration::from_millis(400),
        "closed {closed:?} after the head began: its deadline is {header:?}, the idle one {idle:?}"
    );
    runtime.shutdown_timeout(Duration::from_secs(1));
}

/// With an idle deadline shorter than the header one, a connection that finished a quick
/// request is closed at the idle deadline (1 s), not when the head's would have passed (5 s).
#[test]
fn an_idle_deadline_shorter_than_the_header_one_is_kept() {
    let (header, idle) = (Duration::from_secs(5), Duration::from_secs(1));
    let (addr, runtime) = start_with(Server::Fixed, header, idle);
    let mut stream = answered_keep_alive(addr);
    let answered = Instant::now();
    assert!(
        closed_by_server(&mut stream, Duration::from_secs(6)),
        "closed within 6 s"
    );
    let closed = answered.elapsed();
    assert!(
        closed >= idle - Duration::from_millis(100) && closed < idle + Duration::from_millis(400),
        "closed {closed:?} after the answer: the idle deadline is {idle:?}, the header one {header:?}"
    );
    runtime.shutdown_timeout(Duration::from_secs(1));
}
