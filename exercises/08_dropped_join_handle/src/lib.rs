//! # Exercise 8: a dropped `JoinHandle`
//!
//! **Goal:** make sure tasks you start are stopped when you stop caring about them.
//!
//! `all_up` probes every host at once and answers how many are up, or the first host
//! found down. It awaits the probes' handles in order, and returns early at the first
//! error. Some hosts never answer a probe.
//!
//! Run `cargo run -p exercises -- check 8`. Returning early drops the other
//! `JoinHandle`s, and dropping a tokio `JoinHandle` *detaches* its task: it goes on.
//! Make the early return stop the probes still running (the TODO).

use std::time::Duration;

// SIMULATION (don't change it: the test relies on it)
/// A host to probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// Answers after this many milliseconds.
    Up(u64),
    /// Answers "down" at once.
    Down,
    /// Never answers.
    Silent,
}

/// The first host found down (its index).
#[derive(Debug, PartialEq, Eq)]
pub struct Down(pub usize);

/// Probes one host (a simulation of the network: don't change it).
async fn probe(index: usize, host: Host) -> Result<(), Down> {
    match host {
        Host::Up(ms) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(())
        }
        Host::Down => Err(Down(index)),
        Host::Silent => std::future::pending().await,
    }
}
// END SIMULATION

/// How many hosts are up, or the first one (in order) that is down.
pub async fn all_up(hosts: &[Host]) -> Result<usize, Down> {
    let probes: Vec<_> = hosts
        .iter()
        .enumerate()
        .map(|(i, &host)| tokio::spawn(probe(i, host)))
        .collect();
    let mut up = 0;
    // TODO: `?` returns early and drops the remaining handles; their tasks go on.
    for probe in probes {
        probe.await.expect("probes do not panic")?;
        up += 1;
    }
    Ok(up)
}
