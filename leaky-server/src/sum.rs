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
//! A Go `chan` is *one* value that both sides use, and nothing closes it when one side
//! goes away. This handler keeps that shape: a [`GoChan`] holds both ends, and a send
//! waits until the value is taken, like Go's unbuffered channel. Both channels live in
//! the request's [`SumJob`], which the handler and both sum tasks share through an `Arc`.
//!
//! The handler reads `c1` and returns. The task summing the second half is waiting inside
//! `c2.send()` for a receiver that will never come, and nothing can tell it so: the
//! channel has no "closed" state, and the waiting task itself holds the last `Arc` to the
//! job and its channel. One task per request.

use std::sync::Arc;

use tokio::sync::Notify;

use crate::nums::{self, BadRequest, Nums};
use leak_probe::TraceExt as _;

// ANCHOR: go_chan_struct
/// Go's `chan T`: one value for both ends, and a send that waits until it is received.
///
/// Built on a slot and a [`Notify`] rather than on a tokio channel: a tokio channel
/// *closes* when one end is dropped, and Go's channels never do. A `Notify` has no
/// "other side is gone" state either, so a sender nobody receives from waits for ever,
/// exactly as in Go.
pub struct GoChan<T> {
    state: std::sync::Mutex<Slot<T>>,
    /// Notified (all waiters) whenever the slot changes; each waiter looks again.
    changed: Notify,
}
// ANCHOR_END: go_chan_struct

struct Slot<T> {
    value: Option<T>,
    /// How many values were received so far.
    received: u64,
}

impl<T> GoChan<T> {
    /// `make(chan T)`.
    pub fn new() -> Self {
        GoChan {
            state: std::sync::Mutex::new(Slot {
                value: None,
                received: 0,
            }),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slot<T>> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `c <- value`: returns once a receiver has taken the value.
    pub async fn send(&self, value: T) {
        // First wait for the slot to be free, then wait for our value to be taken. Each
        // wait's `Notified` is created *before* looking at the slot: `notify_waiters`
        // wakes it even though it is not polled yet, so no wake-up slips in between.
        let mut value = Some(value);
        let mut ticket = 0;
        loop {
            let changed = self.changed.notified();
            {
                let mut slot = self.lock();
                if let Some(v) = value.take() {
                    if slot.value.is_none() {
                        slot.value = Some(v);
                        ticket = slot.received + 1;
                        self.changed.notify_waiters();
                    } else {
                        value = Some(v);
                    }
                } else if slot.received >= ticket {
                    return;
                }
            }
            changed.await;
        }
    }

    /// `<-c`.
    pub async fn recv(&self) -> T {
        loop {
            let changed = self.changed.notified();
            {
                let mut slot = self.lock();
                if let Some(value) = slot.value.take() {
                    slot.received += 1;
                    self.changed.notify_waiters();
                    return value;
                }
            }
            changed.await;
        }
    }
}

impl<T> Default for GoChan<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Everything one `/sum` request needs, shared by the handler and both sum tasks.
struct SumJob {
    /// The numbers; the first half is `nums[..split]`.
    nums: Vec<i64>,
    split: usize,
    /// The first half's result. Read by the handler.
    c1: GoChan<Option<i64>>,
    /// LEAK(L1): the second half's result. Nobody ever reads it, and a `GoChan` never
    /// closes, so the task sending on it waits for ever (holding this job alive, too).
    c2: GoChan<Option<i64>>,
}

/// Which half a sum task adds up.
#[derive(Clone, Copy)]
enum Half {
    First,
    Second,
}

impl SumJob {
    /// One half of the numbers, and the channel its sum goes to.
    fn half(&self, half: Half) -> (&[i64], &GoChan<Option<i64>>) {
        match half {
            Half::First => (&self.nums[..self.split], &self.c1),
            Half::Second => (&self.nums[self.split..], &self.c2),
        }
    }
}

// ANCHOR: sum_task
/// `func sum(s []int, c chan int)`: adds up one half and sends the result (`None` if
/// it does not fit in an `i64`).
async fn sum(job: Arc<SumJob>, half: Half) {
    let sum = i64::try_from(nums::partial_sum(job.half(half).0)).ok();
    // `c <- sum`. For the second half this never returns.
    job.half(half).1.send(sum).traced().await;
}
// ANCHOR_END: sum_task

// ANCHOR: sum_handler
/// `GET /sum?nums=...`: answers the sum of the *first half* only, like the blog's handler
/// (`17` for the blog's numbers).
pub async fn handler(nums: Nums) -> Result<String, BadRequest> {
    let split = nums.0.len() / 2;
    let job = Arc::new(SumJob {
        nums: nums.0,
        split,
        c1: GoChan::new(),
        c2: GoChan::new(),
    });

    // go sum(s[:len(s)/2], c1)
    tokio::spawn(sum(Arc::clone(&job), Half::First));
    // LEAK(L1): go sum(s[len(s)/2:], c2) — this task's send is never received.
    tokio::spawn(sum(Arc::clone(&job), Half::Second));

    // x := <-c1
    let x = job.c1.recv().traced().await;
    let x = x.ok_or_else(|| BadRequest("the sum is out of range for a 64-bit integer".into()))?;
    Ok(x.to_string())
}
// ANCHOR_END: sum_handler

#[cfg(test)]
mod tests {
    use super::GoChan;
    use std::sync::Arc;
    use std::time::Duration;

    /// Like Go's unbuffered channel: a send returns only once its value is received, and
    /// values from several senders all arrive.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn go_chan_is_a_rendezvous() {
        let c = Arc::new(GoChan::new());
        let sender = tokio::spawn({
            let c = Arc::clone(&c);
            async move { c.send(1).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!sender.is_finished(), "a send waits for a receiver");
        assert_eq!(c.recv().await, 1);
        sender.await.unwrap();

        let senders: Vec<_> = (0..10)
            .map(|i| {
                let c = Arc::clone(&c);
                tokio::spawn(async move { c.send(i).await })
            })
            .collect();
        let mut got: Vec<i32> = Vec::new();
        for _ in 0..10 {
            got.push(c.recv().await);
        }
        got.sort_unstable();
        assert_eq!(got, (0..10).collect::<Vec<_>>());
        for s in senders {
            s.await.unwrap();
        }
    }
}
