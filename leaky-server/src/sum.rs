//! `GET /sum` — the blog's first leak: "writing into a channel without a receiver".
//!
//! The Go handler starts two goroutines, one per half of `[7, 2, 8, -9, 4, 0]`, each
//! sending its sum on its own unbuffered channel, then reads only `c1`. The goroutine
//! sending on `c2` waits for a receiver forever.
//!
//! # Why a literal port does not leak
//!
//! Port it with tokio's channels and nothing leaks: a tokio channel has two ends, the
//! handler owns the receiving ends, and when the handler returns they are dropped, so the
//! pending send fails at once and its task ends. (`tests/literal_port.rs` proves it.)
//!
//! # How this one leaks: LEAK(L1)
//!
//! A Go `chan` is *one* value that both sides use. This handler keeps that shape: a
//! [`GoChan`] holds both ends, and sends wait until the value is taken, like Go's unbuffered
//! channel. Both channels live in the request's [`SumJob`], which the handler and both
//! sum tasks share through an `Arc`.
//!
//! The handler reads `c1` and returns. The task summing the second half is waiting inside
//! `c2.send()` for a receiver, and that receiver is alive: it is in the `SumJob`, and the
//! waiting task itself holds the last `Arc` to the job. A cycle nobody breaks: the task
//! keeps the receiver alive, the receiver keeps the task waiting. One task per request.

use std::sync::Arc;

use tokio::sync::{Mutex, mpsc};

use crate::nums::{self, BadRequest, Nums};

/// Go's `chan i128`: both ends in one value, and a send that waits until it is received.
pub struct GoChan<T> {
    tx: mpsc::Sender<T>,
    rx: Mutex<mpsc::Receiver<T>>,
}

impl<T> GoChan<T> {
    /// `make(chan T)`.
    pub fn new() -> Self {
        // tokio has no zero-capacity channel; capacity 1 plus the wait in `send` below
        // behaves like Go's unbuffered channel.
        let (tx, rx) = mpsc::channel(1);
        GoChan {
            tx,
            rx: Mutex::new(rx),
        }
    }

    /// `c <- value`: returns once a receiver has taken the value.
    pub async fn send(&self, value: T) {
        // Both calls only fail once the receiver is dropped, which the `GoChan` itself
        // prevents: it owns the receiver.
        if self.tx.send(value).await.is_ok() {
            // The slot frees up when the value is taken: wait for that, like Go does.
            let _ = self.tx.reserve().await;
        }
    }

    /// `<-c`.
    pub async fn recv(&self) -> Option<T> {
        self.rx.lock().await.recv().await
    }
}

impl<T> Default for GoChan<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Everything one `/sum` request needs, shared by the handler and both sum tasks.
struct SumJob {
    first: Vec<i64>,
    second: Vec<i64>,
    /// The first half's result. Read by the handler.
    c1: GoChan<i128>,
    /// LEAK(L1): the second half's result. Nobody reads it, and its receiver lives as long
    /// as this job, which the task blocked sending on it keeps alive.
    c2: GoChan<i128>,
}

/// Which half a sum task adds up.
#[derive(Clone, Copy)]
enum Half {
    First,
    Second,
}

/// `func sum(s []int, c chan int)`: adds up one half and sends the result.
async fn sum(job: Arc<SumJob>, half: Half) {
    let (nums, c) = match half {
        Half::First => (&job.first, &job.c1),
        Half::Second => (&job.second, &job.c2),
    };
    let sum = nums::partial_sum(nums);
    // `c <- sum`. For the second half this never returns.
    c.send(sum).await;
}

/// `GET /sum?nums=...`: answers the sum of the *first half* only, like the blog's handler
/// (`17` for the blog's numbers).
pub async fn handler(nums: Nums) -> Result<String, BadRequest> {
    let (first, second) = nums.halves();
    let job = Arc::new(SumJob {
        first,
        second,
        c1: GoChan::new(),
        c2: GoChan::new(),
    });

    // go sum(s[:len(s)/2], c1)
    tokio::spawn(sum(Arc::clone(&job), Half::First));
    // LEAK(L1): go sum(s[len(s)/2:], c2) — this task's send is never received.
    tokio::spawn(sum(Arc::clone(&job), Half::Second));

    // x := <-c1. The job owns c1's sender, so `recv` cannot see a closed channel here.
    let x = job.c1.recv().await.unwrap_or_default();
    Ok(nums::answer(x)?.to_string())
}
