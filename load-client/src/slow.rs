//! `load-client slow URL`: clients that never finish a request (scenario L7).
//!
//! Opens `--clients` connections to the server: half send half a request head and then
//! nothing, half send one whole request on a keep-alive connection, read the answer, and
//! then sit idle. It reads `/_count` before, again after holding them open for `--hold`
//! (past the server's header and idle deadlines, if it has any), and once more after
//! closing them. A server without deadlines keeps one task (and one file descriptor) per
//! client for as long as the clients like; one with deadlines is back to its count.
//!
//! The clients are plain blocking sockets on a thread of their own, not tasks: nothing
//! here runs on the server's runtime or adds to its count but the connections themselves.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde::Serialize;

use crate::Error;
use crate::count::Counter;

/// Most slow clients one run opens.
pub const MAX_CLIENTS: usize = 10_000;

/// What a slow-clients run saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SlowFigures {
    /// Slow clients opened.
    pub clients: usize,
    /// Live tasks before they connected.
    pub tasks_before: usize,
    /// Live tasks right after they connected.
    pub tasks_connected: usize,
    /// Live tasks after holding them open for the hold time.
    pub tasks_held: usize,
    /// Of the clients, how many the server had closed by then.
    pub closed_by_server: usize,
    /// Hold time, in milliseconds.
    pub hold_ms: u64,
}

impl SlowFigures {
    /// Tasks still held per slow client.
    pub fn per_client(&self) -> f64 {
        self.tasks_held.saturating_sub(self.tasks_before) as f64 / self.clients.max(1) as f64
    }

    /// Whether the server held tasks for the slow clients.
    pub fn leaked(&self) -> bool {
        self.tasks_held > self.tasks_before
    }

    /// `LEAK, 1.00 per connection` or `no leak`.
    pub fn verdict(&self) -> String {
        if self.leaked() {
            format!("LEAK, {:.2} per connection", self.per_client())
        } else {
            "no leak".into()
        }
    }
}

/// The address `host:port` of an `http://` URL.
pub fn socket_addr(url: &reqwest::Url) -> Result<SocketAddr, Error> {
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(80);
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| Error::Usage(format!("cannot resolve {host}:{port}")))
}

/// Opens `clients` slow connections to `addr` (see the module docs).
pub fn open(addr: SocketAddr, clients: usize) -> Result<Vec<TcpStream>, Error> {
    let mut streams = Vec::with_capacity(clients);
    for i in 0..clients {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .map_err(|e| Error::Unreachable(format!("cannot connect to {addr}: {e}")))?;
        if i % 2 == 0 {
            // Half a request head: the blank line that would end it never comes.
            let _ = stream.write_all(b"GET /_count HTTP/1.1\r\nHost: slow\r\n");
        } else {
            // One whole request, its answer read, then nothing on the open connection.
            let _ = stream.write_all(b"GET /_count HTTP/1.1\r\nHost: slow\r\n\r\n");
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = stream.read(&mut [0u8; 512]);
        }
        streams.push(stream);
    }
    Ok(streams)
}

/// How many of `streams` the server has closed (a read sees the end, or a reset).
pub fn closed_by_server(streams: &mut [TcpStream]) -> usize {
    let mut closed = 0;
    for stream in streams.iter_mut() {
        let _ = stream.set_nonblocking(true);
        closed += usize::from(match stream.read(&mut [0u8; 64]) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
        });
        let _ = stream.set_nonblocking(false);
    }
    closed
}

/// Opens `clients` slow clients to `addr`, holds them for `hold`, and reads `counter`
/// before, once connected and after holding. The clients are closed when it returns.
pub async fn run(
    addr: SocketAddr,
    counter: &Counter,
    clients: usize,
    hold: Duration,
) -> Result<SlowFigures, Error> {
    let tasks_before = counter.read().await?;
    let mut streams = tokio::task::spawn_blocking(move || open(addr, clients))
        .await
        .map_err(|e| Error::Io(format!("slow clients failed: {e}")))??;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let tasks_connected = counter.read().await?;
    tokio::time::sleep(hold).await;
    let tasks_held = counter.read().await?;
    let closed = closed_by_server(&mut streams);
    drop(streams);
    Ok(SlowFigures {
        clients,
        tasks_before,
        tasks_connected,
        tasks_held,
        closed_by_server: closed,
        hold_ms: u64::try_from(hold.as_millis()).unwrap_or(u64::MAX),
    })
}
