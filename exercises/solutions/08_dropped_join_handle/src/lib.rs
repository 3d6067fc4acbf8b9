//! # Exercise 8: a dropped `JoinHandle` — solution
//!
//! Each probe's handle is wrapped in an `AbortOnDropHandle`: the early return drops the
//! vector, which aborts every probe still running. (A `JoinSet` aborts its tasks on drop
//! too, but hands results back in completion order; here the order matters.)

use std::time::Duration;

use tokio_util::task::AbortOnDropHandle;

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
        .map(|(i, &host)| AbortOnDropHandle::new(tokio::spawn(probe(i, host))))
        .collect();
    let mut up = 0;
    // An early return drops `probes`, which aborts the probes still running.
    for probe in probes {
        probe.await.expect("probes do not panic")?;
        up += 1;
    }
    Ok(up)
}
