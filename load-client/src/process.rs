//! A server binary as a child process: started on `127.0.0.1:0`, its address read from
//! the `listening on http://ADDR` line it prints, its RSS read from `/proc`, stopped with
//! SIGTERM. For the soak and for tests that need the server's process to be its own (its
//! memory, its file-descriptor limit).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use reqwest::Url;

use crate::Error;

/// The server process: started with `--addr 127.0.0.1:0`, its address read from the
/// line it prints; killed if dropped while still running.
pub struct ServerProcess {
    child: Child,
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    /// Every stderr line after the listening one.
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl ServerProcess {
    pub fn start(command: &[String]) -> Result<ServerProcess, Error> {
        let (program, args) = command
            .split_first()
            .ok_or_else(|| Error::Usage("soak: no server command given".into()))?;
        let mut child = Command::new(program)
            .args(args)
            .args(["--addr", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::Io(format!("cannot start {program}: {e}")))?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&lines);
        // Reads the server's stderr until it exits: the listening line, then the rest.
        let reader = std::thread::spawn(move || {
            let mut addr_tx = Some(addr_tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(tx) = &addr_tx
                    && let Some(addr) = listening_addr(&line)
                {
                    let _ = tx.send(addr);
                    addr_tx = None;
                    continue;
                }
                kept.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(line);
            }
        });
        let mut server = ServerProcess {
            child,
            addr: ([127, 0, 0, 1], 0).into(),
            lines,
            reader: Some(reader),
        };
        match addr_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => server.addr = addr,
            Err(_) => {
                let _ = server.child.kill();
                let _ = server.child.wait();
                let said = server.last_line();
                return Err(Error::Io(format!(
                    "{program} did not say where it listens within 30 s{}",
                    if said.is_empty() {
                        String::new()
                    } else {
                        format!(": {said}")
                    }
                )));
            }
        }
        Ok(server)
    }

    pub fn url(&self, path: &str) -> Url {
        Url::parse(&format!("http://{}{path}", self.addr)).expect("a valid URL")
    }

    pub fn rss(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }

    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub fn last_line(&self) -> String {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last()
            .cloned()
            .unwrap_or_default()
    }

    /// SIGTERM, then wait (at most `within`) for it to exit. Its exit status, or why not.
    pub fn terminate(&mut self, within: Duration) -> Result<std::process::ExitStatus, String> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.exited() {
                if let Some(reader) = self.reader.take() {
                    let _ = reader.join();
                }
                return Ok(status);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(format!("did not exit within {within:?} of SIGTERM"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `... listening on http://127.0.0.1:PORT ...` → the address.
pub fn listening_addr(line: &str) -> Option<std::net::SocketAddr> {
    let rest = line.split("listening on http://").nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

impl ServerProcess {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Every line the server printed on stderr after its listening line.
    pub fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
